"""Start the real gateway (``python -m agentsocket serve``) on a free port and talk to it.

Nothing of ours is mocked: the server is a subprocess, clients are plain
``websockets`` connections over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from agentsocket.server.auth import issue_token

SECRET = "e2e-secret-that-is-long-enough-for-hs256-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """One running gateway subprocess."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    #: Started with --dev: it made its own secret, so tokens come from /auth/dev-token.
    dev: bool = False

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(self, user_id: str, **kwargs: Any) -> str:
        """A valid token for ``user_id`` (``kwargs`` as :func:`issue_token`'s; not with --dev)."""
        if not self.dev:
            return issue_token(SECRET, user_id, **kwargs)
        if kwargs:
            raise ValueError("a --dev gateway signs its own tokens: no token options")
        answer = httpx.post(f"{self.http}/auth/dev-token", json={"user_id": user_id}, timeout=10)
        answer.raise_for_status()
        token: str = answer.json()["token"]
        return token

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def run_server(
    tmp: Path,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    module: Sequence[str] = ("-m", "agentsocket", "serve"),
    ready_path: str = "/readyz",
    cwd: Path | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> Iterator[ServerProcess]:
    """Start a gateway, wait until it is ready, stop it afterwards.

    Args:
        preexec_fn: run in the child before it starts (e.g. to lower a resource limit).
    """
    port = free_port()
    environment = {
        **os.environ,
        "AGENTSOCKET_JWT_SECRET": SECRET,
        "AGENTSOCKET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'e2e.db'}",
        "AGENTSOCKET_ENVIRONMENT": "test",
        "AGENTSOCKET_SERVER_ID": f"e2e-{port}",
        "AGENTSOCKET_VALIDATE_OUTBOUND": "true",
        "AGENTSOCKET_SHUTDOWN_GRACE": "2",
        **(env or {}),
    }
    dev = "--dev" in args
    if dev:  # dev mode refuses a configured secret: it makes one for the run
        environment["AGENTSOCKET_JWT_SECRET"] = ""
    log_path = tmp / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *module, "--port", str(port), *args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            preexec_fn=preexec_fn,
        )
    server = ServerProcess(port, process, log_path, environment, dev=dev)
    try:
        wait_ready(server, ready_path)
        yield server
    finally:
        server.stop()


def wait_ready(server: ServerProcess, path: str = "/readyz", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.http}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")


@contextlib.asynccontextmanager
async def client(
    server: ServerProcess,
    user_id: str | None = "alice",
    version: str | None = "v3",
    *,
    query: str = "",
    subprotocols: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[ClientConnection]:
    """A plain websockets connection, authenticated as ``user_id`` with a Bearer header."""
    all_headers = dict(headers or {})
    if user_id is not None:
        all_headers["Authorization"] = f"Bearer {server.token(user_id)}"
    offered = (
        subprotocols
        if subprotocols is not None
        else ([f"agentsocket.{version}"] if version else [])
    )
    url = server.ws + (f"?{query}" if query else "")
    async with connect(
        url,
        subprotocols=list(offered) or None,  # type: ignore[arg-type]
        additional_headers=all_headers,
        max_size=None,
        open_timeout=10,
        # A test that stops reading must not wait out the default 10 s close handshake.
        close_timeout=1,
    ) as websocket:
        yield websocket


async def recv_json(websocket: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(websocket.recv(), timeout)
    data: dict[str, Any] = json.loads(frame)
    return data


async def recv_until(
    websocket: ClientConnection, predicate: Any, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Every frame up to and including the first for which ``predicate(frame)`` is true."""
    frames: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = await recv_json(websocket, max(0.01, left))
        frames.append(frame)
        if predicate(frame):
            return frames


def tag(frame: Mapping[str, Any]) -> str:
    """A frame's message name in any version (v1 ``event``, v2 ``system_message`` events)."""
    if "event" in frame and "type" not in frame:
        return str(frame["event"])
    if frame.get("type") == "system_message":
        return str(frame["data"]["event"])
    return str(frame["type"])


def body(frame: Mapping[str, Any]) -> Mapping[str, Any]:
    """A frame's fields in any version (v1 frames are flat)."""
    data = frame.get("data")
    return data if isinstance(data, Mapping) and "type" in frame else frame
