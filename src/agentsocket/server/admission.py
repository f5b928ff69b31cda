"""Which TCP connections uvicorn serves: a deadline for the request head, and a cap.

uvicorn waits forever for the first request of a new connection, so silent
sockets and half-sent upgrade requests each hold a file descriptor until the
peer goes away; enough of them exhaust the process's file limit and every
accept fails, ``/healthz`` included (issue 12, bug 4). This HTTP protocol
(uvicorn's httptools one, extended) adds:

- **a handshake deadline**: a connection that has not sent a complete request
  head (an HTTP request or a WebSocket upgrade) within ``handshake_timeout``
  is closed;
- **a connection cap**: with ``max_connections`` open already, a request or
  upgrade gets ``503 Service Unavailable`` with ``Retry-After`` (before any
  WebSocket accept) and the connection is closed. Health probes (``/healthz``,
  ``/readyz``) are still answered. Such an over-cap connection gets at most
  :data:`EXCESS_TIMEOUT` to send its request;
- **room under pressure**: the connections still waiting for their request
  head, oldest first, so that at the ceiling (the cap plus half the reserve,
  below the file limit) the listener (``server/listener.py``) can close the
  oldest one that has had :data:`PRESSURE_GRACE` to speak, instead of
  refusing the newcomer.
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import resource
import termios
from typing import ClassVar

import httptools
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Requests served however many connections are open: load balancers must see the node.
EXEMPT_PATHS = frozenset({b"/healthz", b"/readyz"})
#: Seconds an over-cap connection has to send its request head.
EXCESS_TIMEOUT = 1.0
#: Seconds a connection has to send its request head when the node is at its ceiling
#: and a newer connection needs its file descriptor.
PRESSURE_GRACE = 0.5
#: Seconds before looking again when every connection at the ceiling has sent its request.
BUSY_RETRY = 0.05
#: Suggested wait in the 503 answer (seconds).
RETRY_AFTER = 1

_BODY = b"too many connections\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: %d\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"\r\n%s"
) % (RETRY_AFTER, len(_BODY), _BODY)


def file_reserve(file_limit: int) -> int:
    """File descriptors kept for everything but client sockets (store, Redis, logs).

    Half of it is the 503 zone above the cap; the other half is the process's
    own (an idle gateway on SQLite holds about 20).
    """
    return max(64, file_limit // 8)


def connection_limits(max_connections: int | None) -> tuple[int | None, int | None]:
    """The cap (503 beyond it) and the ceiling (sockets the listener holds at most).

    Args:
        max_connections: the configured cap; None derives it from the
            open-file limit (``RLIMIT_NOFILE``) minus :func:`file_reserve`.

    Returns:
        (cap, ceiling); both None when neither is set nor the file limit finite.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections, max_connections
    reserve = file_reserve(soft)
    cap = max_connections if max_connections is not None else max(1, soft - reserve)
    # Half the reserve stays for the process's own files, whatever the cap.
    return cap, max(cap, soft - reserve // 2)


def _unread_bytes(transport: asyncio.BaseTransport) -> int:
    """Bytes the kernel holds for this socket that the loop has not read yet."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    pending = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, pending)
    except (OSError, ValueError):
        return 0
    return pending[0]


class AdmissionProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head deadline and a connection cap.

    Configure with :func:`admission_protocol`; uvicorn makes one per connection.
    """

    handshake_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int | None] = None
    ceiling: ClassVar[int | None] = None
    #: Connections without a complete request head, oldest first (the value: when
    #: they were made, loop time). One per configured class, so per server.
    waiting: ClassVar[dict[AdmissionProtocol, float]] = {}

    _deadline: asyncio.TimerHandle | None = None
    _excess = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.waiting[self] = self.loop.time()
        open_now = len(self.server_state.connections)
        self._excess = self.max_connections is not None and open_now > self.max_connections
        timeout = min(self.handshake_timeout, EXCESS_TIMEOUT) if self._excess else None
        self._deadline = self.loop.call_later(
            timeout or self.handshake_timeout, self._handshake_expired
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self.waiting.pop(self, None)
        if self._excess and httptools.parse_url(self.url).path not in EXEMPT_PATHS:
            self.app = _busy  # this connection only; its one request gets 503
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        if self._excess:
            self.transport.write(_BUSY)
            self.transport.close()
            return
        super().handle_websocket_upgrade()

    @classmethod
    def make_room(cls, now: float) -> float | None:
        """Close the oldest connection that has had :data:`PRESSURE_GRACE` to send its head.

        A connection whose bytes wait in the kernel unread is spared: the loop
        has not parsed them yet, it is not silent.

        Returns:
            None when one was closed (its file descriptor is free, or will be on
            the loop's next turn); else the seconds until one could be.
        """
        for protocol, since in list(cls.waiting.items()):
            if now - since < PRESSURE_GRACE:
                return since + PRESSURE_GRACE - now
            if _unread_bytes(protocol.transport):
                continue
            protocol.evict()
            return None
        # Every connection has sent its request: room comes only when one ends.
        return BUSY_RETRY

    def evict(self) -> None:
        """Drop this connection at once (no answer: it never asked anything)."""
        self._cancel_deadline()
        self.waiting.pop(self, None)
        # Not open any more as far as the cap and the listener count.
        self.server_state.connections.discard(self)
        self.transport.abort()

    def _handshake_expired(self) -> None:
        self._deadline = None
        # No request head yet: a silent or slowloris peer.
        if self in self.waiting:
            self.waiting.pop(self)
            self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


async def _busy(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"retry-after", str(RETRY_AFTER).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BODY, "more_body": False})


def admission_protocol(
    handshake_timeout: float, max_connections: int | None
) -> type[AdmissionProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``).

    Args:
        handshake_timeout: seconds a new connection has to send its request head.
        max_connections: open connections before requests get 503; None: from
            the open-file limit (:func:`connection_limits`).
    """
    cap, ceiling = connection_limits(max_connections)
    return type(
        "AdmissionProtocol",
        (AdmissionProtocol,),
        {
            "handshake_timeout": handshake_timeout,
            "max_connections": cap,
            "ceiling": ceiling,
            "waiting": {},
        },
    )
