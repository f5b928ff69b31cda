"""Request/response throughput of the real gateway, side by side with a bare websockets server.

Both servers answer a JSON ``ping`` with a JSON ``pong`` carrying the same
correlation id. The gateway does everything it does in production (rate
limits, codec decode and validation for the negotiated version, typed reply,
one writer per connection, metrics); the baseline is a bare
``websockets`` server that parses the frame with orjson and answers. Each runs
in its own process; the load comes from this process over loopback.

Run: .venv/bin/python benchmarks/bench_gateway.py [--connections 20] [--pings 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"

BASELINE = """
import asyncio, orjson, sys
from websockets.asyncio.server import serve

async def handler(ws):
    async for frame in ws:
        msg = orjson.loads(frame)
        await ws.send(orjson.dumps({"type": "pong", "data": {"server_time": 0.0},
                                    "correlation_id": msg.get("correlation_id")}).decode())

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=None, ping_interval=None):
        await asyncio.Future()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


async def load(
    url: str, headers: dict[str, str], version: str | None, conns: int, pings: int
) -> float:
    """Frames per second answered, over ``conns`` connections each doing ``pings`` round trips."""
    sockets = []
    protocols = [Subprotocol(f"agentsocket.{version}")] if version else None
    for _ in range(conns):
        ws = await connect(url, additional_headers=headers, subprotocols=protocols, max_size=None)
        if version:
            await ws.recv()  # welcome
        sockets.append(ws)

    async def one(ws: object) -> None:
        for i in range(pings):
            await ws.send(orjson.dumps({"type": "ping", "correlation_id": f"c{i}"}).decode())  # type: ignore[attr-defined]
            await ws.recv()  # type: ignore[attr-defined]

    started = time.perf_counter()
    await asyncio.gather(*(one(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    for ws in sockets:
        await ws.close()
    return conns * pings / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from agentsocket.server.auth import issue_token

    gw_port, base_port = free_port(), free_port()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{gw_port}"
    tmp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "AGENTSOCKET_JWT_SECRET": SECRET,
        "AGENTSOCKET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        "AGENTSOCKET_RATE_PER_CONNECTION": "1000000",
        "AGENTSOCKET_BURST_PER_CONNECTION": "1000000",
        "AGENTSOCKET_RATE_PER_USER": "1000000",
        "AGENTSOCKET_BURST_PER_USER": "1000000",
        "AGENTSOCKET_MAX_CONNECTIONS_PER_USER": "1000",
        "AGENTSOCKET_LOG_LEVEL": "warning",
    }
    gateway = subprocess.Popen(
        [sys.executable, "-m", "agentsocket", "serve", "--port", str(gw_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    baseline = subprocess.Popen([sys.executable, "-c", BASELINE, str(base_port)])
    try:
        wait_port(gw_port)
        wait_port(base_port)
        while httpx.get(f"http://127.0.0.1:{gw_port}/readyz").status_code != 200:
            time.sleep(0.1)
        token = issue_token(SECRET, "bench")
        auth = {"Authorization": f"Bearer {token}"}
        cases = [
            ("bare websockets + orjson (baseline)", f"ws://127.0.0.1:{base_port}", {}, None),
            ("agentsocket v3", f"ws://127.0.0.1:{gw_port}/ws", auth, "v3"),
            ("agentsocket v2", f"ws://127.0.0.1:{gw_port}/ws", auth, "v2"),
            ("agentsocket v1", f"ws://127.0.0.1:{gw_port}/ws", auth, "v1"),
        ]
        # Interleave the cases in every repeat so drift in machine load hits all alike.
        runs: dict[str, list[float]] = {name: [] for name, *_ in cases}
        for _ in range(args.repeats):
            for name, url, headers, version in cases:
                rate = asyncio.run(load(url, headers, version, args.connections, args.pings))
                runs[name].append(rate)
        rows = [(name, statistics.median(rates)) for name, rates in runs.items()]
        base = rows[0][1]
        print(
            f"python {sys.version.split()[0]}, nproc {os.cpu_count()}, "
            f"{args.connections} connections x {args.pings} round trips, median of {args.repeats}"
        )
        print(f"{'case':40} {'round trips/s':>14} {'x baseline':>11}")
        for name, rate in rows:
            print(f"{name:40} {rate:14,.0f} {rate / base:11.2f}")
    finally:
        gateway.terminate()
        baseline.terminate()
        gateway.wait(10)
        baseline.wait(10)


if __name__ == "__main__":
    main()
