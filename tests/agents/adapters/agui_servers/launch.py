"""Start one of the framework AG-UI servers as a subprocess on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[4]
#: Server kind -> its module; each serves ``POST /agent``.
SERVERS = {
    "pydantic_ai": "tests.agents.adapters.agui_servers.pydantic_ai_app",
    "langgraph": "tests.agents.adapters.agui_servers.langgraph_app",
}
#: A safety net against hangs (a framework's imports are slow on a busy machine).
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class AGUIServer:
    """A running framework server: its AG-UI endpoint and what its model was given."""

    url: str
    record_file: Path
    process: subprocess.Popen[bytes]
    log_file: Path

    def seen(self) -> list[dict[str, Any]]:
        """One ``{"prompts", "answers"}`` per question the model was asked, in order."""
        if not self.record_file.exists():
            return []
        lines = self.record_file.read_text(encoding="utf-8").splitlines()
        return [record for record in map(json.loads, lines) if "prompts" in record]

    def deleted(self) -> list[str]:
        """The paths the approval server's ``delete_file`` tool was run on."""
        return [record["deleted"] for record in self._records() if "deleted" in record]

    def started(self) -> list[str]:
        """The tools of the slow server that started."""
        return [record["started"] for record in self._records() if "started" in record]

    def cancelled(self) -> list[str]:
        """The tools of the slow server that were cancelled mid-call."""
        return [record["cancelled"] for record in self._records() if "cancelled" in record]

    async def wait_for(self, key: str, count: int) -> None:
        """Wait until the server recorded ``count`` records with ``key`` (e.g. ``"cancelled"``).

        The server is another process: its record file is polled.
        """
        while True:
            if sum(key in record for record in self._records()) >= count:
                return
            await asyncio.sleep(0.01)

    def _records(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text("utf-8").splitlines()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def run_agui_server(kind: str, tmp: Path) -> Iterator[AGUIServer]:
    """Start the ``kind`` server, wait until it answers HTTP, stop it afterwards."""
    port = _free_port()
    record_file = tmp / f"{kind}-{port}.jsonl"
    log_file = tmp / f"{kind}-{port}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVERS[kind], str(port), str(record_file)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = AGUIServer(f"http://127.0.0.1:{port}/agent", record_file, process, log_file)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: AGUIServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"AG-UI server exited early:\n{server.log_file.read_text()}")
        try:
            httpx.get(server.url, timeout=1.0)  # any answer (405 for GET) means it is up
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"AG-UI server not ready after {START_TIMEOUT}s")
