"""``RedisBroker``: per-user stream logs in Redis, shared by many gateway nodes.

The log is a Redis Stream per user, written by one Lua script that assigns
the seq, appends, trims and publishes atomically (``_redis_lua``). Each node
holds one pub/sub connection (``_redis_pubsub``) and subscribes a user's
channel while it has subscribers of that user.

Faults: when Redis is lost, ``healthy`` turns false, open subscriptions wait,
and a supervisor task reconnects with exponential backoff and jitter. Once
back, it resubscribes every channel and tells every subscription to catch up
from the log (entries published meanwhile, or a ``Gap``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn, Self
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.connection import BlockingConnectionPool, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from agentsocket.aio import cancel_and_wait
from agentsocket.delivery._redis_lua import PUBLISH, READ, stream_keys
from agentsocket.delivery._redis_pubsub import PubSubSession
from agentsocket.delivery.errors import BrokerNotRunning, BrokerUnavailable
from agentsocket.delivery.subscription import LogRead, Subscription
from agentsocket.delivery.types import Entry, Position

logger = logging.getLogger("agentsocket.delivery")

# What "Redis is not reachable" looks like from redis-py and asyncio.
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

#: Largest seq a read may start after: the script adds 1 and must stay exact.
_MAX_SEQ = 2**53 - 2


class _Channel:
    """The subscriptions of one user on this node, and their pub/sub channel."""

    __slots__ = ("name", "ready", "subscriptions")

    def __init__(self, name: bytes, ready: asyncio.Future[Any]) -> None:
        self.name = name
        self.ready = ready  # resolves once Redis confirmed the SUBSCRIBE
        self.subscriptions: set[Subscription] = set()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _new_epoch() -> str:
    return uuid.uuid4().hex[:16]


class RedisBroker:
    """A ``Broker`` backed by Redis, for several gateway nodes behind a load balancer.

    Args:
        url: Redis URL (``redis://``, ``rediss://`` or ``unix://``), RESP2.
        prefix: first part of every key and channel name.
        max_entries: entries kept per user stream (trimmed exactly on publish).
        max_age_seconds: entries older than this are dropped; ``None`` keeps
            them until ``max_entries`` pushes them out. Ages use the gateway
            nodes' wall clocks, so keep them in sync (NTP). A user's keys
            (log and stream state) expire this long after the last publish,
            so an idle user's next use starts a new epoch.
        buffer_size: live entries a subscription holds before it stops
            buffering and catches up from the log instead.
        batch_size: entries a subscription reads from the log at a time.
        client_name: Redis ``CLIENT SETNAME`` of this node's connections
            (the pub/sub one gets ``-pubsub`` appended); random by default.
        socket_timeout: seconds before a Redis command counts as failed.
        max_connections: command connections per node; more concurrent
            commands wait (up to ``socket_timeout``) for a free one.
        ping_interval: a quiet pub/sub connection is pinged this often and
            considered dead when a ping stays unanswered for as long again.
        reconnect_delay: (first, maximum) seconds between reconnect attempts;
            each wait doubles up to the maximum, with jitter.
        clock: wall clock in seconds, for the age of entries.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "agentsocket",
        max_entries: int = 1000,
        max_age_seconds: float | None = 600.0,
        buffer_size: int = 256,
        batch_size: int = 100,
        client_name: str | None = None,
        socket_timeout: float = 5.0,
        max_connections: int = 50,
        ping_interval: float = 5.0,
        reconnect_delay: tuple[float, float] = (0.1, 10.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        if max_age_seconds is not None and max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be > 0 or None")
        if not 0 < reconnect_delay[0] <= reconnect_delay[1]:
            raise ValueError("reconnect_delay must be (first, maximum) with 0 < first <= maximum")
        self._url = url
        self._prefix = prefix
        self._max_entries = max_entries
        self._max_age_ms = 0 if max_age_seconds is None else max(1, round(max_age_seconds * 1000))
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        self._client_name = client_name or f"agentsocket-{uuid.uuid4().hex[:8]}"
        self._socket_timeout = socket_timeout
        self._max_connections = max_connections
        self._ping_interval = ping_interval
        self._reconnect_delay = reconnect_delay
        self._clock = clock
        self._redis: Redis | None = None
        self._session: PubSubSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._channels: dict[str, _Channel] = {}
        self._by_name: dict[bytes, _Channel] = {}
        self._healthy = False
        self._running = False
        self._closed = False

    @property
    def healthy(self) -> bool:
        """True while connected to Redis (false before start, during an outage, after close)."""
        return self._healthy

    @property
    def client_name(self) -> str:
        """The ``CLIENT SETNAME`` of this node's Redis connections."""
        return self._client_name

    async def start(self) -> None:
        """Connect to Redis and start the supervisor.

        Raises:
            BrokerUnavailable: Redis did not answer; nothing is left running.
            BrokerNotRunning: the broker was already started or closed.
        """
        if self._running or self._closed:
            raise BrokerNotRunning("start() may be called once, before close()")
        pool = BlockingConnectionPool.from_url(
            self._url,
            # Concurrent commands beyond the pool wait for a connection.
            max_connections=self._max_connections,
            timeout=self._socket_timeout,
            client_name=self._client_name,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            socket_keepalive=True,
            # A retried script could append the same payload twice. The asyncio Retry:
            # redis-py converts a synchronous one with a warning on every pool.
            retry=Retry(NoBackoff(), 0),
            # While enabled ("auto" by default), redis-py skips its check for
            # pooled connections the server has closed.
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
        )
        self._redis = Redis(connection_pool=pool)
        self._publish_script = self._redis.register_script(PUBLISH)
        self._read_script = self._redis.register_script(READ)
        try:
            await self._redis.ping()
            session = await self._open_session()
        except _OUTAGE_ERRORS as exc:
            await self._redis.aclose(close_connection_pool=True)
            self._redis = None
            raise BrokerUnavailable(f"Redis at {_redact(self._url)} is unreachable: {exc}") from exc
        self._session = session
        self._running = self._healthy = True
        self._supervisor = asyncio.create_task(
            self._supervise(session), name="agentsocket-redis-supervisor"
        )
        logger.info("delivery broker connected to Redis at %s", _redact(self._url))

    async def close(self) -> None:
        """End every subscription, stop reconnecting, close all connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._running = self._healthy = False
        if self._supervisor is not None:
            await cancel_and_wait(self._supervisor)
        if self._session is not None:
            await self._session.close()
            self._session = None
        for channel in self._channels.values():
            for subscription in channel.subscriptions:
                subscription._end()
        self._channels.clear()
        self._by_name.clear()
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def publish(self, user_id: str, payload: bytes) -> Entry:
        """Append ``payload`` under the next seq and publish it to every node; see ``Broker``."""
        meta, log, channel = stream_keys(self._prefix, user_id)
        args = [payload, _new_epoch(), self._max_entries, self._now_ms(), self._max_age_ms, channel]
        reply = await self._call(self._publish_script, [meta, log], args)
        return Entry(int(reply[1]), payload)

    async def position(self, user_id: str) -> Position:
        """The stream's epoch and newest seq (creating the stream's epoch if new)."""
        head = await self.read(user_id, 0, 0)
        return Position(head.epoch, head.last_seq)

    async def subscribe(self, user_id: str, resume_from: Position | None = None) -> Subscription:
        """Deliver the user's stream from ``resume_from`` (or from now); see ``Broker``.

        Raises:
            BrokerUnavailable: Redis is unreachable right now.
        """
        session = self._require_session()
        subscription = Subscription(
            self, user_id, buffer_size=self._buffer_size, batch_size=self._batch_size
        )
        channel = self._channels.get(user_id)
        if channel is None:
            name = stream_keys(self._prefix, user_id)[2].encode()
            channel = _Channel(name, session.subscribe([name]))
            self._channels[user_id] = self._by_name[name] = channel
        channel.subscriptions.add(subscription)
        try:
            # Live first, then the log: nothing published in between is missed.
            await asyncio.wait_for(asyncio.shield(channel.ready), self._socket_timeout)
            await subscription._start(resume_from)
        except BaseException as exc:
            await self.detach(subscription)
            if isinstance(exc, asyncio.TimeoutError):
                raise BrokerUnavailable("Redis did not confirm SUBSCRIBE in time") from exc
            raise
        return subscription

    async def read(self, user_id: str, after_seq: int, limit: int) -> LogRead:
        """Low-level log read: up to ``limit`` retained entries with ``seq > after_seq``."""
        meta, log, _ = stream_keys(self._prefix, user_id)
        # Lua numbers are doubles: past 2**53 the script cannot write the stream id
        # (a resume from seq 10**23 failed as a ResponseError). No stream gets there,
        # so reading from the bound returns what reading from further on would: nothing.
        after_seq = max(0, min(after_seq, _MAX_SEQ))
        args = [after_seq, limit, self._now_ms(), self._max_age_ms, _new_epoch()]
        reply = await self._call(self._read_script, [meta, log], args)
        entries = [Entry(int(reply[i]), reply[i + 1]) for i in range(2, len(reply), 2)]
        return LogRead(reply[0].decode(), int(reply[1]), entries)

    async def detach(self, subscription: Subscription) -> None:
        """Stop feeding ``subscription``; called by ``Subscription.close()``."""
        channel = self._channels.get(subscription.user_id)
        if channel is None or subscription not in channel.subscriptions:
            return
        channel.subscriptions.discard(subscription)
        if channel.subscriptions:
            return
        del self._channels[subscription.user_id]
        del self._by_name[channel.name]
        if self._session is not None and self._healthy:
            self._session.unsubscribe([channel.name])

    # -- internals ------------------------------------------------------------

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    def _require_session(self) -> PubSubSession:
        if not self._running:
            raise BrokerNotRunning("call start() before using the broker")
        if self._session is None or not self._healthy:
            raise BrokerUnavailable("Redis is unreachable; the broker is reconnecting")
        return self._session

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> list[Any]:
        if not self._running:
            raise BrokerNotRunning("call start() before using the broker")
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except _OUTAGE_ERRORS as exc:
            self._outage(exc)
        return reply

    def _outage(self, exc: BaseException) -> NoReturn:
        """A command failed: mark unhealthy, make the supervisor reconnect, raise."""
        if self._healthy:
            self._healthy = False
            logger.warning("Redis command failed (%s); delivery broker is reconnecting", exc)
            if self._session is not None:
                self._session.abort()
        raise BrokerUnavailable(f"Redis is unreachable: {exc}") from exc

    async def _open_session(self) -> PubSubSession:
        options: dict[str, Any] = dict(parse_url(self._url))
        connection_class = options.pop("connection_class", Connection)
        options.update(
            client_name=f"{self._client_name}-pubsub",
            socket_connect_timeout=self._socket_timeout,
            socket_timeout=self._socket_timeout,
            socket_keepalive=True,
            protocol=2,  # subscribe-mode replies are plain arrays in RESP2
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
        )
        session = PubSubSession(
            connection_class(**options), self._on_message, ping_interval=self._ping_interval
        )
        await session.open()
        return session

    def _on_message(self, channel_name: bytes, data: bytes) -> None:
        channel = self._by_name.get(channel_name)
        if channel is None:
            return  # unsubscribed a moment ago
        try:
            epoch, seq, payload = data.split(b"\n", 2)
            entry = Entry(int(seq), payload)
            epoch_text = epoch.decode()
        except ValueError:
            # Not written by our script; the log stays the source of truth.
            logger.warning("ignored a malformed message on %r", channel_name)
            return
        for subscription in channel.subscriptions:
            subscription._deliver(epoch_text, entry)

    async def _supervise(self, session: PubSubSession) -> None:
        """Watch the pub/sub connection; after a loss reconnect and resync everyone."""
        try:
            await self._watch(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._healthy = False
            logger.exception("delivery broker supervisor crashed; Redis will not be reconnected")
            raise

    async def _watch(self, session: PubSubSession) -> None:
        while True:
            error = await session.wait_closed()
            if self._healthy:
                self._healthy = False
                logger.warning(
                    "lost the Redis pub/sub connection (%s); delivery broker is reconnecting",
                    error or "aborted",
                )
            self._session = None
            await session.close()
            # Pooled command connections likely died too; a dead one would fail
            # the next command, so start them afresh.
            assert self._redis is not None
            await self._redis.connection_pool.disconnect()
            session = await self._reconnect()
            self._session = session
            self._healthy = True
            subscriptions = [s for c in self._channels.values() for s in c.subscriptions]
            for subscription in subscriptions:
                subscription._resync()

    async def _reconnect(self) -> PubSubSession:
        attempt = 0
        first, maximum = self._reconnect_delay
        while True:
            attempt += 1
            delay = min(maximum, first * 2 ** min(attempt - 1, 30))
            await asyncio.sleep(random.uniform(delay / 2, delay))
            session: PubSubSession | None = None
            try:
                assert self._redis is not None
                await self._redis.ping()
                session = await self._open_session()
                names = [channel.name for channel in self._channels.values()]
                confirmed = session.subscribe(names) if names else _done()
                await asyncio.wait_for(asyncio.shield(confirmed), self._socket_timeout)
            except (*_OUTAGE_ERRORS, BrokerUnavailable) as exc:
                level = logging.WARNING if attempt % 10 == 0 else logging.DEBUG
                logger.log(level, "Redis reconnect attempt %d failed: %s", attempt, exc)
                if session is not None:
                    await session.close()
                continue
            except BaseException:  # cancelled by close()
                if session is not None:
                    await session.close()
                raise
            for channel in self._channels.values():
                channel.ready = confirmed
            # Users whose last subscriber left while we were resubscribing.
            stale = [name for name in names if name not in self._by_name]
            if stale:
                session.unsubscribe(stale)
            logger.info(
                "delivery broker reconnected to Redis after %d attempt(s); %d user streams resync",
                attempt,
                len(self._channels),
            )
            return session


def _done() -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future
