"""One live connection's send path: written at once, queued only when backed up.

Everything sent to a client goes through :meth:`Connection.push` (live
frames and replies) or :meth:`Connection.put` (catch-up from the log), in
call order. When nothing is queued the frame is written on the spot, in the
caller's task, without waking another one; only when the transport pushes
back does a frame wait in the bounded queue for the writer.

The writer is a task only while it has work: the session hands the
connection a way to start one (:meth:`Connection.supervise`), and it is
started when the transport holds a write back or a close is decided, and
ends once everything queued is written. An idle connection has no writer,
no queue and no waiter (tens of thousands of idle connections are the
common case; each task costs a kilobyte or two). :meth:`Connection.run_writer`
is the same writer as a loop of its own, for a caller without a session.

* Live frames past ``queue_size`` queued ones: the client does not keep up;
  the connection closes with 4101 (``SLOW_CONSUMER``) and the client resumes
  from its last seq.
* Catch-up waits for room instead (:meth:`put`), so any backlog within the
  log's retention is delivered at the pace the socket drains.
* A write that does not complete within ``send_timeout``, or a close that
  cannot be sent, aborts the transport: a peer that stopped reading cannot
  hold the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from agentsocket.protocol import (
    CloseCode,
    ServerEnvelope,
    ServerMessage,
    Version,
    decode_server,
    encode_server,
)
from agentsocket.server.core import Close, ConnectionCore, State
from agentsocket.server.logs import ContextLogger
from agentsocket.server.metrics import Metrics
from agentsocket.server.transport import abort_of, raw_send, write_text_of

log = logging.getLogger("agentsocket.connection")

#: Seconds a close frame may take to leave before the transport is aborted.
CLOSE_TIMEOUT = 1.0
_GONE = (WebSocketDisconnect, RuntimeError, OSError)

StartWriter = Callable[[Coroutine[Any, Any, bool]], None]
"""Starts the writer's coroutine as a task; it returns True when the connection is done sending."""


class Dialect(Protocol):
    """A connection's language other than a version's envelopes (AG-UI: ``server/ag_ui_ws.py``)."""

    def reply(self, message: ServerMessage) -> str:
        """A direct reply as one frame."""
        ...

    def entry(self, message: ServerMessage | None, epoch: str, seq: int) -> list[str]:
        """A stream entry (decoded; None if unknown) as frames, maybe several or none."""
        ...


