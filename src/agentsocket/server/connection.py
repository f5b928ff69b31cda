"""One live connection's send path: written at once, queued only when backed up.

Everything sent to a client goes through :meth:`Connection.push` (live
frames and replies) or :meth:`Connection.put` (catch-up from the log), in
call order. When nothing is queued the frame is written on the spot, in the
caller's task, without waking another one; only when the transport pushes
back does a frame wait in the bounded queue for :meth:`Connection.run_writer`.

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
from collections.abc import Awaitable, Coroutine, Generator
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
from agentsocket.server.transport import abort_of, raw_send

log = logging.getLogger("agentsocket.connection")

#: Seconds a close frame may take to leave before the transport is aborted.
CLOSE_TIMEOUT = 1.0
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


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
        self.log = ContextLogger(log, {"connection_id": connection_id})
        self.frames_sent = 0
        self._send = raw_send(websocket)
        self._queue: deque[str] = deque()
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._pending: asyncio.Future[None] | None = None  # a write the transport held back
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._close: Close | None = None
        self._metrics = metrics
        self._validate = validate_outbound
        #: Set for a connection of the AG-UI dialect: it sends AG-UI events, not envelopes.
        self.agui: Dialect | None = None

    @property
    def label(self) -> str:
        """What the connection speaks, for metrics: a version name or ``ag-ui``."""
        return self.version.name if self.agui is None else "ag-ui"

    @property
    def queued(self) -> int:
        """Frames waiting for the transport (the outbound queue's depth)."""
        return len(self._queue)

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
        if self._pending is not None or self._queue:
            if len(self._queue) >= self._queue_size:
                self.log.warning("slow consumer", extra={"queued": len(self._queue)})
                self._metrics.child(self._metrics.slow_consumer_closes, "queue_full").inc()
                self.close(CloseCode.SLOW_CONSUMER, "outbound queue full", flush=False)
                return
            self._queue.append(text)
            return
        try:
            held = _drive(self._send({"type": "websocket.send", "text": text}))
        except _GONE:
            self.gone()
            return
        self.frames_sent += 1
        if held is not None:
            self._hold(held)

    async def put(self, text: str) -> None:
        """Send one catch-up frame, first waiting until nothing is queued (backpressure)."""
        while self._pending is not None or self._queue:
            if self.core.state is not State.OPEN:
                return
            await self._idle.wait()
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
            self._queue.clear()
            if self._pending is not None:
                self._pending.cancel()  # the transport is backed up: give the write up
        self._idle.set()  # a waiting put() sees the close
        self._wakeup.set()

    def abort(self) -> None:
        """Drop the TCP connection now (if the server allows it) and stop sending."""
        abort = abort_of(self.websocket)
        if abort is not None:
            abort()
        self.gone()

    # --- the writer ---------------------------------------------------------------------

    async def run_writer(self) -> None:
        """Write what the transport held back; close the socket once a close is decided."""
        try:
            while True:
                if self._pending is not None and not await self._wait_pending():
                    return
                while self._queue and self._pending is None:
                    text = self._queue.popleft()
                    held = _drive(self._send({"type": "websocket.send", "text": text}))
                    self.frames_sent += 1
                    if held is not None:
                        self._hold(held)
                if self._pending is not None:
                    continue
                self._idle.set()
                if self._close is not None or self.core.state is State.CLOSED:
                    break
                self._wakeup.clear()
                await self._wakeup.wait()
        except _GONE:
            self.gone()
            return
        await self.send_close()

    def _hold(self, held: asyncio.Future[None]) -> None:
        self._pending = held
        self._idle.clear()
        self._wakeup.set()

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
        self._queue.clear()
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.core.closed()
        self._idle.set()
        self._wakeup.set()

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
