"""uvicorn's WebSocket protocol, joining the writes of consecutive loop iterations.

Under ASGI every ``websocket.send`` becomes its own ``transport.write``: one
syscall per frame, each waking the peer. A streaming agent yields to the loop
after every event, so each of its frames left in its own iteration and its
own write.

:class:`CoalescingTransport` sits between uvicorn's websockets-sansio protocol
and the socket's transport:

- a write on a quiet connection goes out at once, so a reply, a pong or the
  first frame of a stream waits for nothing;
- writes in the loop iterations that follow are held and joined into one
  write after :data:`FLUSH_TICKS` iterations or :data:`FLUSH_DELAY` seconds,
  whichever comes first, at once when :data:`FLUSH_BYTES` are held, and
  before the connection closes;
- a connection with no write for a whole iteration is quiet again;
- after the peer sent anything, the next write (likely its answer) and
  everything held before it leave at once: a request and its answer are a
  round trip that holding would only lengthen.

Everything the protocol writes (data, pings, pongs, the close frame) takes the
same path, so the order on the wire is the order of the writes. Backpressure
is the socket transport's, as before: held bytes reach it within a few
iterations, past its high-water mark it pauses the protocol and ``send``
waits; at most :data:`FLUSH_BYTES` wait here beyond that.

One callback per loop iteration (:class:`_Ticker`) ticks every busy
connection of the loop, so a thousand busy connections cost one handle per
iteration, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import weakref
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import OPEN

log = logging.getLogger("agentsocket.coalesce")

#: Loop iterations a held write waits at most for more to join it. A write syscall
#: costs the server as much as framing a few events, and each wakes the client.
FLUSH_TICKS = 16
#: Seconds a held write waits at most, however long the loop's iterations take
#: (with many busy connections one iteration can take milliseconds).
FLUSH_DELAY = 0.01
#: Held bytes that are written at once, whatever the iteration.
FLUSH_BYTES = 64 * 1024


def text_frame(data: bytes) -> bytes:
    """``data`` (UTF-8) as one unmasked, final, uncompressed text frame, as a server sends it.

    The same bytes as websockets' ``Frame(OP_TEXT, data).serialize(mask=False)``
    (RFC 6455 section 5.2), without its per-frame objects and checks.
    """
    length = len(data)
    if length < 126:
        return _SHORT.pack(0x81, length) + data
    if length < 65536:
        return _MEDIUM.pack(0x81, 126, length) + data
    return _LONG.pack(0x81, 127, length) + data


_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


class _Ticker:
    """Ticks the busy transports of one loop, once per loop iteration."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._busy: dict[CoalescingTransport, None] = {}  # insertion-ordered set
        self._handle: asyncio.Handle | None = None
        #: The loop's time at the last tick: when a write held since then started waiting.
        self.now = loop.time()

    def add(self, transport: CoalescingTransport) -> None:
        self._busy[transport] = None
        if self._handle is None:
            self.now = self._loop.time()  # not ticking since who knows when: now is now
            self._handle = self._loop.call_soon(self._tick)

    def discard(self, transport: CoalescingTransport) -> None:
        self._busy.pop(transport, None)

    def _tick(self) -> None:
        busy = self._busy
        self.now = now = self._loop.time()
        for transport in list(busy):
            try:
                still_busy = transport._tick(now)
            except Exception:  # one broken connection must not stall the others
                log.exception("coalesced write failed; dropping the connection")
                still_busy = False
                transport._fail()
            if not still_busy:
                busy.pop(transport, None)
        self._handle = self._loop.call_soon(self._tick) if busy else None


_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticker] = (
    weakref.WeakKeyDictionary()
)


def _ticker(loop: asyncio.AbstractEventLoop) -> _Ticker:
    ticker = _tickers.get(loop)
    if ticker is None:
        ticker = _tickers[loop] = _Ticker(loop)
    return ticker


