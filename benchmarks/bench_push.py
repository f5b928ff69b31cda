"""Push throughput: an agent streaming text deltas through the whole gateway, beside two baselines.

Run from the project root (about 30 s a round, 2½ minutes at the default size on a
quiet machine; 6 minutes at load average 9)::

    .venv/bin/python benchmarks/bench_push.py [--events 40000] [--rounds 5] [--json F] [--plot F]
    .venv/bin/python benchmarks/bench_push.py --cases v3 users   # only the cases named so
    .venv/bin/python benchmarks/bench_push.py --smoke      # seconds; what CI runs

Cases (each delivers about ``--events`` payload frames in total):

* ``1 client, v3`` / ``v2``: one connection, one run of ``--events`` deltas;
* ``1 client, v1``: v1 has no streamed text (the gateway drops deltas for v1
  clients), so its run streams ``agent_thinking`` events of the same text instead;
* ``N users, one run each``: ``--users`` connections of different users, each
  user starts a run of ``events / users`` deltas at the same moment;
* ``1 user x C connections``: one run of ``events / C`` deltas, which every
  connection of the user receives (the fan-out), for each C of ``--fanout``.

Beside each: a bare uvicorn + Starlette server (websockets-sansio, uvloop)
sending pre-encoded frames of the size the gateway's frames had in the same
round, and python-socketio on uvicorn emitting events of that size, to the
same connections. Each server runs in its own process on CPU 0, the picows
load client in this process on CPU 1. The figures: frames delivered per
second (wall clock, from the request to the last frame), server CPU
microseconds per frame (kernel schedstat of every server thread), and the
median of per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import client, plots, report, servers, system
from benchkit.report import CaseResult, Sample
from benchkit.socketio_server import PACKET_OVERHEAD

#: Characters per streamed delta: what the built-in demo agent streams (DEFAULT_CHUNK).
DELTA_CHARS = 24


@dataclass(frozen=True)
class Case:
    name: str
    users: int
    connections: int  # per user
    version: str = "v3"

    def kind(self) -> str:
        return "think" if self.version == "v1" else "delta"

    def events(self, total: int) -> int:
        """Events per run so that the case delivers about ``total`` frames."""
        return max(1, math.ceil(total / (self.users * self.connections)))


def cases(users: int, fanout: list[int]) -> list[Case]:
    return [
        Case("1 client, v3 deltas", 1, 1, "v3"),
        Case("1 client, v2 deltas", 1, 1, "v2"),
        Case("1 client, v1 agent_thinking", 1, 1, "v1"),
        Case(f"{users} users, one run each", users, 1),
        *(Case(f"1 user x {c} connections", 1, c) for c in fanout),
    ]


async def run_case(server: servers.Server, case: Case, events: int, size: int) -> Sample:
    """Open the case's connections, have every user's stream pushed once, and time it."""
    names = [f"u{i}-{time.monotonic_ns()}" for i in range(case.users)]
    conns = await client.open_many(
        server, [n for n in names for _ in range(case.connections)], version=case.version
    )
    try:
        leaders = conns[:: case.connections]  # one connection per user starts its run
        for conn in conns:
            conn.expect = events
        if server.kind == "agentsocket":
            triggers = [
                client.user_message(case.version, f"{case.kind()} {events} {DELTA_CHARS}")
                for _ in leaders
            ]
        elif server.kind == "bare":
            triggers = [f'{{"push":{events},"size":{size}}}'.encode() for _ in leaders]
        else:
            triggers = [f'42["push",{{"n":{events},"size":{size}}}]'.encode() for _ in leaders]
        cpu0, client0 = server.cpu_ns(), time.process_time()
        started = time.perf_counter()
        for conn, trigger in zip(leaders, triggers, strict=True):
            conn.send(trigger)
        timeout = 60 + events * len(conns) / 2000
        await asyncio.wait_for(asyncio.gather(*(c.done for c in conns)), timeout)
        ended = max(c.ended_at for c in conns)
        cpu1, client1 = server.cpu_ns(), time.process_time()
        for conn in conns:
            if conn.payloads != events:
                raise client.BenchError(
                    f"{server.kind} {case.name}: a connection got {conn.payloads} of {events}"
                )
        delivered = sum(c.payloads for c in conns)
        return Sample(
            server.kind,
            delivered,
            ended - started,
            cpu1 - cpu0,
            client1 - client0,
            {
                "frame_bytes": sum(c.payload_bytes for c in conns) / delivered,
                "sent": events * len(conns),
            },
        )
    finally:
        await client.close_all(conns)


async def bench(args: argparse.Namespace) -> list[CaseResult]:
    chosen = [
        c for c in cases(args.users, args.fanout) if not args.cases or _chosen(c.name, args.cases)
    ]
    results = [CaseResult(c.name, "frames/s") for c in chosen]
    for case, result in zip(chosen, results, strict=True):
        if case.version == "v1":
            result.note = "v1 drops agent_message_delta, so v1 streams agent_thinking instead"
    running = {kind: servers.start(kind) for kind in args.servers}
    try:
        for round_no in range(1, args.rounds + 1):
            print(
                f"round {round_no}/{args.rounds}, load average {system.load_average()}", flush=True
            )
            for case, result in zip(chosen, results, strict=True):
                events = case.events(args.events)
                samples: dict[str, Sample] = {}
                # The gateway goes first: the baselines send frames of its measured size.
                size = 0
                for kind, server in running.items():
                    if kind == "socketio":
                        size = max(size, PACKET_OVERHEAD)
                    sample = await run_case(server, case, events, size or args.frame_bytes)
                    if kind == "agentsocket":
                        size = round(sample.extra["frame_bytes"])
                    samples[kind] = sample
                result.rounds.append(samples)
                print(
                    "  "
                    + case.name
                    + ": "
                    + ", ".join(
                        f"{k} {s.rate:,.0f}/s {s.cpu_us:.1f} us" for k, s in samples.items()
                    ),
                    flush=True,
                )
    finally:
        for server in running.values():
            server.stop()
    return results


def _chosen(name: str, wanted: list[str]) -> bool:
    return any(w.lower() in name.lower() for w in wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000, help="frames delivered per case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--fanout", type=int, nargs="+", default=[10, 100])
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="TEXT",
        help="run only the cases whose name contains one of these (e.g. 'v3' 'users')",
    )
    parser.add_argument("--servers", nargs="+", default=list(servers.KINDS), choices=servers.KINDS)
    parser.add_argument(
        "--frame-bytes",
        type=int,
        default=350,
        help="baseline frame size when the gateway is not run",
    )
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--plot", type=Path, help="write a PNG of throughput vs connections")
    parser.add_argument(
        "--before", type=Path, help="an earlier run's --json, to compare agentsocket with"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args(argv)
    if args.cases and not any(_chosen(c.name, args.cases) for c in cases(args.users, args.fanout)):
        parser.error(f"no case's name contains any of {args.cases}")
    if args.smoke:
        args.events, args.rounds, args.users, args.fanout = 60, 1, 3, [3]
    system.exit_on_sigterm()
    system.raise_file_limit()
    header = system.announce()
    print(
        f"push: ~{args.events:,} frames per case, {args.rounds} rounds, "
        f"{DELTA_CHARS}-character deltas"
    )
    started = time.perf_counter()
    results = asyncio.run(bench(args))
    print()
    print(report.push_table(results))
    print(report.client_line(results))
    before = report.load_before(args.before)
    if before:
        print(report.before_lines(results, before))
    system.print_end(started)
    if args.json:
        report.write_json(
            args.json,
            "push",
            header,
            vars(args) | {"json": str(args.json), "plot": str(args.plot)},
            results,
        )
    if args.plot:
        plots.push_plot(args.plot, results, header, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
