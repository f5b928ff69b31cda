"""The app's front door: its WebSocket route served without the framework's layers.

Under Starlette a WebSocket passes through every layer of the app
(``ServerErrorMiddleware``, the user middleware, ``ExceptionMiddleware`` and
its handler wrapper, the router, the route's session wrapper and its handler
wrapper) and each of them keeps a coroutine frame for the connection's life:
about 2.5 KB per idle connection, and a frame to step through for every frame
the client sends. None of them does anything for a WebSocket of ours: they
handle HTTP, exception types the gateway never raises, and routing.

:class:`GatewayApp` is Starlette with one WebSocket route (``/ws``) taken
straight to its endpoint when the route matches, after putting the
transport's send, receive and abort into the scope (:func:`expose_transport`,
the same as :class:`~agentsocket.server.transport.TransportAccess`).
Everything else — HTTP, other paths, the lifespan — goes through Starlette
as before. Middleware added to the app after it was built (``add_middleware``)
would not see the WebSocket route, so then the route goes the framework's way
too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Match, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from agentsocket.server.transport import expose_transport


class GatewayApp(Starlette):
    """Starlette whose ``route`` (a WebSocket route) bypasses the middleware and the router.

    Args:
        route: the WebSocket route to serve directly; it must also be one of
            ``routes`` (so URL building and the fallback path know it).
        **kwargs: as for :class:`Starlette`.
    """

    def __init__(self, *, route: WebSocketRoute, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._route = route
        self._endpoint: Callable[[WebSocket], Coroutine[Any, Any, None]] = route.endpoint
        self._middleware = len(self.user_middleware)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A coroutine function, as servers detect ASGI 3 by it; the one frame it keeps
        # stands in for Starlette's own.
        if scope["type"] == "websocket" and len(self.user_middleware) == self._middleware:
            match, child_scope = self._route.matches(scope)
            if match is Match.FULL:
                scope["app"] = self
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                expose_transport(scope, receive, send)
                await self._endpoint(WebSocket(scope, receive, send))
                return
        await super().__call__(scope, receive, send)
