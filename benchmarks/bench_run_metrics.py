"""CPU cost of the run metrics per agent event (``agentsocket.runs.metrics``).

Emits the same event through a sink that does nothing, bare and wrapped by
a :class:`~agentsocket.runs.metrics.RunObserver`, and prints the best of five
rounds per event type, in microseconds::

    .venv/bin/python benchmarks/bench_run_metrics.py [--events 200000]

Both run in one process, one after the other; the difference is the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from prometheus_client import CollectorRegistry

from agentsocket.agents import DemoAgent, EventSink
from agentsocket.delivery.run_queue import RunRequest
from agentsocket.protocol.server_messages import AgentEvent, AgentMessageDelta, ToolCompleted
from agentsocket.runs.metrics import RunMetrics, RunObserver

ROUNDS = 5


class NullSink:
    async def emit(self, event: AgentEvent) -> None:
        return None


async def per_event(sink: EventSink, event: AgentEvent, events: int) -> float:
    """Best microseconds per ``emit`` over :data:`ROUNDS` rounds."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(events):
            await sink.emit(event)
        best = min(best, (time.perf_counter() - started) / events * 1e6)
    return best


async def main(events: int) -> None:
    observer = RunObserver(RunMetrics(CollectorRegistry()), [DemoAgent()])
    fields = {"run_id": "run_1", "thread_id": "t", "agent_name": "demo"}
    samples: list[AgentEvent] = [
        AgentMessageDelta(**fields, message_id="m", content="four"),
        ToolCompleted(
            **fields, tool_call_id="c", tool_name="calculate", status="success", duration_ms=1.0
        ),
    ]
    for event in samples:
        request = RunRequest("run_1", "u", "t", "demo", "p", accepted_at=time.time())
        bare = await per_event(NullSink(), event, events)
        observed = await per_event(observer.watch(request, NullSink()), event, events)
        print(
            f"{event.TYPE}: bare {bare:.2f} us, observed {observed:.2f} us, "
            f"metrics {observed - bare:.2f} us per event"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per round")
    asyncio.run(main(parser.parse_args().events))
