"""Load and measurement tools shared by the reliability suites and their full forms.

A latency probe (one user pinging on its own connection), the server's RSS
from ``/proc``, ``/healthz`` checks, and a raised file limit for the client
process. Everything here ends by itself: every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import statistics
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

#: A probe ping not answered within this is counted as missed. Generous on purpose:
#: the machine is shared; a blocked gateway (issue 12, bugs 2 and 4) misses by far more.
PING_TIMEOUT = 5.0


def raise_nofile(wanted: int = 65_536) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for process {pid}")


async def healthz(http_base: str, timeout: float = PING_TIMEOUT) -> int | str:
    """The status of one ``GET /healthz``, or the error's name when it got no answer."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            return (await http.get(f"{http_base}/healthz")).status_code
    except httpx.HTTPError as error:
        return type(error).__name__


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class ProbeResult:
    """Round trips of the probe's pings, in milliseconds, and the pings it never got back."""

    rtts: list[float] = field(default_factory=list)
    missed: int = 0
    closed: str | None = None

    def summary(self) -> str:
        if not self.rtts:
            return f"probe: 0 answered, {self.missed} missed, closed {self.closed}"
        return (
            f"probe: {len(self.rtts)} pings answered, {self.missed} missed, "
            f"p50 {statistics.median(self.rtts):.1f} ms, p99 {percentile(self.rtts, 0.99):.1f} "
            f"ms, max {max(self.rtts):.1f} ms"
        )


async def open_user(url: str, token: str, *, query: str = "") -> ClientConnection:
    """A v3 connection with a Bearer header, its welcome already read."""
    ws = await connect(
        url + (f"?{query}" if query else ""),
        subprotocols=["agentsocket.v3"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
        open_timeout=30,
        close_timeout=1,
        # The suites measure the gateway, not the client's keepalive.
        ping_interval=None,
    )
    await asyncio.wait_for(ws.recv(), 30)
    return ws


async def probe(
    url: str,
    token: str,
    stop: asyncio.Event,
    interval: float = 0.1,
    opened: asyncio.Event | None = None,
) -> ProbeResult:
    """Ping on one connection every ``interval`` seconds until ``stop`` is set.

    ``opened`` is set once the connection is open (its welcome read).
    """
    result = ProbeResult()
    ws = await open_user(url, token)
    if opened is not None:
        opened.set()
    index = 0
    try:
        while not stop.is_set():
            index += 1
            wanted = f"probe-{index}"
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "ping", "data": {}, "correlation_id": wanted}))
            try:
                async with asyncio.timeout(PING_TIMEOUT):
                    while json.loads(await ws.recv()).get("correlation_id") != wanted:
                        pass
                result.rtts.append((time.perf_counter() - started) * 1000)
            except TimeoutError:
                result.missed += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    except ConnectionClosed as closed:
        result.closed = str(closed)
    finally:
        await ws.close()
    return result


@dataclass
class RssSampler:
    """Samples a process's RSS every ``interval`` seconds while running."""

    pid: int
    interval: float = 1.0
    samples: list[tuple[float, float]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            self.samples.append((time.monotonic() - started, rss_mib(self.pid)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        self.samples.append((time.monotonic() - started, rss_mib(self.pid)))

    @property
    def peak(self) -> float:
        return max(rss for _, rss in self.samples)

    def trend_mib_per_minute(self, skip_fraction: float = 0.25) -> float:
        """Least-squares slope of RSS over time, after the first ``skip_fraction`` (warm-up)."""
        points = self.samples[int(len(self.samples) * skip_fraction) :]
        if len(points) < 2:
            return 0.0
        mean_t = statistics.fmean(t for t, _ in points)
        mean_r = statistics.fmean(r for _, r in points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        if spread == 0:
            return 0.0
        slope = sum((t - mean_t) * (r - mean_r) for t, r in points) / spread
        return slope * 60
