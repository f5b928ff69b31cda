#!/usr/bin/env python
"""A CPU-heavy prompt beside a latency probe (issue 12, bug 2), against a real gateway.

    .venv/bin/python scripts/cpu-probe.py [--seconds 10] [--interval 0.5] [--prompts parens]

One user sends hostile maximum-length prompts to the demo agent every
``interval`` seconds; another user pings every 50 ms. Prints the second
user's ping round trips (p50, p99, max) and how many hostile runs completed.
Before the fix, ``"1+1" + ")" * 32765`` held the event loop ~1 s and
``"1" * 32768`` minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess, run_server
from websockets.asyncio.client import ClientConnection, connect

PROMPTS = {
    "parens": "1+1" + ")" * 32_765,
    "digits": "1" * 32_768,
    "open-parens": "(" * 32_765 + "1+1",
    "spaces": "5" + " " * 32_767,
}


async def open_as(server: ServerProcess, user: str) -> ClientConnection:
    ws = await connect(
        server.ws,
        subprotocols=["agentsocket.v3"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {server.token(user)}"},
        max_size=None,
    )
    await ws.recv()
    return ws


async def attacker(
    server: ServerProcess, seconds: float, interval: float, prompts: list[str]
) -> tuple[int, int]:
    ws = await open_as(server, "attacker")
    sent = completed = 0
    deadline = time.monotonic() + seconds

    async def read() -> None:
        nonlocal completed
        async for frame in ws:
            message = json.loads(frame)
            ended = message["type"] in {"agent_completed", "agent_error"}
            if ended and message["data"].get("parent_run_id") is None:
                completed += 1

    reader = asyncio.create_task(read())
    while time.monotonic() < deadline:
        prompt = prompts[sent % len(prompts)]
        await ws.send(json.dumps({"type": "user_message", "data": {"content": prompt}}))
        sent += 1
        await asyncio.sleep(interval)
    await asyncio.sleep(2)
    reader.cancel()
    await ws.close()
    return sent, completed


async def probe(server: ServerProcess, seconds: float) -> list[float]:
    ws = await open_as(server, "prober")
    rtts: list[float] = []
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        index += 1
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "ping", "data": {}, "correlation_id": f"p{index}"}))
        while json.loads(await ws.recv()).get("correlation_id") != f"p{index}":
            pass
        rtts.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    await ws.close()
    return rtts


async def measure(
    server: ServerProcess, seconds: float, interval: float, prompts: list[str]
) -> None:
    (sent, completed), rtts = await asyncio.gather(
        attacker(server, seconds, interval, prompts), probe(server, seconds)
    )
    rtts.sort()
    p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    print(f"hostile prompts sent {sent}, runs ended {completed}")
    print(
        f"other user's ping: {len(rtts)} round trips, p50 {statistics.median(rtts):.1f} ms, "
        f"p99 {p99:.1f} ms, max {rtts[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument(
        "--prompts", nargs="+", choices=sorted(PROMPTS), default=sorted(PROMPTS), metavar="NAME"
    )
    args = parser.parse_args()
    prompts = [PROMPTS[name] for name in args.prompts]
    env = {"AGENTSOCKET_MAX_RUNS_PER_USER": "100"}
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), env=env) as server:
        asyncio.run(measure(server, args.seconds, args.interval, prompts))


if __name__ == "__main__":
    main()
