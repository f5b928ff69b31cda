"""The ASGI app: ``/ws`` plus health, readiness, metrics, tickets and schemas.

Standalone::

    app = create_app(Settings())          # uvicorn serves it; lifespan opens backends

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
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from agentsocket.aio import cancel_and_wait
from agentsocket.looplag import watch_loop_lag
from agentsocket.runs import build_agent_set, history_search
from agentsocket.server.ag_ui_http import ag_ui_route
from agentsocket.server.auth import AuthenticationFailed, issue_token
from agentsocket.server.auth.throttle import ThrottleMiddleware
from agentsocket.server.docs_routes import docs_routes
from agentsocket.server.endpoint import websocket_endpoint
from agentsocket.server.front import GatewayApp
from agentsocket.server.gateway import Gateway
from agentsocket.server.metrics import CONTENT_TYPE_LATEST
from agentsocket.server.security_headers import (
    SecurityHeadersMiddleware,
    inline_script_hashes,
    security_headers,
)
from agentsocket.server.settings import Settings
from agentsocket.server.transport import TransportAccess
from agentsocket.web import static_dir

log = logging.getLogger("agentsocket.app")


def create_app(settings: Settings, agents: Iterable[object] = ()) -> Starlette:
    """Build the gateway's ASGI app for ``settings``; its lifespan opens the :class:`Gateway`.

    Args:
        agents: agents to serve besides those ``settings`` name (objects with a
            ``name`` and an async ``run(ctx, prompt)``, or framework agents
            :func:`agentsocket.agents.adapters.adapt` wraps).

    Raises:
        AgentSpecError: an agent cannot be loaded, is not an agent, or names clash
            (here, before anything is served).
    """
    opened: list[Gateway] = []

    def gateway() -> Gateway:
        if not opened:
            raise RuntimeError("the gateway is not open (the app's lifespan did not run)")
        return opened[0]

    async def search(user_id: str, query: str) -> list[str]:
        return await history_search(gateway().get_store())(user_id, query)

    agent_set = build_agent_set(settings, agents, search=search)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with Gateway.open(settings, agent_set) as open_gateway:
            opened.append(open_gateway)
            app.state.gateway = open_gateway
            lag = asyncio.create_task(watch_loop_lag(open_gateway.metrics.loop_lag))
            try:
                yield
            finally:
                await cancel_and_wait(lag)
                opened.clear()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if not opened:
            return JSONResponse({"ready": False, "store": False}, status_code=503)
        body = {
            "ready": opened[0].ready,
            "store": True,
            "broker": opened[0].broker.healthy,
            "shutting_down": opened[0].shutting_down,
        }
        return JSONResponse(body, status_code=200 if opened[0].ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(gateway().metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def ticket(request: Request) -> Response:
        gateway_ = gateway()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return JSONResponse({"error": "missing_token"}, status_code=401)
        try:
            principal = await gateway_.verifier.verify(token.strip())
        except AuthenticationFailed as failed:
            return JSONResponse({"error": failed.failure.value}, status_code=401)
        issued = await gateway_.tickets.issue(principal)
        return JSONResponse({"ticket": issued, "expires_in": settings.ticket_ttl})

    async def dev_token(request: Request) -> Response:
        body = await _json_body(request)
        user_id = str(body.get("user_id") or "dev-user")[:64]
        assert settings.jwt_secret is not None  # dev mode always has a secret
        token = issue_token(settings.jwt_secret.get_secret_value(), user_id, ttl_seconds=3600)
        return JSONResponse({"token": token, "user_id": user_id, "expires_in": 3600})

    websocket = WebSocketRoute("/ws", websocket_endpoint(gateway))
    routes = [
        websocket,
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/auth/ticket", ticket, methods=["POST"]),
        ag_ui_route(settings.ag_ui_path, gateway),
        *docs_routes(settings.default_version),
    ]
    if settings.dev_mode:
        routes.append(Route("/auth/dev-token", dev_token, methods=["POST"]))
    # Last, so every route above wins: the web chat page and its files.
    routes.append(Mount("/", app=StaticFiles(directory=static_dir(), html=True), name="web"))
    middleware = [
        Middleware(TransportAccess),
        Middleware(SecurityHeadersMiddleware, headers=security_headers(_page_script_hashes())),
        Middleware(ThrottleMiddleware, paths={"/auth/ticket"}),
    ]
    # `/ws` straight to its endpoint (server/front.py); the middleware is for HTTP.
    app = GatewayApp(route=websocket, routes=routes, lifespan=lifespan, middleware=middleware)
    return app


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _page_script_hashes() -> list[str]:
    # The page's import map is its one inline script; the policy allows exactly it.
    page = static_dir() / "index.html"
    return inline_script_hashes(page.read_text(encoding="utf-8")) if page.exists() else []