class Connection:
    """A ready connection of one user, speaking one protocol version.

    Args:
        websocket: the accepted Starlette WebSocket.
        core: the connection's sans-I/O state (version, limits, close state).
        queue_size: live frames queued before the connection counts as slow.
        send_timeout: seconds one write may stay blocked before the transport
            is aborted.
        validate_outbound: re-read every reply with the client codec; a frame
            that fails is logged, counted and dropped.
    """

    __slots__ = (
        "_close",
        "_drained",
        "_metrics",
        "_pending",
        "_queue",
        "_queue_size",
        "_send",
        "_send_timeout",
        "_start_writer",
        "_validate",
        "_wake_writer",
        "_write_text",
        "_writing",
        "agui",
        "core",
        "frames_sent",
        "id",
        "server_id",
        "user_id",
        "version",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        core: ConnectionCore,
        *,
        connection_id: str,
        user_id: str,
        server_id: str,
        queue_size: int,
        metrics: Metrics,
        send_timeout: float = 10.0,
        validate_outbound: bool = False,
    ) -> None:
        self.websocket = websocket
        self.core = core
        self.id = connection_id
        self.user_id = user_id
        self.version: Version = core.version
        self.server_id = server_id
        self.frames_sent = 0
        self._send = raw_send(websocket)
        self._write_text = write_text_of(websocket)  # one call per frame, when the server has it
        # Frames behind a held write, oldest first; made when the transport pushes back.
        self._queue: deque[str] | None = None
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._pending: asyncio.Future[None] | None = None  # a write the transport held back
        self._drained: asyncio.Future[None] | None = None  # a put() waiting for the queue
        self._close: Close | None = None
        self._metrics = metrics
        self._validate = validate_outbound
        self._start_writer: StartWriter | None = None
        self._writing = False  # a writer started through _start_writer is running
        self._wake_writer: asyncio.Future[None] | None = None  # run_writer() waiting for work
        #: Set for a connection of the AG-UI dialect: it sends AG-UI events, not envelopes.
        self.agui: Dialect | None = None

    @property
    def log(self) -> ContextLogger:
        """A logger that adds this connection's id (made per use: a connection rarely logs)."""
        return ContextLogger(log, {"connection_id": self.id})

    @property
    def label(self) -> str:
        """What the connection speaks, for metrics: a version name or ``ag-ui``."""
        return self.version.name if self.agui is None else "ag-ui"

    @property
    def queued(self) -> int:
        """Frames waiting for the transport (the outbound queue's depth)."""
        return len(self._queue) if self._queue is not None else 0

    @property
    def closing(self) -> bool:
        return self.core.state is not State.OPEN

    # --- sending ------------------------------------------------------------------------

    def reply(self, message: ServerMessage, correlation_id: str | None = None) -> None:
        """Send a direct reply (not a stream message), encoded in this connection's version."""
        text = self.encode(message, correlation_id)
        if text is not None:
            self.push(text)

    def encode(self, message: ServerMessage, correlation_id: str | None = None) -> str | None:
        """A direct reply as text in this connection's version; ``None`` if not sendable."""
        if self.agui is not None:
            return self.agui.reply(message)
        envelope = ServerEnvelope(message, time.time(), self.server_id, correlation_id)
        frame = encode_server(envelope, self.version)
        if frame is None:
            self._metrics.child(self._metrics.dropped, self.version.name, envelope.type).inc()
            return None
        text = frame.decode()
        if self._validate and not self._valid(text, envelope.type):
            return None
        return text

    def reply_frame(self, text: str, type_name: str) -> None:
        """Send a direct reply already encoded in this connection's version (a fast path's)."""
        if self._validate and not self._valid(text, type_name):
            return
        self.push(text)

    def push(self, text: str) -> None:
        """Send one encoded frame now, or queue it behind the ones the transport holds.

        Past ``queue_size`` queued frames the connection closes with 4101.
        """
        if self.core.state is not State.OPEN:
            return
        queue = self._queue
        if self._pending is not None or queue:
            if queue is None:
                queue = self._queue = deque()
            if len(queue) >= self._queue_size:
                self.log.warning("slow consumer", extra={"queued": len(queue)})
                self._metrics.child(self._metrics.slow_consumer_closes, "queue_full").inc()
                self.close(CloseCode.SLOW_CONSUMER, "outbound queue full", flush=False)
                return
            queue.append(text)
            return
        write_text = self._write_text
        if write_text is not None and write_text(text):
            self.frames_sent += 1
            return
        try:
            held = _drive(self._send({"type": "websocket.send", "text": text}))
        except _GONE:
            self.gone()
            self._need_writer()  # it ends the session: the peer is gone
            return
        self.frames_sent += 1
        if held is not None:
            self._pending = held
            self._need_writer()

    async def put(self, text: str) -> None:
        """Send one catch-up frame, first waiting until nothing is queued (backpressure)."""
        while self._pending is not None or self._queue:
            if self.core.state is not State.OPEN:
                return
            drained = self._drained
            if drained is None:
                drained = self._drained = asyncio.get_running_loop().create_future()
            await drained
        self.push(text)

    def close(self, code: CloseCode, reason: str, *, flush: bool = True) -> None:
        """Close with ``code``: after the queued frames (``flush``) or at once. First one wins."""
        close = self.core.close_if_open(code, reason, flush=flush)
        if close is not None:
            self.start_close(close)

    def start_close(self, close: Close) -> None:
        """Carry out a close the core decided (see :meth:`ConnectionCore.close`)."""
        self._close = close
        if not close.flush:
            self._queue = None
            if self._pending is not None:
                self._pending.cancel()  # the transport is backed up: give the write up
        self._drained_now()  # a waiting put() sees the close
        self._need_writer()

    def abort(self) -> None:
        """Drop the TCP connection now (if the server allows it) and stop sending."""
        abort = abort_of(self.websocket)
        if abort is not None:
            abort()
        self.gone()

    # --- the writer ---------------------------------------------------------------------

    def supervise(self, start: StartWriter | None) -> None:
        """Start the writer through ``start`` whenever there is work for it (None: stop).

        ``start`` gets the writer's coroutine, to run as a task of the
        session's; the coroutine returns True once the connection is done
        sending (its close sent, or the peer gone). Work already waiting
        (a held welcome, a decided close) starts it at once.
        """
        self._start_writer = start
        if start is None:
            self._writing = False  # a writer still finishing starts nothing more
        elif (
            self._pending is not None
            or self._queue
            or self._close is not None
            or self.core.state is State.CLOSED
        ):
            self._need_writer()

    def _need_writer(self) -> None:
        """There is work for the writer: a held write, or a close to send."""
        if self._writing:
            return  # it sees the work before it ends
        wake = self._wake_writer
        if wake is not None:  # a run_writer() loop waits
            self._wake_writer = None
            if not wake.done():
                wake.set_result(None)
            return
        start = self._start_writer
        if start is not None:
            self._writing = True
            start(self._writer())

    async def _writer(self) -> bool:
        try:
            return await self._write_out()
        finally:
            self._writing = False

    async def run_writer(self) -> None:
        """The writer as a loop of its own, until the close is sent or the peer is gone."""
        while not await self._write_out():
            wake = self._wake_writer = asyncio.get_running_loop().create_future()
            await wake

    async def _write_out(self) -> bool:
        """Write what the transport held back and what queued behind it; then a decided close.

        Returns:
            True when the connection is done sending (the close sent, or the
            peer gone), False when there is nothing left to write for now.
        """
        try:
            while True:
                if self._pending is not None and not await self._wait_pending():
                    return True
                queue = self._queue
                while queue and self._pending is None:
                    text = queue.popleft()
                    held = _drive(self._send({"type": "websocket.send", "text": text}))
                    self.frames_sent += 1
                    if held is not None:
                        self._pending = held
                if self._pending is not None:
                    continue
                self._queue = None  # an idle connection keeps no deque
                self._drained_now()
                if self._close is not None or self.core.state is State.CLOSED:
                    break
                return False
        except _GONE:
            self.gone()
            return True
        await self.send_close()
        return True

    def _drained_now(self) -> None:
        drained = self._drained
        if drained is not None:
            self._drained = None
            if not drained.done():
                drained.set_result(None)

    async def _wait_pending(self) -> bool:
        """Wait for the held write; False (and the transport aborted) if it never completes."""
        pending = self._pending
        assert pending is not None
        done, _ = await asyncio.wait({pending}, timeout=self._send_timeout)
        if not done:
            self.log.warning("peer stopped reading; aborting", extra={"after": self._send_timeout})
            self._metrics.child(self._metrics.slow_consumer_closes, "write_timeout").inc()
            self._count_close(CloseCode.SLOW_CONSUMER)
            self.abort()
            return False
        self._pending = None
        if not pending.cancelled():  # cancelled: a close gave the write up
            pending.result()  # raises if the peer went away meanwhile
        return True

    async def send_close(self) -> None:
        close = self._close
        if close is None or self.core.state is State.CLOSED:
            return
        self._count_close(close.code)
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await asyncio.wait_for(
                    self.websocket.close(int(close.code), close.reason), CLOSE_TIMEOUT
                )
            except TimeoutError:
                self.log.info("close frame not sent in time; aborting")
                self.abort()
            except _GONE:
                pass
        if close.code is CloseCode.SLOW_CONSUMER:
            # Everything queued for it is still in the transport: drop it.
            self.abort()
        self.core.closed()

    def gone(self) -> None:
        """The peer left (or the transport was dropped): stop sending."""
        self._queue = None
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.core.closed()
        self._drained_now()
        wake = self._wake_writer
        if wake is not None:  # a run_writer() loop ends
            self._wake_writer = None
            if not wake.done():
                wake.set_result(None)

    def _count_close(self, code: CloseCode) -> None:
        self._metrics.child(self._metrics.closes, str(int(code))).inc()

    def _valid(self, text: str, type_name: str) -> bool:
        decoded = decode_server(text, self.version)
        if isinstance(decoded, ServerEnvelope):
            return True
        self.log.error(
            "outbound frame fails validation; dropped",
            extra={"type": type_name, "error": decoded.message},
        )
        self._metrics.child(self._metrics.invalid_outbound, self.version.name, type_name).inc()
        return False


def _drive(coro: Awaitable[None]) -> asyncio.Future[None] | None:
    """Run ``coro`` in the caller's task until it completes or waits.

    Returns ``None`` when it completed without waiting (a write the transport
    took at once: the usual case), else a task finishing the rest. This is
    what keeps the live path free of task switches.
    """
    assert isinstance(coro, Coroutine)
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_rest(coro, yielded))


async def _rest(coro: Coroutine[Any, Any, None], yielded: Any) -> None:
    await _finish(coro, yielded)


@types.coroutine
def _finish(coro: Coroutine[Any, Any, None], yielded: Any) -> Generator[Any, Any, None]:
    """Continue a coroutine that already yielded ``yielded`` (a future it waits on)."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # cancellation and errors go into the coroutine
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration:
                return
