"""Event-loop lag: how late the loop runs a callback that was due, as a Prometheus gauge.

One CPU-bound call on the event loop delays every connection of the process
(issue 12: one calculator prompt held another user's ping for 700 ms). The
gauge makes that visible before users notice::

    gauge = loop_lag_gauge(metrics.registry)
    task = asyncio.create_task(watch_loop_lag(gauge))   # in the app's lifespan
    ...
    task.cancel()

The watcher sleeps ``interval`` seconds at a time and records how much later
than due it woke up: on an idle, healthy loop that is about zero.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

GAUGE_NAME = "agentsocket_event_loop_lag_seconds"
DEFAULT_INTERVAL = 0.5


def loop_lag_gauge(registry: CollectorRegistry) -> Gauge:
    """Register ``agentsocket_event_loop_lag_seconds`` on ``registry``."""
    return Gauge(
        GAUGE_NAME,
        "How late the event loop last woke a timer that was due, in seconds.",
        registry=registry,
    )


async def watch_loop_lag(
    gauge: Gauge,
    interval: float = DEFAULT_INTERVAL,
    *,
    on_sample: Callable[[float], None] | None = None,
) -> None:
    """Measure the running loop's lag every ``interval`` seconds, until cancelled.

    Args:
        gauge: set to each sample, in seconds.
        interval: time between samples; also the resolution of the measure.
        on_sample: also called with each sample (tests, logging).
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        lag = max(0.0, loop.time() - due)
        gauge.set(lag)
        if on_sample is not None:
            on_sample(lag)
