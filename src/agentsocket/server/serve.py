"""Run the gateway under uvicorn, draining connections before uvicorn closes them."""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette

from agentsocket.server.admission import admission_protocol
from agentsocket.server.app import create_app
from agentsocket.server.coalesce import CoalescingWebSocketProtocol
from agentsocket.server.gateway import Gateway
from agentsocket.server.logs import configure, quiet_peer_errors
from agentsocket.server.settings import Settings


class GatewayServer(uvicorn.Server):
    """uvicorn's server, but shutdown first sends ``server_shutdown`` and closes with 1001.

    uvicorn alone would close every WebSocket with 1012 before the app's
    lifespan shutdown runs, so clients would get no reconnect hint.
    """

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        gateway: Gateway | None = getattr(self.app.state, "gateway", None)
        if gateway is not None:
            await gateway.drain()
        await super().shutdown(sockets)


def uvicorn_config(app: Starlette, settings: Settings) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # uvicorn's websockets-sansio protocol, joining the writes of a busy connection.
        ws=CoalescingWebSocketProtocol,
        # A deadline for the request head and a cap below the file limit (server/admission.py).
        http=admission_protocol(settings.handshake_timeout, settings.max_connections),
        # Transport heartbeats: uvicorn pings, and closes (1011) a peer that does not pong.
        ws_ping_interval=settings.heartbeat_interval,
        ws_ping_timeout=settings.heartbeat_timeout,
        # Frames up to 4x the limit get a typed `too_large` error; larger ones close with 1009.
        ws_max_size=4 * settings.max_frame_size,
        lifespan="on",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )
    quiet_peer_errors()  # uvicorn configured its loggers just now
    return config


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM."""
    configure(settings.log_level, settings.log_json)
    app = create_app(settings)
    GatewayServer(uvicorn_config(app, settings), app).run()
