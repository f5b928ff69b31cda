"""Store cost of one agent run: CPU time per run for its writes, on SQLite.

Run from the project root::

    .venv/bin/python benchmarks/bench_run_store.py [--runs 300] [--path per-call|combined|timeline]

A run's store work is: store the user's message and start its run, then at
the end store the answer and the run's outcome. ``per-call`` does it the way
the gateway did before (thread lookup, start_run, add_message, add_message,
finish_run: five transactions); ``combined`` does it with
``Store.start_run_with_message`` and ``Store.end_run`` (two transactions);
``timeline`` is ``combined`` plus recording the run's timeline (the demo
agent's events for the prompt, through ``TimelineRecorder``: one more
transaction at the end).
CPU time is the whole process's (``time.process_time``, so the driver's
thread counts), divided by the number of runs, after a warm-up; wall time is
shown too. Read the numbers on a quiet machine; they are not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from agentsocket.agents import ListSink, Runner
from agentsocket.agents.demo import DemoAgent
from agentsocket.protocol.server_messages import AgentEvent
from agentsocket.runs.timeline import TimelineRecorder
from agentsocket.store import Store

_PROMPT = "what is 17*23 in hex?"
_ANSWER = "17 * 23 = 391, which is 0x187 in hex."


async def _per_call(store: Store, user: str, thread_id: str, n: int) -> None:
    for i in range(n):
        await store.get_thread(user, thread_id)
        run, _ = await store.start_run(user, thread_id, "demo", f"c{i}-{time.time_ns()}")
        await store.add_message(user, thread_id, "user", _PROMPT, run_id=run.id)
        await store.add_message(user, thread_id, "assistant", _ANSWER, run_id=run.id)
        await store.finish_run(run.id, "completed")


async def _combined(store: Store, user: str, thread_id: str, n: int) -> None:
    for i in range(n):
        started = await store.start_run_with_message(
            user, thread_id, "demo", _PROMPT, client_message_id=f"c{i}-{time.time_ns()}"
        )
        await store.end_run(started.run.id, "completed", answer=_ANSWER)


_EVENTS: list[AgentEvent] = []


async def _demo_events() -> list[AgentEvent]:
    """The demo agent's events for the prompt: made once, recorded for every run."""
    if not _EVENTS:
        sink = ListSink()
        await Runner().start("u", "t", DemoAgent(), _PROMPT, "run_bench", sink).wait()
        _EVENTS.extend(sink.events)
    return _EVENTS


async def _timeline(store: Store, user: str, thread_id: str, n: int) -> None:
    events = await _demo_events()
    for i in range(n):
        started = await store.start_run_with_message(
            user, thread_id, "demo", _PROMPT, client_message_id=f"c{i}-{time.time_ns()}"
        )
        recorder = TimelineRecorder(store.append_timeline, started.run.id)
        for event in events:
            recorder.record(event)
        await store.end_run(started.run.id, "completed", answer=_ANSWER)
        await recorder.close()


_PATHS = {"per-call": _per_call, "combined": _combined, "timeline": _timeline}


async def _measure(path: str, runs: int, rounds: int) -> list[tuple[float, float]]:
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            try:
                thread = await store.create_thread("bench-user", "bench")
                work = _PATHS[path]
                await work(store, "bench-user", thread.id, 20)  # warm-up
                cpu, wall = time.process_time(), time.perf_counter()
                await work(store, "bench-user", thread.id, runs)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            finally:
                await store.close()
        results.append((cpu / runs * 1000, wall / runs * 1000))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", choices=(*_PATHS, "all"), default="all")
    args = parser.parse_args()
    paths = tuple(_PATHS) if args.path == "all" else (args.path,)
    for path in paths:
        results = asyncio.run(_measure(path, args.runs, args.rounds))
        cpu = statistics.median(r[0] for r in results)
        wall = statistics.median(r[1] for r in results)
        print(
            f"{path:9}  {cpu:6.2f} ms CPU per run   {wall:6.2f} ms wall per run   "
            f"({args.runs} runs x {args.rounds} rounds, median)"
        )


if __name__ == "__main__":
    main()
