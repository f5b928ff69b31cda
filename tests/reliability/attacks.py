"""Resource attacks on a running gateway, each bounded in count and time.

Floods of silent TCP sockets, slowloris (headers a byte-line at a time),
floods of authenticated WebSocket connections, consumers that never read,
and CPU-heavy prompts (those of ``scripts/cpu-probe.py``). Each returns what
it saw; the caller asserts what must hold while it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from tests.e2e.harness import ServerProcess
from tests.e2e.rawws import handshake, read_frame, send_frame
from tests.reliability.load import open_user, rss_mib

CONNECT_TIMEOUT = 10.0


@dataclass
class FloodReport:
    """How many sockets an attack opened, had refused, and saw closed by the server."""

    opened: int = 0
    refused: int = 0
    closed_by_server: int = 0
    rss_peak: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.opened} sockets opened, {self.refused} refused, "
            f"{self.closed_by_server} closed by the server"
        )


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open_tcp(port: int, count: int, report: FloodReport) -> list[Stream]:
    async def one() -> Stream | None:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            report.refused += 1
            return None

    opened = [s for s in await asyncio.gather(*(one() for _ in range(count))) if s is not None]
    report.opened = len(opened)
    return opened


async def _closed(reader: asyncio.StreamReader) -> bool:
    """The server closed this socket (EOF or reset), looking without waiting long."""
    try:
        data = await asyncio.wait_for(reader.read(65536), 0.01)
    except TimeoutError:
        return False
    except OSError:
        return True
    # Any answer to a half-sent request (a 4xx) counts as the server ending it, too.
    return data == b"" or data.startswith(b"HTTP/1.1 4")


async def _close_all(streams: list[Stream]) -> None:
    for _, writer in streams:
        writer.close()
    for _, writer in streams:
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def silent_sockets(port: int, count: int, hold: float) -> FloodReport:
    """Open ``count`` TCP sockets that never send a byte; hold them ``hold`` seconds."""
    report = FloodReport()
    streams = await _open_tcp(port, count, report)
    try:
        await asyncio.sleep(hold)
        report.closed_by_server = sum([await _closed(reader) for reader, _ in streams])
    finally:
        await _close_all(streams)
    return report


async def slowloris(port: int, count: int, seconds: float) -> FloodReport:
    """``count`` upgrade requests whose headers never end: one more line per second each."""
    report = FloodReport()
    streams = await _open_tcp(port, count, report)
    ended: set[int] = set()
    try:
        head = f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        deadline = time.monotonic() + seconds
        line = head
        while time.monotonic() < deadline:
            for index, (reader, writer) in enumerate(streams):
                if index in ended:
                    continue
                try:
                    writer.write(line.encode())
                    await writer.drain()
                except OSError:
                    ended.add(index)
                    continue
                if await _closed(reader):
                    ended.add(index)
            line = f"X-Slow-{int(time.monotonic() * 1000)}: 1\r\n"
            await asyncio.sleep(1.0)
        report.closed_by_server = len(ended)
    finally:
        await _close_all(streams)
    return report


async def authenticated_flood(server: ServerProcess, count: int, hold: float) -> FloodReport:
    """Open ``count`` v3 connections of ``count`` users at once; hold them ``hold`` seconds."""
    report = FloodReport()
    gate = asyncio.Semaphore(100)
    tokens = [server.token(f"flood-{n}") for n in range(count)]

    async def one(token: str) -> ClientConnection | None:
        async with gate:
            try:
                return await open_user(server.ws, token)
            except (OSError, TimeoutError, WebSocketException):  # an HTTP 503 too
                report.refused += 1
                return None

    opened = [ws for ws in await asyncio.gather(*(one(t) for t in tokens)) if ws is not None]
    report.opened = len(opened)
    try:
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            report.rss_peak = max(report.rss_peak, rss_mib(server.process.pid))
            await asyncio.sleep(0.5)
        report.closed_by_server = sum(ws.close_code is not None for ws in opened)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return report


async def slow_consumers(server: ServerProcess, count: int, timeout: float) -> FloodReport:
    """``count`` clients that ask for a lot and never read; each until the server drops it."""
    report = FloodReport()

    def sleeper(index: int) -> bool:
        user = f"sleeper-{index}"
        headers = {"Authorization": f"Bearer {server.token(user)}"}
        sock = handshake(server.port, "/ws", headers, rcvbuf=4096)
        try:
            read_frame(sock)  # the welcome; nothing is read after it
            create = json.dumps({"type": "create_thread", "data": {"title": "t" * 200}})
            listing = json.dumps({"type": "list_threads", "data": {"limit": 100}})
            for _ in range(40):
                send_frame(sock, create.encode())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    for _ in range(20):
                        send_frame(sock, listing.encode())
                except OSError:  # reset or broken pipe: the server let go of it
                    return True
                time.sleep(0.05)
            return False
        finally:
            sock.close()

    results = await asyncio.gather(*(asyncio.to_thread(sleeper, n) for n in range(count)))
    report.opened = len(results)
    report.closed_by_server = sum(results)
    return report


def _cpu_probe_script() -> ModuleType:
    """``scripts/cpu-probe.py`` as a module (its name has a dash)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "cpu-probe.py"
    spec = importlib.util.spec_from_file_location("cpu_probe", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def cpu_heavy_prompts(
    server: ServerProcess, seconds: float, interval: float, drain: float = 30.0
) -> tuple[int, int]:
    """The hostile prompts of ``scripts/cpu-probe.py``, one every ``interval`` seconds.

    Returns:
        (prompts sent, root runs ended), waiting up to ``drain`` seconds for the ends.
    """
    prompts: dict[str, str] = _cpu_probe_script().PROMPTS
    ws = await open_user(server.ws, server.token("cpu-attacker"))
    sent = ended = 0
    done = asyncio.Event()

    async def read() -> None:
        nonlocal ended
        async for frame in ws:
            message = json.loads(frame)
            root = message.get("data", {}).get("parent_run_id") is None
            if message["type"] in {"agent_completed", "agent_error"} and root:
                ended += 1
                if ended == sent and time.monotonic() >= deadline:
                    done.set()

    deadline = time.monotonic() + seconds
    reader = asyncio.create_task(read())
    try:
        names = sorted(prompts)
        while time.monotonic() < deadline:
            content = prompts[names[sent % len(names)]]
            await ws.send(json.dumps({"type": "user_message", "data": {"content": content}}))
            sent += 1
            await asyncio.sleep(interval)
        if ended < sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), drain)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await reader
        await ws.close()
    return sent, ended


async def open_connections(server: ServerProcess) -> float:
    """WebSocket connections the server holds, every version (``/metrics``)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{server.http}/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("agentsocket_connections{")
    )
