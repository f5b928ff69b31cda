"""The gateway's services, built once per app from :class:`Settings`.

Everything a connection handler needs hangs off one :class:`Gateway`:
settings, metrics, the connection registry, the broker (stream log and
fan-out), the store, the run service and authentication.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from datetime import date

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agentsocket.delivery import Broker, BrokerUnavailable, MemoryBroker, RedisBroker, run_queue
from agentsocket.protocol import ServerMessage, Status, Version, get_version
from agentsocket.runs import stream_payload
from agentsocket.server.auth import (
    AuthSettings,
    MemoryTicketStore,
    RedisTicketStore,
    TicketStore,
    TokenVerifier,
)
from agentsocket.server.frames import FrameCache
from agentsocket.server.metrics import Metrics
from agentsocket.server.registry import Registry
from agentsocket.server.runs import RunService
from agentsocket.server.settings import Settings
from agentsocket.store import Store

log = logging.getLogger("agentsocket.gateway")


class Gateway:
    """Services shared by every connection of one gateway process."""

    def __init__(self, settings: Settings, agents: Iterable[object] = ()) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.registry = Registry()
        self.frames = FrameCache(self._versions_of)
        self.versions: dict[str, Version] = {
            name: get_version(name) for name in settings.enabled_versions
        }
        self.default_version = self.versions[settings.default_version]
        self.verifier = TokenVerifier(self._auth_settings())
        self._redis: Redis | None = None  # the ticket store's client, with broker=redis
        self.broker: Broker = self._broker()
        self.tickets: TicketStore = self._tickets()
        self.store: Store | None = None
        self.runs = RunService(self, agents)
        self.shutting_down = False
        self._broker_started = False
        self._delivery_started = False
        self._starting: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, then the broker and runs; stays not-ready while Redis is down."""
        self.store = await Store.open(self.settings.database_url)
        try:
            await self._start_delivery()
        except BrokerUnavailable as exc:
            log.error("not ready: %s; retrying in the background", exc)
            self._starting = asyncio.create_task(self._retry_delivery(), name="delivery-start")

    async def _start_delivery(self) -> None:
        if not self._broker_started:
            await self.broker.start()
            self._broker_started = True
        try:
            await self.runs.start()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"run queue unavailable: {exc}") from exc
        self._delivery_started = True
        log.info(
            "gateway ready",
            extra={"server_id": self.settings.server_id, "broker": self.settings.broker},
        )

    async def _retry_delivery(self) -> None:
        delay = 0.5
        while True:
            await asyncio.sleep(delay + random.uniform(0, delay))
            try:
                await self._start_delivery()
                return
            except BrokerUnavailable as exc:
                delay = min(delay * 2, 10.0)
                log.warning("still not ready: %s", exc)

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        await self.runs.shutdown()
        await self.broker.close()
        if self.store is not None:
            await self.store.close()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def ready(self) -> bool:
        return (
            self.store is not None
            and self._delivery_started
            and self.broker.healthy
            and not self.shutting_down
        )

    # --- messages ----------------------------------------------------------------------

    async def publish(
        self, user_id: str, message: ServerMessage, correlation_id: str | None = None
    ) -> int:
        """Append a stream message to the user's stream; every connection of theirs gets it.

        Returns:
            The message's seq.
        """
        payload = stream_payload(message, self.settings.server_id, correlation_id)
        entry = await self.broker.publish(user_id, payload)
        return entry.seq

    def sunset_of(self, version: Version) -> date | None:
        """When ``version`` will be refused: the operator's setting, else the registry's."""
        configured = self.settings.deprecated_versions.get(version.name)
        if configured is not None:
            return configured
        return version.sunset if version.status is Status.DEPRECATED else None

    def get_store(self) -> Store:
        if self.store is None:
            raise RuntimeError("the gateway is not started")
        return self.store

    # --- construction --------------------------------------------------------------

    def _versions_of(self, user_id: str) -> set[Version]:
        return {c.version for c in self.registry.connections_of(user_id)}

    def _auth_settings(self) -> AuthSettings:
        s = self.settings
        return AuthSettings(
            secret=s.jwt_secret.get_secret_value() if s.jwt_secret else None,
            jwks_file=s.jwks_file,
            jwks_url=s.jwks_url,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            ticket_ttl_seconds=s.ticket_ttl,
        )

    def _broker(self) -> Broker:
        s = self.settings
        if s.broker == "redis":
            return RedisBroker(
                s.redis_url,
                prefix=s.redis_prefix,
                max_entries=s.stream_max_entries,
                max_age_seconds=s.stream_max_age,
            )
        return MemoryBroker(max_entries=s.stream_max_entries, max_age_seconds=s.stream_max_age)

    def _tickets(self) -> TicketStore:
        s = self.settings
        if s.broker == "redis":
            self._redis = run_queue.connect(s.redis_url)
            return RedisTicketStore(
                self._redis, prefix=f"{s.redis_prefix}:ticket:", ttl_seconds=s.ticket_ttl
            )
        return MemoryTicketStore(ttl_seconds=s.ticket_ttl)
