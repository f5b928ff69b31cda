"""agentsocket.looplag: the event-loop lag gauge sees a blocked loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from agentsocket.looplag import GAUGE_NAME, loop_lag_gauge, watch_loop_lag


async def test__blocked_loop__gauge_reports_at_least_the_block() -> None:
    registry = CollectorRegistry()
    gauge = loop_lag_gauge(registry)
    samples: list[float] = []
    enough = asyncio.Event()

    def record(lag: float) -> None:
        samples.append(lag)
        if len(samples) >= 4:
            enough.set()

    task = asyncio.create_task(watch_loop_lag(gauge, 0.01, on_sample=record))
    await asyncio.sleep(0.03)
    time.sleep(0.2)  # noqa: ASYNC251 - the point: a CPU-bound call on the loop
    await enough.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # A lower bound only: the loop cannot wake a timer before the block ends.
    assert max(samples) >= 0.15
    assert f"{GAUGE_NAME} ".encode() in generate_latest(registry)


async def test__interval__must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        await watch_loop_lag(loop_lag_gauge(CollectorRegistry()), 0)
