"""Run the gateway under uvicorn, draining connections before uvicorn closes them."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from agentsocket import tracing
from agentsocket.server.admission import AdmissionProtocol, admission_protocol
from agentsocket.server.app import create_app
from agentsocket.server.coalesce import CoalescingWebSocketProtocol
from agentsocket.server.gateway import Gateway
from agentsocket.server.listener import Listener, bind
from agentsocket.server.logs import configure, quiet_peer_errors
from agentsocket.server.settings import Settings

logger = logging.getLogger("uvicorn.error")


class GatewayServer(uvicorn.Server):
    """uvicorn's server with our listener, and a shutdown that says goodbye first.

    Connections are accepted by :class:`~agentsocket.server.listener.Listener`
    (never more than the file limit can hold, health probes served during a
    flood). Shutdown first sends ``server_shutdown`` and closes with 1001:
    uvicorn alone would close every WebSocket with 1012 before the app's
    lifespan shutdown runs, so clients would get no reconnect hint.
    """

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup for a host and port, with our listener instead of the loop's."""
        config = self.config
        protocol = config.http_protocol_class
        if sockets is not None or config.uds or config.fd is not None or config.ssl:
            await super().startup(sockets)  # not how `agentsocket serve` runs
            return
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        try:
            listening = bind(config.host, config.port, config.backlog)
        except OSError as error:
            logger.error(error)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)

        def create_protocol() -> asyncio.Protocol:
            return protocol(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        admission = protocol if issubclass(protocol, AdmissionProtocol) else None
        listener = Listener(
            listening,
            create_protocol,
            self.server_state.connections,
            ceiling=admission.ceiling if admission else None,
            make_room=admission.make_room if admission else lambda _now: None,
        )
        listener.start()
        self.servers = [listener]  # type: ignore[list-item]
        self._log_started_message(listening)
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        gateway: Gateway | None = getattr(self.app.state, "gateway", None)
        if gateway is not None:
            await gateway.drain()
        await super().shutdown(sockets)
        # uvicorn ends the process with the signal it caught, so no exit handler would run:
        # export the spans still buffered now.
        await asyncio.to_thread(tracing.shutdown)


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
    tracing.configure("agentsocket-gateway")
    app = create_app(settings)
    GatewayServer(uvicorn_config(app, settings), app).run()
