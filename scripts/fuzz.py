#!/usr/bin/env python
"""Full form of the inbound fuzz suite (issue 12): decode in-process, then over a real socket.

    .venv/bin/python scripts/fuzz.py              # 100,002 in-process, 6,000 over a socket
    .venv/bin/python scripts/fuzz.py --frames 300000 --socket-frames 30000 --seed 3

In-process, every frame of every version goes through ``decode_client``: it
must return a message or a documented ``ProtocolError``, never raise. Over a
socket, a real ``agentsocket serve`` must answer every refused frame with its
error code, never close the connection, log no traceback, and keep its RSS
bounded. Exit status 1 on any failure. CI runs the short form
(tests/security/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess, run_server
from tests.security.fuzz import VERSIONS, fuzz_decode, fuzz_socket, refused_frames


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def in_process(frames: int, seed: int) -> bool:
    per_version = -(-frames // len(VERSIONS))
    started = time.perf_counter()
    report = fuzz_decode(per_version, seed)
    seconds = time.perf_counter() - started
    print(
        f"in-process: {report.frames:,} frames in {seconds:.1f} s, versions {', '.join(VERSIONS)}"
    )
    for answer, count in sorted(report.answers.items()):
        print(f"  {answer:18} {count:>8,}")
    print(f"  unhandled exceptions or undocumented answers: {len(report.failures)}")
    for version, frame, why in report.failures[:10]:
        print(f"    {version} {frame!r:.200} -> {why}")
    return not report.failures


def over_socket(server: ServerProcess, frames: int, seed: int) -> bool:
    per_version = -(-frames // len(VERSIONS))
    before = rss_kib(server.process.pid)
    ok = True
    started = time.perf_counter()
    for version in VERSIONS:
        batch = list(refused_frames(version, seed, per_version))
        token = server.token(f"fuzz-{version}")
        report = asyncio.run(fuzz_socket(server.ws, token, version, batch))
        print(
            f"socket {version}: sent {report.sent:,}, answered as documented {report.answered:,},"
            f" mismatches {len(report.mismatches)}, closed {report.close}"
        )
        ok = ok and report.close is None and not report.mismatches and report.answered == len(batch)
    seconds = time.perf_counter() - started
    after = rss_kib(server.process.pid)
    log = server.log()
    tracebacks = log.count("Traceback")
    print(f"socket: {seconds:.1f} s; server RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
    print(f"socket: tracebacks in the server log: {tracebacks}")
    return ok and tracebacks == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_002, help="in-process frames in all")
    parser.add_argument("--socket-frames", type=int, default=6_000, help="0 skips the socket run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ok = in_process(args.frames, args.seed)
    if args.socket_frames:
        env = {
            name: "1000000"
            for name in (
                "AGENTSOCKET_RATE_PER_CONNECTION",
                "AGENTSOCKET_BURST_PER_CONNECTION",
                "AGENTSOCKET_RATE_PER_USER",
                "AGENTSOCKET_BURST_PER_USER",
            )
        }
        with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp), env=env) as server:
            ok = over_socket(server, args.socket_frames, args.seed) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
