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

The session reads in its own task (the ASGI server's). Its other tasks exist
only while they have work: the writer while the transport holds writes back
or a close is to be sent, the catch-up task while a backlog is owed. An idle
connection is one task waiting for the next frame. The session supervises
its tasks as a task group would: an unexpected failure in any of them — or
in the live path — is logged with the connection id, counted
(``agentsocket_connection_failures``) and closes the socket with 1011, so the
client reconnects and resumes without loss; no task outlives the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
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
from agentsocket.server.logs import ContextLogger
from agentsocket.server.registry import UserState
from agentsocket.server.router import dispatch
from agentsocket.server.transport import raw_receive

#: The logger of a connection's records; a request adds its ids if it logs.
_CONNECTION_LOG = logging.getLogger("agentsocket.connection")
#: Catch-up frames sent before letting other tasks run.
_FAIR_SHARE = 100


class Session:
    """Runs one ready connection until it closes."""

    __slots__ = (
        "_answerable",
        "_catch_up",
        "_children",
        "_ending",
        "_expires_at",
        "_expiry",
        "_failed",
        "_open",
        "_subscription",
        "_task",
        "connection",
        "core",
        "gateway",
        "user",
        "user_id",
    )

    def __init__(self, gateway: Gateway, connection: Connection, principal: Principal) -> None:
        self.gateway = gateway
        self.user: UserState = gateway.registry.user(principal.user_id)
        self.connection = connection
        self.core = connection.core
        self.user_id = principal.user_id
        # Only what the session needs of the principal: the token's claims are not held.
        self._expires_at = principal.expires_at
        self._answerable = expresses(connection.version, "agent_question")
        self._subscription: Subscription | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self._children: set[asyncio.Task[None]] | None = None  # made with the first
        self._task: asyncio.Task[Any] | None = None  # the session's own: it reads
        self._open = False  # tasks may be started (connected, and not ending)
        self._ending = False  # the session cancelled its own task to end
        self._failed = False  # one of its tasks failed: close with 1011
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def log(self) -> ContextLogger:
        return self.connection.log

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
        task = self._task = asyncio.current_task()
        assert task is not None
        try:
            self._open = True
            connection.supervise(self._start_writer)
            # Subscribed before reading, so a `resume` never races the first subscription.
            await self._subscribe(resume_from or position)
            await gateway.runs.connected(self.user_id)  # ends of runs lost in a crash
            if self._expires_at is not None:
                # A timer, not a task: an idle connection keeps no coroutine for it.
                delay = max(0.0, self._expires_at - time.time())
                self._expiry = asyncio.get_running_loop().call_later(delay, self._expired)
            await self._read()
        except asyncio.CancelledError:
            # Ended by one of its tasks (see _end); anyone else's cancellation goes on.
            if not self._ending or task.uncancel() > 0:
                raise
            if self._failed:
                await self._close_now(CloseCode.INTERNAL_ERROR, "internal error")
        except BrokerUnavailable:
            self.log.warning("broker lost during connect")
            await self._close_now(CloseCode.NOT_READY, "backend unavailable")
        except Exception as failure:
            self._failure(failure)
            await self._close_now(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._stop_starting()
            if self._expiry is not None:
                self._expiry.cancel()
            await self._stop_tasks()
            if self._subscription is not None:
                self._subscription.listen(None)
                await self._subscription.close()

    # --- tasks ----------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start one of the session's tasks (only while it is open)."""
        # No publisher's context: a writer started inside a run's call is not the run's.
        task = asyncio.get_running_loop().create_task(
            work, name=f"{name}-{self.connection.id}", context=contextvars.Context()
        )
        if self._children is None:
            self._children = set()
        self._children.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _start_writer(self, work: Coroutine[Any, Any, bool]) -> None:
        """The connection needs its writer (see ``Connection.supervise``)."""
        self._spawn(self._write(work), "writer")

    async def _write(self, work: Coroutine[Any, Any, bool]) -> None:
        if await work:  # the close is sent, or the peer is gone: the session is over
            self._end()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        children = self._children
        if children is not None:
            children.discard(task)
            if not children:
                self._children = None  # an idle connection keeps no set
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            self._failure(failure)
            self._failed = True
            self._end()

    def _end(self) -> None:
        """End the session from one of its tasks: its own task stops reading."""
        task = self._task
        if self._open and not self._ending and task is not None and not task.done():
            self._ending = True
            self._stop_starting()
            task.cancel()

    def _stop_starting(self) -> None:
        """No more tasks: the session is ending."""
        self._open = False
        self.connection.supervise(None)

    async def _stop_tasks(self) -> None:
        """Cancel the session's other tasks and wait for them (none outlives the session)."""
        children = self._children
        if not children:
            return
        for child in children:
            child.cancel()
        await asyncio.wait(set(children))

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
        """Close without the writer (a failure stopped the session's tasks)."""
        self._stop_starting()
        await self._stop_tasks()
        self.connection.close(code, reason, flush=False)
        with contextlib.suppress(Exception):  # the socket is being given up anyway
            await asyncio.wait_for(self.connection.send_close(), CLOSE_TIMEOUT * 2)

    # --- inbound ----------------------------------------------------------------------

    async def _read(self) -> None:
        connection, core = self.connection, self.core
        receive, server_id = raw_receive(connection.websocket), connection.server_id
        inbound = self.gateway.metrics.inbound  # frames by type, counted at the next scrape
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
                inbound["ag-ui"] += 1
                await ag_ui_receive(self.gateway, connection, frame, self._request)
                continue
            for action in core.receive_frame(frame):
                if type(action) is AnswerPing:
                    inbound["ping"] += 1
                    pong = pong_frame(time.time(), action.ping, server_id)
                    connection.reply_frame(pong.decode(), "pong")
                elif isinstance(action, Dispatch):
                    inbound[action.envelope.type] += 1
                    await self._handle(action.envelope)
                elif isinstance(action, Reply):
                    inbound["refused"] += 1
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
            log=_CONNECTION_LOG,  # the request's own context is added if it logs
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
            await asyncio.wait({self._catch_up})
        if self._subscription is not None:
            self._subscription.listen(None)
            await self._subscription.close()
        subscription = await self.gateway.broker.subscribe(self.user_id, position)
        self._subscription = subscription
        self.core.stream_from(position.seq)
        subscription.listen(self._live, self._backlog)
        # Pages what the position owes, if anything, and ends: an idle connection has none.
        self._catch_up = self._spawn(self._pump(subscription), "catch-up")

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

    def _backlog(self) -> None:
        """The subscription owes what the listener cannot take (publisher's call): page it."""
        try:
            subscription = self._subscription
            if self._open and self._catch_up is None and subscription is not None:
                self._catch_up = self._spawn(self._pump(subscription), "catch-up")
        except Exception as exc:  # never into the publisher: this connection fails alone
            self._fail(exc)

    async def _pump(self, subscription: Subscription) -> None:
        """Page a backlog through the connection at the pace the socket drains, then end."""
        connection, core, metrics = self.connection, self.core, self.gateway.metrics
        sent = 0
        try:
            while True:
                item = await subscription.next_ready()
                if item is None:
                    return  # parked: live entries go to the listener, a backlog restarts this
                if isinstance(item, Gap):
                    core.take_gap(item.to_seq)
                    metrics.child(metrics.gaps, item.reason).inc()
                    gap = s.StreamGap(
                        epoch=item.epoch,
                        from_seq=item.from_seq,
                        to_seq=item.to_seq,
                        reason=item.reason,
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
        finally:
            if self._catch_up is asyncio.current_task():
                self._catch_up = None

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
