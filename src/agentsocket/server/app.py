"""The ASGI app: ``/ws`` plus health, readiness, metrics, tickets and schemas.

Standalone::

    app = create_app(Settings())          # uvicorn serves it; lifespan opens backends
    app = create_app(Settings(), agents=[MyAgent()])   # your agents instead of the demo

Inside a FastAPI app (a mounted app's lifespan is not run by its host, so
hand it over)::

    gateway_app = create_app(settings)
    api = FastAPI(lifespan=gateway_app.router.lifespan_context)
    api.mount("/chat", gateway_app)       # WebSocket at /chat/ws
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from agentsocket.protocol import CloseCode
from agentsocket.protocol import server_messages as s
from agentsocket.server.auth import AuthenticationFailed, issue_token
from agentsocket.server.docs_routes import docs_routes
from agentsocket.server.endpoint import websocket_endpoint
from agentsocket.server.gateway import Gateway
from agentsocket.server.metrics import CONTENT_TYPE_LATEST
from agentsocket.server.router import Router
from agentsocket.server.settings import Settings
from agentsocket.web import static_dir

log = logging.getLogger("agentsocket.app")


def create_app(settings: Settings, agents: Iterable[object] = ()) -> Starlette:
    """Build the gateway's ASGI app for ``settings``.

    Args:
        agents: agents to serve besides those ``settings`` name (objects with a
            ``name`` and an async ``run(ctx, prompt)``, or framework agents
            :func:`agentsocket.agents.adapters.adapt` wraps).

    Raises:
        AgentSpecError: an agent cannot be loaded, is not an agent, or names clash.
    """
    gateway = Gateway(settings, agents)
    router = Router(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await drain(gateway)
            await gateway.stop()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        body = {
            "ready": gateway.ready,
            "store": gateway.store is not None,
            "broker": gateway.broker.healthy,
            "shutting_down": gateway.shutting_down,
        }
        return JSONResponse(body, status_code=200 if gateway.ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def ticket(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return JSONResponse({"error": "missing_token"}, status_code=401)
        try:
            principal = await gateway.verifier.verify(token.strip())
        except AuthenticationFailed as failed:
            return JSONResponse({"error": failed.failure.value}, status_code=401)
        issued = await gateway.tickets.issue(principal)
        return JSONResponse({"ticket": issued, "expires_in": settings.ticket_ttl})

    async def dev_token(request: Request) -> Response:
        body = await _json_body(request)
        user_id = str(body.get("user_id") or "dev-user")[:64]
        assert settings.jwt_secret is not None  # dev mode always has a secret
        token = issue_token(settings.jwt_secret.get_secret_value(), user_id, ttl_seconds=3600)
        return JSONResponse({"token": token, "user_id": user_id, "expires_in": 3600})

    routes = [
        WebSocketRoute("/ws", websocket_endpoint(gateway, router)),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/auth/ticket", ticket, methods=["POST"]),
        *docs_routes(settings.default_version),
    ]
    if settings.dev_mode:
        routes.append(Route("/auth/dev-token", dev_token, methods=["POST"]))
    # Last, so every route above wins: the web chat page and its files.
    routes.append(Mount("/", app=StaticFiles(directory=static_dir(), html=True), name="web"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    app.state.router = router
    return app


async def drain(gateway: Gateway) -> None:
    """Tell every client to reconnect elsewhere, flush, close with 1001; idempotent."""
    if gateway.shutting_down:
        return
    gateway.shutting_down = True
    settings = gateway.settings
    # Local runs end first, so their agent_cancelled reaches the clients before the close.
    await gateway.runs.shutdown()
    notice = s.ServerShutdown(reason="shutdown", reconnect_after=settings.reconnect_after)
    for connection in gateway.registry:
        connection.reply(notice)
        connection.close_soon(CloseCode.GOING_AWAY, "server shutdown")
    deadline = time.monotonic() + settings.shutdown_grace
    # Sessions end on their own tasks; polling the registry is the simplest join.
    while len(gateway.registry) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
