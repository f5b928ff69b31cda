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
  :data:`EXCESS_TIMEOUT` to send its request, and past a hard ceiling (the cap
  plus half the reserve, still below the file limit) a new connection is
  closed at once.
"""

from __future__ import annotations

import asyncio
import resource
from typing import ClassVar

import httptools
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Requests served however many connections are open: load balancers must see the node.
EXEMPT_PATHS = frozenset({b"/healthz", b"/readyz"})
#: Seconds an over-cap connection has to send its request head.
EXCESS_TIMEOUT = 1.0
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
    """File descriptors kept for everything but client sockets (store, Redis, logs)."""
    return max(32, file_limit // 8)


def connection_limits(max_connections: int | None) -> tuple[int | None, int | None]:
    """The cap (503 beyond it) and the ceiling (closed at once beyond it).

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


class AdmissionProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head deadline and a connection cap.

    Configure with :func:`admission_protocol`; uvicorn makes one per connection.
    """

    handshake_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int | None] = None
    ceiling: ClassVar[int | None] = None

    _deadline: asyncio.TimerHandle | None = None
    _excess = False
    _started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        open_now = len(self.server_state.connections)
        if self.ceiling is not None and open_now > self.ceiling:
            # Over the ceiling even reading a request would risk the file limit.
            transport.abort()
            return
        self._excess = self.max_connections is not None and open_now > self.max_connections
        timeout = min(self.handshake_timeout, EXCESS_TIMEOUT) if self._excess else None
        self._deadline = self.loop.call_later(
            timeout or self.handshake_timeout, self._handshake_expired
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self._started = True
        if self._excess and httptools.parse_url(self.url).path not in EXEMPT_PATHS:
            self.app = _busy  # this connection only; its one request gets 503
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        if self._excess:
            self.transport.write(_BUSY)
            self.transport.close()
            return
        super().handle_websocket_upgrade()

    def _handshake_expired(self) -> None:
        self._deadline = None
        # Not upgraded and no request head yet: a silent or slowloris peer.
        if not self._started and self.transport.get_protocol() is self:
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
        },
    )
