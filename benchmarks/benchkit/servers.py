"""Start, probe and stop the three servers a benchmark compares, each in its own process.

* ``agentsocket``: the real gateway (:mod:`benchkit.gateway_server`): SQLite in
  a scratch directory, the in-memory broker, the default production settings
  except the inbound rate limits and the per-user connection cap, which a
  load test would otherwise hit by design;
* ``bare``: :mod:`benchkit.bare_server`;
* ``socketio``: :mod:`benchkit.socketio_server`.

Every server is pinned to :data:`~benchkit.system.SERVER_CPU`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchkit import system

KINDS = ("agentsocket", "bare", "socketio")
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
_MODULES = {
    "agentsocket": "benchkit.gateway_server",
    "bare": "benchkit.bare_server",
    "socketio": "benchkit.socketio_server",
}
#: Raised so that the load is measured, not the abuse protection.
_GATEWAY_LIMITS = {
    "AGENTSOCKET_RATE_PER_CONNECTION": "100000000",
    "AGENTSOCKET_BURST_PER_CONNECTION": "100000000",
    "AGENTSOCKET_RATE_PER_USER": "100000000",
    "AGENTSOCKET_BURST_PER_USER": "100000000",
    "AGENTSOCKET_MAX_CONNECTIONS_PER_USER": "100000",
    "AGENTSOCKET_LOG_LEVEL": "warning",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One running server process."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]
    scratch: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.scratch / "server.log"

    @property
    def pid(self) -> int:
        return self.process.pid

    def ws_url(self, query: str = "") -> str:
        path = "/socket.io/?EIO=4&transport=websocket" if self.kind == "socketio" else "/ws"
        if query:
            path += ("&" if "?" in path else "?") + query
        return f"ws://127.0.0.1:{self.port}{path}"

    def cpu_ns(self) -> int:
        self.check()
        return system.cpu_ns(self.pid)

    def rss_kb(self) -> int:
        self.check()
        return system.rss_kb(self.pid)

    def check(self) -> None:
        """Fail with the server's log if it has exited."""
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{self.kind} server exited ({self.process.returncode}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.scratch, ignore_errors=True)


def start(kind: str, timeout: float = 60.0, env: dict[str, str] | None = None) -> Server:
    """Start a ``kind`` server on a free port and wait until it serves.

    Args:
        env: more environment variables for the server (e.g. ``OTEL_*``).
    """
    if kind not in _MODULES:
        raise ValueError(f"unknown server {kind!r}; one of {KINDS}")
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    environment = {**os.environ, "PYTHONPATH": _pythonpath()}
    if kind == "agentsocket":
        environment.update(_GATEWAY_LIMITS)
        environment["AGENTSOCKET_JWT_SECRET"] = SECRET
        environment["AGENTSOCKET_DATABASE_URL"] = f"sqlite+aiosqlite:///{scratch / 'bench.db'}"
    environment.update(env or {})
    with open(scratch / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", _MODULES[kind], "--port", str(port)],
            env=environment,
            cwd=scratch,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    server = Server(kind, port, process, scratch)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark dies, so no server outlives it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the benchmark's own cleanup still stops its servers


def _pythonpath() -> str:
    here = str(Path(__file__).resolve().parents[1])
    existing = os.environ.get("PYTHONPATH")
    return f"{here}{os.pathsep}{existing}" if existing else here


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    path = "/readyz" if server.kind == "agentsocket" else None
    while time.monotonic() < deadline:
        server.check()
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", server.port), timeout=0.2).close()
                return
            if httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=1).status_code == 200:
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.kind} server on port {server.port} not ready in {timeout:g} s")
