#!/usr/bin/env python
"""The soak, full form: thousands of connections streaming demo runs, every entry audited.

    .venv/bin/python scripts/soak.py [--users 1000] [--connections-per-user 2]
        [--seconds 300] [--processes 4] [--retained 100]

Starts a real gateway, then ``--processes`` client processes, each driving
its share of the users (tests/reliability/soak.py): every user's sockets must
receive each stream entry exactly once, in order, up to the head the server
published, and every run's ``agent_completed`` exactly once. Meanwhile a probe
user pings every 200 ms and the server's RSS is sampled every second. Prints
connections held, runs and entries audited, RSS start/peak/end and trend, and
the probe's p50/p99; exits 1 on any audit problem. The CI form is
tests/reliability/test_soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import run_server
from tests.reliability.load import RssSampler, probe, raise_nofile, rss_mib
from tests.reliability.soak import soak


def client_main(args: argparse.Namespace) -> None:
    """One client process: soak its users, print their audits as one JSON line."""
    raise_nofile()
    users = args.user_names.split(",")
    audits = asyncio.run(
        soak(args.url, users, args.connections_per_user, args.seconds, pause=args.pause)
    )
    print(json.dumps([a.to_json() for a in audits]))


async def drive(args: argparse.Namespace, url: str, pid: int) -> int:
    tag = uuid.uuid4().hex[:6]
    users = [f"soak-{tag}-{n}" for n in range(args.users)]
    shares = [users[i :: args.processes] for i in range(args.processes)]
    stop = asyncio.Event()
    sampler = RssSampler(pid)
    sampling = asyncio.create_task(sampler.run(stop))
    probing = asyncio.create_task(probe(url, args.probe_token, stop, 0.2))
    started = time.monotonic()
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            "--url",
            url,
            "--user-names",
            ",".join(share),
            "--connections-per-user",
            str(args.connections_per_user),
            "--seconds",
            str(args.seconds),
            "--pause",
            str(args.pause),
            stdout=asyncio.subprocess.PIPE,
        )
        for share in shares
        if share
    ]
    outputs = await asyncio.gather(*(child.communicate() for child in children))
    elapsed = time.monotonic() - started
    stop.set()
    await sampling
    result = await probing
    audits = [audit for out, _ in outputs for audit in json.loads(out.decode() or "[]")]
    problems = [(a["user"], a["problems"][:3]) for a in audits if a["problems"]]
    connections = len(audits) * args.connections_per_user
    print(
        f"{connections} connections of {len(audits)} users for {elapsed:.0f} s: "
        f"{sum(a['runs'] for a in audits)} runs, {sum(a['entries'] for a in audits)} entries "
        f"audited, {len(problems)} users with problems"
    )
    print(
        f"server RSS: start {sampler.samples[0][1]:.1f} MiB, peak {sampler.peak:.1f}, "
        f"end {sampler.samples[-1][1]:.1f}, trend after warm-up "
        f"{sampler.trend_mib_per_minute():+.1f} MiB/min"
    )
    print(result.summary())
    for user, found in problems[:10]:
        print(f"  {user}: {found}")
    missing = args.users - len(audits)
    if missing:
        print(f"{missing} users were not reported by their client process")
    return 1 if problems or missing or result.missed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--connections-per-user", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a user's runs")
    parser.add_argument("--retained", type=int, default=100, help="stream entries kept a user")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--user-names", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    raise_nofile()  # the server inherits it
    env = {
        "AGENTSOCKET_STREAM_MAX_ENTRIES": str(args.retained),
        "AGENTSOCKET_RATE_PER_USER": "1000",
        "AGENTSOCKET_BURST_PER_USER": "1000",
        "AGENTSOCKET_VALIDATE_OUTBOUND": "false",
        "AGENTSOCKET_LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), env=env) as server:
        args.probe_token = server.token("soak-probe")
        print(f"server RSS idle {rss_mib(server.process.pid):.1f} MiB")
        code = asyncio.run(drive(args, server.ws, server.process.pid))
        if "Traceback" in server.log():
            print("tracebacks in the server log")
            code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
