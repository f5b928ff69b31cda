"""What the gateway needs from the ASGI server beyond ASGI: the raw send, and abort.

:class:`TransportAccess` is the app's first middleware (Starlette's error
middleware passes WebSocket sends through untouched). For each WebSocket it
puts into the scope

* ``agentsocket.send`` and ``agentsocket.receive``: the server's own ``send``
  and ``receive`` callables, so a data frame skips the framework's wrappers
  (they only re-check state the gateway tracks);
* ``agentsocket.abort``: drops the TCP connection at once, when the server
  exposes its transport (uvicorn's protocols do, as ``.transport``);
* ``agentsocket.write_text``: writes a text frame in one call when the
  connection can take it at once (``CoalescingWebSocketProtocol.write_text``,
  ``agentsocket serve``'s protocol), False to use ``send`` instead.

A peer that stops reading would otherwise keep its socket, with everything
queued for it, for as long as the kernel keeps retrying: a close frame queued
behind megabytes it never reads is never read either. Under a server without
a transport, the gateway still releases the connection and leaves the socket
to the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

SEND_KEY = "agentsocket.send"
RECEIVE_KEY = "agentsocket.receive"
WRITE_TEXT_KEY = "agentsocket.write_text"
ABORT_KEY = "agentsocket.abort"


class TransportAccess:
    """ASGI middleware: expose the raw send and an abort for each WebSocket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine of its own: the app's awaitable is handed on, so a
        # WebSocket's life keeps no frame of this layer (one per idle connection).
        if scope["type"] == "websocket":
            expose_transport(scope, receive, send)
        return self.app(scope, receive, send)


def expose_transport(scope: Scope, receive: Receive, send: Send) -> None:
    """Put the server's send, receive and (if it has one) abort into a WebSocket's scope."""
    scope[SEND_KEY] = send
    scope[RECEIVE_KEY] = receive
    protocol = getattr(send, "__self__", None)
    abort = getattr(getattr(protocol, "transport", None), "abort", None)
    if callable(abort):
        scope[ABORT_KEY] = abort
    write_text = getattr(protocol, "write_text", None)
    if callable(write_text):
        scope[WRITE_TEXT_KEY] = write_text


def raw_send(websocket: WebSocket) -> Send:
    """The server's own send for ``websocket`` (the framework's when not wrapped)."""
    send: Send | None = websocket.scope.get(SEND_KEY)
    return send if send is not None else websocket.send


def raw_receive(websocket: WebSocket) -> Receive:
    """The server's own receive for ``websocket`` (the framework's when not wrapped)."""
    receive: Receive | None = websocket.scope.get(RECEIVE_KEY)
    return receive if receive is not None else websocket.receive


def write_text_of(websocket: WebSocket) -> Callable[[str], bool] | None:
    """Writes a text frame at once if it can (True), else False; None if the server cannot."""
    write_text: Callable[[str], bool] | None = websocket.scope.get(WRITE_TEXT_KEY)
    return write_text


def abort_of(websocket: WebSocket) -> Callable[[], None] | None:
    """A callable that drops ``websocket``'s TCP connection, if the server allows it."""
    abort: Callable[[], None] | None = websocket.scope.get(ABORT_KEY)
    return abort
