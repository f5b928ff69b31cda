"""Idle connections: server memory per connection and time to open them, beside two baselines.

Run from the project root (6 minutes at the default size at load average 8, most of
it handshakes waiting for a CPU; far less on a quiet machine)::

    .venv/bin/python benchmarks/bench_idle.py [--connections 1000 5000 10000] [--plot F]
    .venv/bin/python benchmarks/bench_idle.py --smoke      # seconds; what CI runs

For each count N and each server, a fresh server process (so freed memory
from an earlier case cannot be reused) is warmed up with a few connections
opened and closed; then N connections, each of a different user, are opened
with 64 handshakes in flight and left idle. Reported: KB per connection
(growth of the server's resident set size / N, one second after the last
opened), seconds to open them all (wall clock) and server CPU µs per open.

A connection is open when the server says so: the gateway's welcome frame,
the bare server's hello frame, socket.io's namespace ``connect`` packet.
Connections come from many 127.0.0.x source addresses so that tens of
thousands of them never run out of ephemeral ports; the open-files limit is
raised to its hard limit in every process (10,000 connections need ~10,100).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import client, plots, report, servers, system
from benchkit.report import CaseResult, Sample

WARMUP = 50
SETTLE_SECONDS = 1.0


async def run_case(kind: str, count: int) -> Sample:
    server = servers.start(kind)
    try:
        warm = await client.open_many(server, [f"warm{i}" for i in range(WARMUP)])
        await client.close_all(warm)
        await asyncio.sleep(0.5)
        users = [f"idle{i}" for i in range(count)]
        if kind == "agentsocket":
            for user in users:  # signed before timing: the client's cost, not the server's
                client.token(user)
        rss0, cpu0, client0 = server.rss_kb(), server.cpu_ns(), time.process_time()
        started = time.perf_counter()
        conns = await client.open_many(server, users, concurrency=64)
        opened = time.perf_counter() - started
        cpu1, client1 = server.cpu_ns(), time.process_time()
        await asyncio.sleep(SETTLE_SECONDS)
        rss1 = server.rss_kb()
        alive = sum(1 for c in conns if not c.done.done())
        if alive != count:
            raise client.BenchError(f"{kind}: {count - alive} of {count} connections closed")
        sample = Sample(
            kind,
            count,
            opened,
            cpu1 - cpu0,
            client1 - client0,
            {"kb_per_conn": (rss1 - rss0) / count, "rss_mb": rss1 / 1024, "sent": count},
        )
        await client.close_all(conns)
        return sample
    finally:
        server.stop()


async def bench(args: argparse.Namespace) -> list[CaseResult]:
    results = [CaseResult(f"{n:,} idle connections", "conn/s") for n in args.connections]
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}/{args.rounds}, load average {system.load_average()}", flush=True)
        for count, result in zip(args.connections, results, strict=True):
            samples = {kind: await run_case(kind, count) for kind in args.servers}
            result.rounds.append(samples)
            print(
                "  "
                + result.name
                + ": "
                + ", ".join(
                    f"{k} {s.extra['kb_per_conn']:.1f} KB/conn, open {s.seconds:.2f} s"
                    for k, s in samples.items()
                ),
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--servers", nargs="+", default=list(servers.KINDS), choices=servers.KINDS)
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--plot", type=Path, help="write a PNG of memory and open time")
    parser.add_argument(
        "--before", type=Path, help="an earlier run's --json, to compare agentsocket with"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.connections, args.rounds = [20], 1
    system.exit_on_sigterm()
    limit = system.raise_file_limit()
    needed = max(args.connections) + 200
    if limit < needed:
        parser.error(f"the open-files limit is {limit}; {needed} needed (raise `ulimit -Hn`)")
    header = system.announce()
    print(
        f"idle: {', '.join(f'{n:,}' for n in args.connections)} connections, "
        f"{args.rounds} round(s), open-files limit {limit}"
    )
    started = time.perf_counter()
    results = asyncio.run(bench(args))
    print()
    print(report.idle_table(results))
    print(report.client_line(results))
    before = report.load_before(args.before)
    for case in results:
        old, now = (
            before.get(case.name),
            case.median(report.SUBJECT, lambda s: s.extra["kb_per_conn"]),
        )
        if old and now is not None:
            print(
                f"{case.name}: agentsocket before {old['kb_per_conn']:.1f} KB/conn, now {now:.1f}"
            )
    system.print_end(started)
    if args.json:
        report.write_json(
            args.json,
            "idle",
            header,
            vars(args) | {"json": str(args.json), "plot": str(args.plot)},
            results,
        )
    if args.plot:
        plots.idle_plot(args.plot, results, header, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
