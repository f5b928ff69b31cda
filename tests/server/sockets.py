"""Stand-ins for the socket side of a connection, and a gateway to run sessions in."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.websockets import WebSocketState

from agentsocket.protocol import get_version
from agentsocket.server.auth import Principal
from agentsocket.server.connection import Connection
from agentsocket.server.endpoint import attach, detach
from agentsocket.server.gateway import Gateway
from agentsocket.server.session import Session
from agentsocket.server.settings import Settings
from agentsocket.server.transport import ABORT_KEY


class FakeSocket:
    """Stands in for Starlette's WebSocket: records frames; can stall like a slow peer."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {ABORT_KEY: self.abort}
        self.application_state = WebSocketState.CONNECTED
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.aborted = False
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()
        self.sends = 0
        self.stall_every = 0  # every n-th write waits a moment, like a busy peer

    async def send(self, message: dict[str, Any]) -> None:
        self.sends += 1
        if self.stall_every and self.sends % self.stall_every == 0:
            await asyncio.sleep(0.001)
        if not self.gate.is_set():
            await self.gate.wait()
        if self.aborted:
            raise OSError("aborted")
        if message["type"] == "websocket.send":
            self.sent.append(message["text"])

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if not self.gate.is_set():
            await self.gate.wait()
        self.closed = (code, reason or "")
        self.application_state = WebSocketState.DISCONNECTED
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    def abort(self) -> None:
        self.aborted = True
        self.application_state = WebSocketState.DISCONNECTED
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

    def client_sends(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    def leave(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.sent]

    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames() if f.get("seq") is not None]


def settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp / 'gateway.db'}",
        "validate_outbound": True,
        "jwt_secret": "unit-test-secret-that-is-long-enough-0123456789",
        "server_id": "unit",
        **overrides,
    }
    return Settings(**values)


@contextlib.asynccontextmanager
async def gateway(tmp: Path, **overrides: Any) -> AsyncIterator[Gateway]:
    async with Gateway.open(settings(tmp, **overrides)) as opened:
        yield opened


class Client:
    """One connection served by a real :class:`Session` over a :class:`FakeSocket`."""

    def __init__(self, gateway: Gateway, user_id: str, version: str = "v3") -> None:
        self.socket = FakeSocket()
        self.connection: Connection = attach(
            gateway,
            self.socket,  # type: ignore[arg-type]
            user_id,
            get_version(version),
        )
        self.session = Session(gateway, self.connection, Principal(user_id, None, {}))
        self._gateway = gateway
        self.task: asyncio.Task[None] | None = None

    def start(self, resume: tuple[str | None, int] | None = None) -> Client:
        self.task = asyncio.create_task(self._run(resume))
        return self

    async def _run(self, resume: tuple[str | None, int] | None) -> None:
        try:
            await self.session.run(resume)
        finally:
            detach(self._gateway, self.connection)

    async def ended(self, timeout: float = 5.0) -> None:
        assert self.task is not None
        await asyncio.wait_for(asyncio.shield(self.task), timeout)


async def settle(rounds: int = 20) -> None:
    """Let every ready task run a few steps."""
    for _ in range(rounds):
        await asyncio.sleep(0)