class CoalescingTransport(asyncio.Transport):
    """A transport that joins the writes of a busy connection (see the module docstring).

    Args:
        transport: the socket's transport, which does the I/O.
        loop: the loop the transport belongs to.
    """

    __slots__ = (
        "_age",
        "_answering",
        "_busy",
        "_held",
        "_held_bytes",
        "_held_since",
        "_ticker",
        "_transport",
        "_wrote",
    )

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._ticker = _ticker(loop)
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._age = 0  # iterations the oldest held write has waited
        self._held_since = 0.0  # the ticker's time when the oldest held write came
        self._wrote = False  # written to the socket's transport since the last tick
        self._busy = False  # ticked each iteration; False: the next write goes out at once
        self._answering = False  # the peer spoke since the last write: write the next at once

    @property
    def held_bytes(self) -> int:
        """Bytes written here that the socket's transport has not been given yet."""
        return self._held_bytes

    # --- writing ------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._busy:
            if self._transport.is_closing():
                return
            self._busy = True
            self._ticker.add(self)
            self._write(bytes(data))
            return
        if not self._held:
            self._held_since = self._ticker.now
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._answering or self._held_bytes >= FLUSH_BYTES:
            self._answering = False
            self.flush()

    def peer_spoke(self) -> None:
        """The peer sent something: the next write (likely an answer) leaves at once.

        A request and its answer are one round trip, which holding the answer
        would only lengthen; a stream the peer did not ask for frame by frame
        is what holding is for.
        """
        if self._busy:
            self._answering = True

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Give everything held to the socket's transport now."""
        if not self._held:
            return
        held = self._held
        data = held[0] if len(held) == 1 else b"".join(held)
        self._held = []
        self._held_bytes = 0
        self._age = 0
        self._write(data)

    def _write(self, data: bytes) -> None:
        self._wrote = True
        self._transport.write(data)

    def _tick(self, now: float) -> bool:
        """One loop iteration went by (at ``now``); False once the connection is quiet."""
        if self._held:
            self._age += 1
            if self._age >= FLUSH_TICKS or now - self._held_since >= FLUSH_DELAY:
                self.flush()
            return True
        if self._wrote:
            self._wrote = False
            return True
        self._busy = False  # a whole iteration without a write
        self._answering = False
        return False

    def _drop(self) -> None:
        self._held = []
        self._held_bytes = 0
        self._busy = False
        self._answering = False
        self._ticker.discard(self)

    def _fail(self) -> None:
        self._drop()
        with contextlib.suppress(Exception):
            self._transport.abort()

    # --- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Write what is held, then close the socket's transport (after its own buffer)."""
        self.flush()
        self._drop()
        self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, with whatever the socket's transport could not send."""
        self.flush()  # what the socket takes now leaves, as without holding
        self._drop()
        self._transport.abort()

    def connection_lost(self) -> None:
        """The socket is gone: nothing held can be written."""
        self._drop()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    # --- the rest is the socket transport's ---------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._held_bytes + self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol writing through a :class:`CoalescingTransport`.

    Give it to uvicorn as ``Config(ws=CoalescingWebSocketProtocol)``.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)

    def write_text(self, text: str) -> bool:
        """Write one text frame now, if uvicorn's ``send`` would without waiting.

        ``send`` costs a coroutine, an event's wait and a message dict per
        frame; this is the same work for its usual case — an open, writable
        connection — as one call. False (nothing written): anything else
        (backpressure, a close sent, the peer gone); the caller uses ``send``,
        which waits or raises as it always does.
        """
        if (
            self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        conn = self.conn
        if conn.extensions or conn.writes or conn.expect_continuation_frame or conn.debug:
            # A negotiated extension (permessage-deflate) transforms the frame; anything
            # else unusual: websockets frames it.
            try:
                conn.send_text(text.encode())
            except InvalidState:
                return False
            self.transport.write(b"".join(conn.data_to_send()))
            return True
        if conn.state is not OPEN:
            return False
        self.transport.write(text_frame(text.encode()))
        return True

    def start_keepalive(self) -> None:
        # uvicorn calls this once, right after the handshake response is written. It
        # keeps the parsed request and the response for the connection's life but
        # never reads them again (the scope has the request's headers): 2 to 4 KB per
        # idle connection, the client's credentials among them.
        del self.request, self.response
        super().start_keepalive()

    def data_received(self, data: bytes) -> None:
        if isinstance(self.transport, CoalescingTransport):
            self.transport.peer_spoke()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(self.transport, CoalescingTransport):
            self.transport.connection_lost()
        super().connection_lost(exc)
