"""One live WebSocket connection: its identity, its outbound queue and writer.

Everything sent to a client goes through :meth:`Connection.enqueue` and is
written by the connection's single writer task, so frames leave in the order
they were queued and a slow client never blocks anyone else: past
``outbound_queue_size`` queued frames the connection is closed with 4101
(``SLOW_CONSUMER``) and the client resumes from its last seq.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from agentsocket.protocol import (
    CloseCode,
    ServerEnvelope,
    ServerMessage,
    Version,
    decode_server,
    encode_server,
)
from agentsocket.server.metrics import Metrics

log = logging.getLogger("agentsocket.connection")


class Connection:
    """A ready connection of one user, speaking one protocol version."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        connection_id: str,
        user_id: str,
        version: Version,
        server_id: str,
        queue_size: int,
        metrics: Metrics,
        validate_outbound: bool = False,
    ) -> None:
        self.websocket = websocket
        self.id = connection_id
        self.user_id = user_id
        self.version = version
        self.server_id = server_id
        self.last_seq = 0
        self._queue: deque[tuple[str, str]] = deque()
        self._queue_size = queue_size
        self._wakeup = asyncio.Event()
        self._close: tuple[CloseCode, str, bool] | None = None
        self._metrics = metrics
        self._validate = validate_outbound

    @property
    def closing(self) -> bool:
        return self._close is not None

    def envelope(self, message: ServerMessage, correlation_id: str | None = None) -> ServerEnvelope:
        """Wrap a direct reply (not a stream message) for this connection."""
        return ServerEnvelope(message, time.time(), self.server_id, correlation_id)

    def reply(self, message: ServerMessage, correlation_id: str | None = None) -> None:
        """Queue a direct reply, encoded in this connection's version."""
        self.send(self.envelope(message, correlation_id))

    def send(self, envelope: ServerEnvelope) -> None:
        frame = encode_server(envelope, self.version)
        if frame is None:
            self._metrics.dropped.labels(self.version.name, envelope.type).inc()
            return
        self.enqueue(frame.decode(), envelope.type)

    def enqueue(self, text: str, type_name: str) -> None:
        """Queue one encoded frame; closes the connection when the queue is full."""
        if self._close is not None:
            return
        if len(self._queue) >= self._queue_size:
            log.warning(
                "slow consumer", extra={"connection_id": self.id, "queued": self._queue_size}
            )
            self.close_soon(CloseCode.SLOW_CONSUMER, "outbound queue full", flush=False)
            return
        if self._validate:
            self._check(text, type_name)
        self._metrics.queue_depth.observe(len(self._queue))
        self._queue.append((text, type_name))
        self._wakeup.set()

    def close_soon(self, code: CloseCode, reason: str, *, flush: bool = True) -> None:
        """Ask the writer to close: after the queued frames (``flush``) or at once."""
        if self._close is None:
            self._close = (code, reason, flush)
            if not flush:
                self._queue.clear()
            self._wakeup.set()

    async def run_writer(self) -> None:
        """Write queued frames until a close is requested, then close the socket."""
        try:
            while True:
                while self._queue:
                    text, type_name = self._queue.popleft()
                    await self.websocket.send_text(text)
                    self._metrics.frames_out.labels(type_name).inc()
                if self._close is not None:
                    break
                self._wakeup.clear()
                await self._wakeup.wait()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the peer is gone; the reader notices and cleans up
        code, reason, _ = self._close
        self._metrics.closes.labels(str(int(code))).inc()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.close(int(code), reason)
            except (RuntimeError, OSError):
                return

    def _check(self, text: str, type_name: str) -> None:
        decoded = decode_server(text, self.version)
        if not isinstance(decoded, ServerEnvelope):
            log.error(
                "outbound frame fails validation",
                extra={"connection_id": self.id, "type": type_name, "error": decoded.message},
            )
            raise AssertionError(f"invalid outbound {type_name} in {self.version.name}: {decoded}")
