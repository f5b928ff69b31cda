"""Ping/pong round trips at 100 clients: throughput, p50, p99, beside two baselines.

Run from the project root (about a minute at the default size on a quiet machine;
3 minutes at load average 9)::

    .venv/bin/python benchmarks/bench_pingpong.py [--clients 100] [--round-trips 40000]
    .venv/bin/python benchmarks/bench_pingpong.py --smoke      # seconds; what CI runs

Each of ``--clients`` connections sends a ``ping``, waits for its ``pong`` and
sends the next at once (the reply is sent from the client's frame callback),
until ``--round-trips`` have been made in total: the server is saturated
with ``--clients`` requests in flight.

* agentsocket: the real gateway answers a protocol ``ping`` with a typed
  ``pong`` (rate limits, decode and validation, typed reply, metrics), for
  each version of ``--versions`` (v3 by default);
* bare uvicorn + Starlette (websockets-sansio, uvloop): answers every frame
  with one pre-encoded frame the size of the gateway's pong in the same round;
* python-socketio on uvicorn: a ``ping`` event handler emits ``pong`` with the
  ping's data, padded so the packet has that size too.

This supersedes the old ``bench_gateway.py`` (20 clients, against a bare
``websockets`` server, load generated with ``websockets`` itself).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import client, report, servers, system
from benchkit.report import CaseResult, Sample


def percentile(sorted_ns: list[int], q: float) -> float:
    """The q-quantile (0..1) of sorted values, in milliseconds (nearest rank)."""
    index = min(len(sorted_ns) - 1, max(0, math.ceil(q * len(sorted_ns)) - 1))
    return sorted_ns[index] / 1e6


async def run_case(
    server: servers.Server, clients: int, per_client: int, version: str, reply_size: int
) -> Sample:
    query = f"pong={reply_size}" if server.kind == "bare" else ""
    names = [f"p{i}-{time.monotonic_ns()}" for i in range(clients)]
    conns = await client.open_many(server, names, version=version, query=query)
    try:
        cpu0, client0 = server.cpu_ns(), time.process_time()
        started = time.perf_counter()
        for conn in conns:
            conn.start_pings(per_client, reply_size)
        timeout = 60 + clients * per_client / 1000
        await asyncio.wait_for(asyncio.gather(*(c.done for c in conns)), timeout)
        ended = max(c.ended_at for c in conns)
        cpu1, client1 = server.cpu_ns(), time.process_time()
        latencies = sorted(ns for c in conns for ns in c.latencies_ns)
        if len(latencies) != clients * per_client:
            raise client.BenchError(
                f"{server.kind}: {len(latencies)} replies of {clients * per_client}"
            )
        return Sample(
            server.kind,
            len(latencies),
            ended - started,
            cpu1 - cpu0,
            client1 - client0,
            {
                "p50_ms": percentile(latencies, 0.50),
                "p99_ms": percentile(latencies, 0.99),
                "reply_bytes": sum(c.reply_bytes for c in conns) / len(latencies),
                "sent": clients * per_client,
            },
        )
    finally:
        await client.close_all(conns)


async def bench(args: argparse.Namespace) -> list[CaseResult]:
    per_client = max(1, args.round_trips // args.clients)
    versions = args.versions if "agentsocket" in args.servers else ["-"]
    results = [CaseResult(f"ping/pong, {args.clients} clients, {v}", "rt/s") for v in versions]
    running = {kind: servers.start(kind) for kind in args.servers}
    try:
        for round_no in range(1, args.rounds + 1):
            print(
                f"round {round_no}/{args.rounds}, load average {system.load_average()}", flush=True
            )
            for version, result in zip(versions, results, strict=True):
                samples: dict[str, Sample] = {}
                size = args.reply_bytes
                for kind, server in running.items():
                    sample = await run_case(server, args.clients, per_client, version, size)
                    if kind == "agentsocket":
                        size = round(sample.extra["reply_bytes"])
                    samples[kind] = sample
                result.rounds.append(samples)
                print(
                    "  "
                    + result.name
                    + ": "
                    + ", ".join(
                        f"{k} {s.rate:,.0f}/s p50 {s.extra['p50_ms']:.2f} ms "
                        f"p99 {s.extra['p99_ms']:.2f} ms {s.cpu_us:.1f} us"
                        for k, s in samples.items()
                    ),
                    flush=True,
                )
    finally:
        for server in running.values():
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--round-trips", type=int, default=40_000, help="in total per case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--versions", nargs="+", default=["v3"], choices=["v3", "v2", "v1"])
    parser.add_argument("--servers", nargs="+", default=list(servers.KINDS), choices=servers.KINDS)
    parser.add_argument(
        "--reply-bytes",
        type=int,
        default=160,
        help="baseline reply size when the gateway is not run",
    )
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument(
        "--before", type=Path, help="an earlier run's --json, to compare agentsocket with"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.clients, args.round_trips, args.rounds = 4, 40, 1
    system.exit_on_sigterm()
    system.raise_file_limit()
    header = system.announce()
    print(
        f"ping/pong: {args.clients} clients, {args.round_trips:,} round trips per case, "
        f"{args.rounds} rounds"
    )
    started = time.perf_counter()
    results = asyncio.run(bench(args))
    print()
    print(report.pingpong_table(results))
    print(report.client_line(results))
    before = report.load_before(args.before)
    if before:
        print(report.before_lines(results, before))
    system.print_end(started)
    if args.json:
        report.write_json(
            args.json, "pingpong", header, vars(args) | {"json": str(args.json)}, results
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
