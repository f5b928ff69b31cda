"""The front door: ``/ws`` straight to its endpoint, everything else through Starlette."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentsocket.server.front import GatewayApp
from agentsocket.server.transport import RECEIVE_KEY, SEND_KEY


class Record:
    """Middleware that notes the type of every scope it sees."""

    seen: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        Record.seen.append(scope["type"])
        await self.app(scope, receive, send)


async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    exposed = SEND_KEY in websocket.scope and RECEIVE_KEY in websocket.scope
    await websocket.send_text(f"{websocket.scope['path']} exposed={exposed}")
    await websocket.close()


def app() -> GatewayApp:
    Record.seen = []
    route = WebSocketRoute("/ws", endpoint)
    return GatewayApp(route=route, routes=[route], middleware=[Middleware(Record)])


def test__ws__served_without_the_middleware_with_the_transport_exposed() -> None:
    with TestClient(app()) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "/ws exposed=True"
        assert client.get("/other").status_code == 404
    assert "websocket" not in Record.seen
    assert "http" in Record.seen


def test__other_websocket_path__refused_by_the_router_as_before() -> None:
    with (
        TestClient(app()) as client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/elsewhere") as ws,
    ):
        ws.receive_text()
    assert "websocket" in Record.seen


def test__middleware_added_later__sees_the_websocket_route_too() -> None:
    gateway = app()
    gateway.add_middleware(Record)
    with TestClient(gateway) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "/ws exposed=False"  # no TransportAccess in this app
    assert Record.seen.count("websocket") == 2  # both Record layers


def test__mounted__ws_under_the_mount_path() -> None:
    host = Starlette(routes=[Mount("/chat", app=app())])
    with TestClient(host) as client:
        with client.websocket_connect("/chat/ws") as ws:
            assert ws.receive_text() == "/chat/ws exposed=True"
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws") as ws:
            ws.receive_text()
    assert "websocket" not in Record.seen


def test__app__is_asgi3_for_servers_that_detect_it() -> None:
    assert asyncio.iscoroutinefunction(app().__call__)
