"""The gateway's services, opened once per app from :class:`Settings`.

Everything a connection needs hangs off one :class:`Gateway`: settings,
metrics, the connection registry, the broker (stream log and fan-out), the
emitter, the store, the run service and authentication::

    async with Gateway.open(settings) as gateway:
        ...                       # gateway.store is open; delivery starts or retries

:meth:`Gateway.drain` is the one place that ends runs and tells clients to
go; leaving the ``async with`` drains (if not done yet) and closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random
import time
from collections.abc import AsyncIterator, Iterable
from datetime import date

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agentsocket.delivery import Broker, BrokerUnavailable, MemoryBroker, RedisBroker, run_queue
from agentsocket.protocol import CloseCode, ServerMessage, Status, Version, get_version
from agentsocket.protocol import server_messages as s
from agentsocket.runs import AgentSet
from agentsocket.server.auth import (
    AuthSettings,
    MemoryTicketStore,
    RedisTicketStore,
    TicketStore,
    TokenVerifier,
)
from agentsocket.server.emitter import Emitter
from agentsocket.server.frames import FrameEncoder, VersionsOf
from agentsocket.server.metrics import Metrics
from agentsocket.server.ratelimit import TokenBucket
from agentsocket.server.registry import Registry
from agentsocket.server.runs import RunService
from agentsocket.server.settings import Settings
from agentsocket.store import Store

log = logging.getLogger("agentsocket.gateway")


class Gateway:
    """Services shared by every connection of one gateway process. Use :meth:`open`."""

    def __init__(
        self, settings: Settings, store: Store, agents: AgentSet | Iterable[object] = ()
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = Metrics()
        self.versions: dict[str, Version] = {
            name: get_version(name) for name in settings.enabled_versions
        }
        self.default_version = self.versions[settings.default_version]
        self._on_dropped = self._count_dropped
        self._on_invalid = self._count_invalid
        #: Dialects spoken on ``/ws`` besides the versions: AG-UI with the ``ag-ui`` extra.
        self.dialects: tuple[str, ...] = (
            ("ag-ui",) if importlib.util.find_spec("ag_ui") is not None else ()
        )
        self.registry = Registry(
            self._user_bucket,
            self._frame_encoder,
            # A bucket left alone this long is full again: dropping it then changes nothing.
            linger=settings.burst_per_user / settings.rate_per_user,
        )
        self.metrics.watch_outbound(lambda: (c.queued for c in self.registry))
        self.verifier = TokenVerifier(self._auth_settings())
        self._redis: Redis | None = None  # the ticket store's client, with broker=redis
        self.broker: Broker = self._broker()
        self.emitter = Emitter(self.broker, settings.server_id)
        self.tickets: TicketStore = self._tickets()
        self.runs = RunService(self, agents)
        self.shutting_down = False
        self._broker_started = False
        self._delivery_started = False
        self._starting: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: Settings, agents: AgentSet | Iterable[object] = ()
    ) -> AsyncIterator[Gateway]:
        """Open the store, then start delivery (retried in the background while Redis is down).

        Args:
            agents: the agent set, or agents given in code besides those the settings name.

        Raises:
            AgentSpecError: an agent cannot be loaded, or names clash.
        """
        gateway = cls(settings, await Store.open(settings.database_url), agents)
        try:
            try:
                await gateway._start_delivery()
            except BrokerUnavailable as exc:
                log.error("not ready: %s; retrying in the background", exc)
                gateway._starting = asyncio.create_task(
                    gateway._retry_delivery(), name="delivery-start"
                )
            yield gateway
        finally:
            await gateway.drain()
            await gateway._close()

    async def drain(self) -> None:
        """End local runs, tell every client to reconnect elsewhere, close with 1001.

        Idempotent. Local runs end first, so their ``agent_cancelled`` reaches
        the clients before the close.
        """
        if self.shutting_down:
            return
        self.shutting_down = True
        await self.runs.shutdown()
        settings = self.settings
        notice = s.ServerShutdown(reason="shutdown", reconnect_after=settings.reconnect_after)
        for connection in self.registry:
            connection.reply(notice)
            connection.close(CloseCode.GOING_AWAY, "server shutdown")
        deadline = time.monotonic() + settings.shutdown_grace
        # Sessions end on their own tasks; polling the registry is the simplest join.
        while len(self.registry) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

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

    async def _close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        await self.runs.shutdown()  # a no-op after drain(); here for a failed open
        await self.broker.close()
        await self.store.close()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def ready(self) -> bool:
        return self._delivery_started and self.broker.healthy and not self.shutting_down

    # --- messages ----------------------------------------------------------------------

    async def publish(
        self, user_id: str, message: ServerMessage, correlation_id: str | None = None
    ) -> int:
        """Append a stream message to the user's stream (the runs' ``Publish``); returns its seq."""
        return await self.emitter.publish(user_id, message, correlation_id)

    def sunset_of(self, version: Version) -> date | None:
        """When ``version`` will be refused: the operator's setting, else the registry's."""
        configured = self.settings.deprecated_versions.get(version.name)
        if configured is not None:
            return configured
        return version.sunset if version.status is Status.DEPRECATED else None

    def get_store(self) -> Store:
        return self.store

    # --- construction --------------------------------------------------------------

    def _user_bucket(self) -> TokenBucket:
        return TokenBucket(self.settings.rate_per_user, self.settings.burst_per_user)

    def _frame_encoder(self, versions: VersionsOf) -> FrameEncoder:
        # The counting callbacks are bound once and shared by every user's encoder.
        return FrameEncoder(
            versions,
            validate=self.settings.validate_outbound,
            on_dropped=self._on_dropped,
            on_invalid=self._on_invalid,
        )

    def _count_dropped(self, version: str, type_name: str) -> None:
        self.metrics.child(self.metrics.dropped, version, type_name).inc()

    def _count_invalid(self, version: str, type_name: str) -> None:
        self.metrics.child(self.metrics.invalid_outbound, version, type_name).inc()

    def _auth_settings(self) -> AuthSettings:
        s_ = self.settings
        return AuthSettings(
            secret=s_.jwt_secret.get_secret_value() if s_.jwt_secret else None,
            jwks_file=s_.jwks_file,
            jwks_url=s_.jwks_url,
            audience=s_.jwt_audience,
            issuer=s_.jwt_issuer,
            ticket_ttl_seconds=s_.ticket_ttl,
        )

    def _broker(self) -> Broker:
        s_ = self.settings
        if s_.broker == "redis":
            return RedisBroker(
                s_.redis_url,
                prefix=s_.redis_prefix,
                max_entries=s_.stream_max_entries,
                max_age_seconds=s_.stream_max_age,
            )
        return MemoryBroker(max_entries=s_.stream_max_entries, max_age_seconds=s_.stream_max_age)

    def _tickets(self) -> TicketStore:
        s_ = self.settings
        if s_.broker == "redis":
            self._redis = run_queue.connect(s_.redis_url)
            return RedisTicketStore(
                self._redis, prefix=f"{s_.redis_prefix}:ticket:", ttl_seconds=s_.ticket_ttl
            )
        return MemoryTicketStore(ttl_seconds=s_.ticket_ttl)
