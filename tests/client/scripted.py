"""A scripted WebSocket peer for SDK tests: real sockets, frames from the real codec.

Each test writes the server's side as a coroutine per connection, to make the
server do what ours never does (send a duplicate, an invalid frame, no pong).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from agentsocket.protocol import (
    ClientEnvelope,
    ServerEnvelope,
    ServerMessage,
    decode_client,
    encode_server,
)
from agentsocket.protocol import server_messages as s

Script = Callable[["Peer"], Awaitable[None]]


@dataclass
class Peer:
    """The server's end of one connection."""

    ws: ServerConnection
    version: str
    query: dict[str, str]
    headers: dict[str, str]

    async def send(
        self, message: ServerMessage, *, seq: int | None = None, correlation_id: str | None = None
    ) -> None:
        envelope = ServerEnvelope(message, time.time(), "scripted", correlation_id, seq)
        frame = encode_server(envelope, self.version)
        assert frame is not None, f"{message.TYPE} cannot be sent in {self.version}"
        await self.ws.send(frame.decode())

    async def welcome(self, epoch: str = "e1", seq: int = 0, heartbeat: float = 25.0) -> None:
        await self.send(
            s.ConnectionEstablished(
                connection_id=f"conn-{id(self)}",
                user_id="scripted-user",
                protocol_version=self.version,
                server_time=time.time(),
                environment="test",
                heartbeat_interval=heartbeat,
                max_frame_size=65536,
                stream=s.StreamPosition(epoch=epoch, seq=seq),
            )
        )

    async def receive(self) -> ClientEnvelope:
        decoded = decode_client(await asyncio.wait_for(self.ws.recv(), 10), self.version)
        assert isinstance(decoded, ClientEnvelope), decoded
        return decoded

    async def hold(self) -> None:
        """Keep the connection open, reading and ignoring frames, until the client leaves."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.ws:
                pass


@dataclass
class Scripted:
    """Serves connection ``n`` with ``scripts[n]`` (the last script for any further ones)."""

    scripts: Sequence[Script]
    version: str = "v3"
    echo: bool = True
    peers: list[Peer] = field(default_factory=list)
    _server: Server | None = None

    async def __aenter__(self) -> Scripted:
        def select(_: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
            return offered[0] if self.echo and offered else None

        self._server = await serve(self._handle, "127.0.0.1", 0, select_subprotocol=select)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = dict(parse_qsl(urlsplit(ws.request.path).query))
        headers = {key.lower(): value for key, value in ws.request.headers.raw_items()}
        peer = Peer(ws, self.version, query, headers)
        self.peers.append(peer)
        script = self.scripts[min(len(self.peers), len(self.scripts)) - 1]
        await script(peer)
