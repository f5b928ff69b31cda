#!/usr/bin/env python
"""Resource suites, full form: floods, slowloris, slow consumers, CPU-heavy prompts.

    .venv/bin/python scripts/resources.py [--scale 1.0] [--only NAME ...]

Each attack runs against one real gateway beside a probe user who pings every
100 ms and a ``/healthz`` poll every 0.5 s; prints what the attack saw, the
probe's round trips and the server's RSS before and during. Exits 1 when a
probe ping or a ``/healthz`` went unanswered. ``--scale`` multiplies every
count and duration. The CI form is tests/reliability/test_resources.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess, run_server
from tests.reliability.attacks import (
    authenticated_flood,
    cpu_heavy_prompts,
    silent_sockets,
    slow_consumers,
    slowloris,
)
from tests.reliability.load import healthz, probe, raise_nofile, rss_mib
from tests.reliability.test_resources import RESOURCE_ENV

Attack = Callable[[ServerProcess, float], Awaitable[str]]


async def _silent(server: ServerProcess, scale: float) -> str:
    return (await silent_sockets(server.port, int(800 * scale), 30 * scale)).summary()


async def _slowloris(server: ServerProcess, scale: float) -> str:
    return (await slowloris(server.port, int(500 * scale), 70 * scale)).summary()


async def _flood(server: ServerProcess, scale: float) -> str:
    return (await authenticated_flood(server, int(1000 * scale), 20 * scale)).summary()


async def _consumers(server: ServerProcess, scale: float) -> str:
    return (await slow_consumers(server, int(20 * scale), 60.0)).summary()


async def _cpu(server: ServerProcess, scale: float) -> str:
    sent, ended = await cpu_heavy_prompts(server, 20 * scale, 0.5)
    return f"{sent} hostile prompts, {ended} runs ended"


ATTACKS: dict[str, Attack] = {
    "silent": _silent,
    "slowloris": _slowloris,
    "flood": _flood,
    "slow-consumers": _consumers,
    "cpu": _cpu,
}


async def measure(server: ServerProcess, name: str, attack: Attack, scale: float) -> bool:
    stop = asyncio.Event()
    health: list[int | str] = []

    async def poll() -> None:
        while not stop.is_set():
            health.append(await healthz(server.http))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    idle = rss_mib(server.process.pid)
    probing = asyncio.create_task(probe(server.ws, server.token(f"probe-{name}"), stop))
    polling = asyncio.create_task(poll())
    try:
        seen = await attack(server, scale)
        during = rss_mib(server.process.pid)
    finally:
        stop.set()
        result = await probing
        await polling
    unhealthy = [h for h in health if h != 200]
    print(f"{name}: {seen}")
    print(f"  RSS {idle:.1f} -> {during:.1f} MiB; {result.summary()}")
    print(f"  /healthz: {len(health) - len(unhealthy)} of {len(health)} answered 200")
    return not result.missed and result.closed is None and not unhealthy and bool(result.rtts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", nargs="+", choices=sorted(ATTACKS), default=list(ATTACKS))
    args = parser.parse_args()
    raise_nofile()
    ok = True
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), env=RESOURCE_ENV) as server:
        for name in args.only:
            ok &= asyncio.run(measure(server, name, ATTACKS[name], args.scale))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
