"""Resource suites, CI form: floods, slowloris, slow consumers and a CPU-heavy prompt.

Each runs against a real ``agentsocket serve`` beside a probe user who pings
every 100 ms; what must hold whatever the attack: the probe's pings are all
answered (within ``PING_TIMEOUT``), ``/healthz`` answers, the server's RSS
stays within a stated bound, and the test ends by itself. Full forms:
``scripts/resources.py`` (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import ServerProcess, run_server
from tests.reliability.attacks import (
    FloodReport,
    authenticated_flood,
    cpu_heavy_prompts,
    open_connections,
    silent_sockets,
    slow_consumers,
    slowloris,
)
from tests.reliability.load import ProbeResult, healthz, probe, raise_nofile, rss_mib

pytestmark = pytest.mark.e2e

#: Stated bound: RSS above the idle server's while an attack lasts (docs/reliability.md).
RSS_GROWTH_MIB = 96.0

RESOURCE_ENV = {
    # A slow consumer is one past 50 queued frames or 2 s blocked in a write.
    "AGENTSOCKET_OUTBOUND_QUEUE_SIZE": "50",
    "AGENTSOCKET_SEND_TIMEOUT": "2",
    # The CPU attacker sends a prompt every 0.5 s; each must start a run.
    "AGENTSOCKET_MAX_RUNS_PER_USER": "100",
    "AGENTSOCKET_RATE_PER_USER": "1000",
    "AGENTSOCKET_BURST_PER_USER": "1000",
    # Slowloris runs 6 s: a request head must be complete within 3.
    "AGENTSOCKET_HANDSHAKE_TIMEOUT": "3",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    raise_nofile()
    with run_server(tmp_path_factory.mktemp("resources"), env=RESOURCE_ENV) as server:
        yield server


@contextlib.asynccontextmanager
async def probed(server: ServerProcess) -> AsyncIterator[tuple[ProbeResult, list[int | str]]]:
    """A probe user pinging and ``/healthz`` polled every 0.5 s while the block runs.

    The probe is connected before the block starts: it is the other user already there.
    """
    result = ProbeResult()
    health: list[int | str] = []
    stop = asyncio.Event()
    opened = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():
            health.append(await healthz(server.http))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    probing = asyncio.create_task(probe(server.ws, server.token("probe"), stop, opened=opened))
    connected = asyncio.create_task(opened.wait())
    await asyncio.wait({probing, connected}, timeout=30.0, return_when=asyncio.FIRST_COMPLETED)
    connected.cancel()
    if probing.done():
        probing.result()  # it failed to connect: raise why
    polling = asyncio.create_task(poll())
    try:
        yield result, health
    finally:
        stop.set()
        measured = await probing
        await polling
        result.rtts, result.missed, result.closed = measured.rtts, measured.missed, measured.closed


def assert_others_served(result: ProbeResult, health: list[int | str]) -> None:
    assert result.rtts, "the probe got no answer at all"
    assert result.missed == 0, result.summary()
    assert result.closed is None, result.summary()
    assert health, "no /healthz answer"
    assert set(health) == {200}, health


async def test__flood_of_silent_sockets__others_served_rss_bounded(gateway: ServerProcess) -> None:
    idle = rss_mib(gateway.process.pid)
    async with probed(gateway) as (result, health):
        report = await silent_sockets(gateway.port, count=400, hold=2.0)
        during = rss_mib(gateway.process.pid)
    print(f"{report.summary()}; RSS {idle:.1f} -> {during:.1f} MiB; {result.summary()}")
    assert report.opened == 400
    assert_others_served(result, health)
    assert during - idle < RSS_GROWTH_MIB


@dataclass
class Slowloris:
    report: FloodReport
    probe: ProbeResult
    health: list[int | str]
    rss_idle: float
    rss_during: float


@pytest.fixture(scope="module")
def slowloris_run(gateway: ServerProcess) -> Slowloris:
    """One slowloris attack (200 sockets, 6 s), looked at by the two tests below."""

    async def attack() -> Slowloris:
        idle = rss_mib(gateway.process.pid)
        async with probed(gateway) as (result, health):
            report = await slowloris(gateway.port, count=200, seconds=6.0)
            during = rss_mib(gateway.process.pid)
        return Slowloris(report, result, health, idle, during)

    run = asyncio.run(attack())
    print(
        f"{run.report.summary()}; RSS {run.rss_idle:.1f} -> {run.rss_during:.1f} MiB; "
        f"{run.probe.summary()}"
    )
    return run


def test__slowloris__others_served_rss_bounded(slowloris_run: Slowloris) -> None:
    assert slowloris_run.report.opened == 200
    assert_others_served(slowloris_run.probe, slowloris_run.health)
    assert slowloris_run.rss_during - slowloris_run.rss_idle < RSS_GROWTH_MIB


def test__slowloris__incomplete_handshakes_closed_by_the_server(slowloris_run: Slowloris) -> None:
    assert slowloris_run.report.closed_by_server == slowloris_run.report.opened


async def test__flood_of_authenticated_connections__others_served_rss_bounded(
    gateway: ServerProcess,
) -> None:
    idle = rss_mib(gateway.process.pid)
    async with probed(gateway) as (result, health):
        report = await authenticated_flood(gateway, count=300, hold=3.0)
        during = report.rss_peak
    print(f"{report.summary()}; RSS {idle:.1f} -> {during:.1f} MiB; {result.summary()}")
    assert report.opened == 300, report.summary()
    assert_others_served(result, health)
    assert during - idle < RSS_GROWTH_MIB
    assert await _released(gateway, 1), "the flood's connections are released"


async def test__slow_consumers__aborted_and_released_others_served(
    gateway: ServerProcess,
) -> None:
    idle = rss_mib(gateway.process.pid)
    async with probed(gateway) as (result, health):
        report = await slow_consumers(gateway, count=4, timeout=30.0)
        during = rss_mib(gateway.process.pid)
    print(f"{report.summary()}; RSS {idle:.1f} -> {during:.1f} MiB; {result.summary()}")
    assert report.closed_by_server == report.opened == 4, report.summary()
    assert_others_served(result, health)
    assert during - idle < RSS_GROWTH_MIB
    assert await _released(gateway, 1)


async def test__cpu_heavy_prompts__others_served_every_run_ends(gateway: ServerProcess) -> None:
    idle = rss_mib(gateway.process.pid)
    async with probed(gateway) as (result, health):
        sent, ended = await cpu_heavy_prompts(gateway, seconds=4.0, interval=0.5)
        during = rss_mib(gateway.process.pid)
    print(
        f"{sent} hostile prompts, {ended} runs ended; RSS {idle:.1f} -> {during:.1f} MiB; "
        f"{result.summary()}"
    )
    assert ended == sent > 0
    assert_others_served(result, health)
    assert during - idle < RSS_GROWTH_MIB
    assert "Traceback" not in gateway.log()


async def _released(server: ServerProcess, at_most: int, timeout: float = 20.0) -> bool:
    """Wait until the server holds at most ``at_most`` WebSocket connections."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await open_connections(server) <= at_most:
            return True
        await asyncio.sleep(0.2)
    return False


async def test__more_sockets_than_the_file_limit__healthz_and_others_still_served(
    tmp_path: Path,
) -> None:
    """A gateway with 256 files facing 400 silent sockets: /healthz and the probe answer.

    The listener holds at most the ceiling (256 - 64/2 = 224 sockets): past it,
    the oldest sockets that stayed silent for half a second are closed to make
    room, so a probe queued behind the flood is accepted and answered.
    """
    code = (
        "import resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)); "
        "sys.argv = ['agentsocket', 'serve', *sys.argv[1:]]; "
        "runpy.run_module('agentsocket', run_name='__main__', alter_sys=True)"
    )
    with run_server(tmp_path, module=("-c", code)) as server:
        async with probed(server) as (result, health):
            report = await silent_sockets(server.port, count=400, hold=3.0)
        print(f"{report.summary()}; {result.summary()}; healthz {health}")
        assert report.opened == 400
        assert_others_served(result, health)
        # The flood did reach the ceiling, and room was made by closing silent sockets.
        assert report.closed_by_server > 400 - 224, report.summary()
        assert "closing connections without a request" in server.log()
        assert "Traceback" not in server.log()
