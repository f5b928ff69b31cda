"""A connection's life after the handshake: welcome, requests, stream, expiry — supervised.

The welcome goes out before anything is read, and frames the client sent
before that wait in the server's receive buffer: nothing is dropped.

The user's stream reaches the connection two ways. Live entries are handed
over inside the publisher's call (``Subscription.listen``) and written at
once; a backlog (connect, ``resume``, a slow moment) is paged from the log by
a catch-up task that waits for the socket to drain. Either way the frames
come from the user's :class:`~agentsocket.server.frames.FrameEncoder`,
encoded once per version, and :class:`ConnectionCore` drops every seq this
connection already sent.

All of a connection's tasks run in one task group. An unexpected failure in
any of them — or in the live path — is logged with the connection id,
counted (``agentsocket_connection_failures``) and closes the socket with 1011,
so the client reconnects and resumes without loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

from agentsocket.delivery import BrokerUnavailable, Entry, Gap, Position, Subscription
from agentsocket.protocol import ClientEnvelope, CloseCode, ErrorCode, ProtocolError
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.fastping import pong_frame
from agentsocket.protocol.versions import expresses
from agentsocket.server.auth import Principal
from agentsocket.server.connection import CLOSE_TIMEOUT, Connection
from agentsocket.server.context import Request
from agentsocket.server.core import AnswerPing, Close, Dispatch, Reply, error_reply
from agentsocket.server.emitter import ReplyTo
from agentsocket.server.gateway import Gateway
from agentsocket.server.registry import UserState
from agentsocket.server.router import dispatch

#: Catch-up frames sent before letting other tasks run.
_FAIR_SHARE = 100


class Session:
    """Runs one ready connection until it closes."""

    def __init__(self, gateway: Gateway, connection: Connection, principal: Principal) -> None:
        self.gateway = gateway
        self.user: UserState = gateway.registry.user(principal.user_id)
        self.connection = connection
        self.core = connection.core
        self.principal = principal
        self.user_id = principal.user_id
        self._answerable = expresses(connection.version, "agent_question")
        self.log = connection.log
        self._subscription: Subscription | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._group: asyncio.TaskGroup | None = None
        self._expiry: asyncio.TimerHandle | None = None

    async def run(self, resume: tuple[str | None, int] | None) -> None:
        """Send the welcome, then serve the connection until it ends.

        Args:
            resume: (epoch, last_seq) from the handshake; epoch None means the
                current one (v1/v2 clients never see the epoch).
        """
        gateway, connection = self.gateway, self.connection
        position = await gateway.broker.position(self.user_id)
        resume_from = None if resume is None else _within(resume[0], resume[1], position)
        if resume is not None:
            gateway.metrics.child(gateway.metrics.resumes, "handshake").inc()
        connection.reply(self._welcome(position))
        # An AG-UI connection speaks no version of ours: no version's sunset concerns it.
        sunset = gateway.sunset_of(connection.version) if connection.agui is None else None
        if sunset is not None:
            connection.reply(
                s.DeprecationNotice(
                    version=connection.version.name,
                    sunset=sunset.isoformat(),
                    message=f"Protocol {connection.version.name} is deprecated; "
                    f"it will be refused after {sunset.isoformat()}.",
                    upgrade_to=gateway.default_version.name,
                )
            )
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._start(connection.run_writer(), "writer", ends_session=True)
                # Subscribed before reading, so a `resume` never races the first subscription.
                await self._subscribe(resume_from or position)
                await gateway.runs.connected(self.user_id)  # ends of runs lost in a crash
                self._start(self._read(), "reader", ends_session=True)
                if self.principal.expires_at is not None:
                    # A timer, not a task: an idle connection keeps no coroutine for it.
                    delay = max(0.0, self.principal.expires_at - time.time())
                    self._expiry = asyncio.get_running_loop().call_later(delay, self._expired)
        except* BrokerUnavailable:
            self.log.warning("broker lost during connect")
            await self._close_now(CloseCode.NOT_READY, "backend unavailable")
        except* Exception as failures:
            for failure in failures.exceptions:
                self._failure(failure)
            await self._close_now(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            if self._subscription is not None:
                self._subscription.listen(None)
                await self._subscription.close()

    # --- tasks ----------------------------------------------------------------------

    def _start(
        self, work: Coroutine[Any, Any, None], name: str, *, ends_session: bool = False
    ) -> None:
        assert self._group is not None
        if ends_session:
            work = self._ending(work)
        task = self._group.create_task(work, name=f"{name}-{self.connection.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ending(self, work: Coroutine[Any, Any, None]) -> None:
        """Run the writer or the reader; when either ends, every task of the connection ends."""
        await work
        self._stop_all()

    def _stop_all(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        if self._catch_up is not None and self._catch_up is not current:
            self._catch_up.cancel()
        if self._expiry is not None:
            self._expiry.cancel()

    def _failure(self, exc: BaseException) -> None:
        """Log and count an unexpected failure of ours; the connection closes with 1011."""
        self.gateway.metrics.connection_failures.inc()
        self.log.error("connection failed", exc_info=exc)

    def _fail(self, exc: BaseException) -> None:
        """A failure outside the connection's tasks (the live path): close with 1011."""
        self._failure(exc)
        if self._subscription is not None:
            self._subscription.listen(None)
        self.connection.close(CloseCode.INTERNAL_ERROR, "internal error", flush=False)

    async def _close_now(self, code: CloseCode, reason: str) -> None:
        """Close after the writer is gone (a failure stopped it)."""
        self.connection.close(code, reason, flush=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.connection.send_close(), CLOSE_TIMEOUT * 2)

    # --- inbound ----------------------------------------------------------------------

    async def _read(self) -> None:
        connection, core = self.connection, self.core
        receive, server_id = connection.websocket.receive, connection.server_id
        frames_in, metrics = self.gateway.metrics.frames_in, self.gateway.metrics
        # This connection's counters, looked up once rather than per frame.
        counted: dict[str, Any] = {}

        def count(kind: str) -> None:
            counter = counted.get(kind)
            if counter is None:
                counter = counted[kind] = metrics.child(frames_in, kind)
            counter.inc()

        ag_ui_receive: Callable[..., Coroutine[Any, Any, None]] | None = None
        if connection.agui is not None:
            # Imported here, once per connection: the dialect needs the optional ag-ui extra.
            from agentsocket.server.ag_ui_ws import receive as ag_ui_receive

        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                connection.gone()
                return
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            if ag_ui_receive is not None:
                count("ag-ui")
                await ag_ui_receive(self.gateway, connection, frame, self._request)
                continue
            for action in core.receive_frame(frame):
                if type(action) is AnswerPing:
                    count("ping")
                    pong = pong_frame(time.time(), action.ping, server_id)
                    connection.reply_frame(pong.decode(), "pong")
                elif isinstance(action, Dispatch):
                    count(action.envelope.type)
                    await self._handle(action.envelope)
                elif isinstance(action, Reply):
                    count("refused")
                    self._count_error(action)
                    self.connection.reply(action.message, action.correlation_id)
                elif isinstance(action, Close):
                    self.connection.start_close(action)

    async def _handle(self, envelope: ClientEnvelope) -> None:
        message = envelope.message
        if isinstance(message, c.Resume):
            metrics = self.gateway.metrics
            metrics.child(metrics.resumes, "message").inc()
            try:
                current = await self.gateway.broker.position(self.user_id)
                await self._subscribe(_within(message.epoch, message.last_seq, current))
            except BrokerUnavailable:
                unavailable = ProtocolError(
                    ErrorCode.UNAVAILABLE,
                    "the message stream is unavailable; retry shortly",
                    (),
                    envelope.correlation_id,
                )
                self._error(unavailable, 1.0)
            return
        request = self._request(self.connection.reply, envelope.correlation_id)
        await dispatch(self.gateway, request, message)

    def _request(self, reply: ReplyTo, correlation_id: str | None = None) -> Request:
        """A handler request of this connection, answered through ``reply``."""
        return Request(
            user_id=self.user_id,
            connection_id=self.connection.id,
            correlation_id=correlation_id,
            data_path=self.connection.version.data_path,
            emitter=self.gateway.emitter,
            reply=reply,
            error=self._error,
            log=self.log.logger,  # the request's own context is added if it logs
            answerable=self._answerable,
        )

    def _error(self, error: ProtocolError, retry_after: float | None) -> None:
        reply = error_reply(error, retry_after)
        self._count_error(reply)
        self.connection.reply(reply.message, reply.correlation_id)

    def _count_error(self, reply: Reply) -> None:
        metrics = self.gateway.metrics
        assert isinstance(reply.message, s.Error)
        metrics.child(metrics.errors, reply.message.code.value).inc()

    # --- the user's stream ------------------------------------------------------------

    async def _subscribe(self, position: Position) -> None:
        """Deliver the user's stream from ``position`` (connect, or ``resume``)."""
        if self._catch_up is not None:
            self._catch_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catch_up
        if self._subscription is not None:
            self._subscription.listen(None)
            await self._subscription.close()
        subscription = await self.gateway.broker.subscribe(self.user_id, position)
        self._subscription = subscription
        self.core.stream_from(position.seq)
        subscription.listen(self._live)
        assert self._group is not None
        self._catch_up = self._group.create_task(
            self._pump(subscription), name=f"catch-up-{self.connection.id}"
        )

    def _live(self, entry: Entry) -> None:
        """A live entry, inside the publisher's call: written now, or queued."""
        try:
            if self.core.take_seq(entry.seq):
                if self.connection.agui is None:  # the hot path: one shared frame, no list
                    text = self.user.frames.frame(entry.seq, entry.payload, self.connection.version)
                    if text is not None:
                        self.connection.push(text)
                    return
                for text in self._frames(entry.seq, entry.payload):
                    self.connection.push(text)
        except Exception as exc:  # never into the publisher: this connection fails alone
            self._fail(exc)

    async def _pump(self, subscription: Subscription) -> None:
        """Page a backlog through the connection at the pace the socket drains."""
        connection, core, metrics = self.connection, self.core, self.gateway.metrics
        sent = 0
        async for item in subscription:
            if isinstance(item, Gap):
                core.take_gap(item.to_seq)
                metrics.child(metrics.gaps, item.reason).inc()
                gap = s.StreamGap(
                    epoch=item.epoch, from_seq=item.from_seq, to_seq=item.to_seq, reason=item.reason
                )
                text = connection.encode(gap)
                texts = [] if text is None else [text]
            elif core.take_seq(item.seq):
                texts = self._frames(item.seq, item.payload)
            else:
                continue
            for text in texts:
                await connection.put(text)
            if connection.closing:
                return
            sent += 1
            if sent % _FAIR_SHARE == 0:
                await asyncio.sleep(0)

    def _frames(self, seq: int, payload: bytes) -> list[str]:
        """Stream entry ``seq`` as this connection's frames (AG-UI: several, or none)."""
        # The user's encoder is read each time: it is replaced when they had left.
        frames, agui = self.user.frames, self.connection.agui
        if agui is None:
            text = frames.frame(seq, payload, self.connection.version)
            return [] if text is None else [text]
        assert self._subscription is not None
        epoch = self._subscription.position.epoch
        return agui.entry(frames.message(seq, payload), epoch, seq)

    def _expired(self) -> None:
        """The token expired: close with 4002 after what is queued (the expiry timer)."""
        try:
            self.log.info("token expired")
            self.connection.close(CloseCode.TOKEN_EXPIRED, "token expired")
        except Exception as exc:  # never into the event loop: this connection fails alone
            self._fail(exc)

    # --- the welcome ------------------------------------------------------------------

    def _welcome(self, position: Position) -> s.ConnectionEstablished:
        settings = self.gateway.settings
        return s.ConnectionEstablished(
            connection_id=self.connection.id,
            user_id=self.user_id,
            protocol_version=self.connection.label,
            server_time=time.time(),
            environment=settings.environment,
            heartbeat_interval=settings.heartbeat_interval,
            max_frame_size=settings.max_frame_size,
            stream=s.StreamPosition(epoch=position.epoch, seq=position.seq),
            agents=self.gateway.runs.available,
            default_agent=self.gateway.runs.agents.default,
        )


def _within(epoch: str | None, last_seq: int, head: Position) -> Position:
    """A client's position, its seq bounded just past the stream's head.

    Anything past the head means the same (a position of another history:
    ``stream_gap`` ``epoch_changed``), and a bounded number stays a valid
    stream id for every backend (Redis refuses 10^23).
    """
    return Position(epoch or head.epoch, min(last_seq, head.seq + 1))
