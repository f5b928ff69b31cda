"""Faults mid-run: a gateway killed or stopped, Redis restarted, PostgreSQL cut off.

What must hold after each: every acknowledged message (``message_received``)
is in the store, and every acknowledged run ends with a terminal event the
client sees, possibly after resuming. Single node on SQLite; two nodes on
Redis + PostgreSQL (``tests/e2e/cluster.py``). Redis is a private
``redis-server`` on a free port, killed and started again; PostgreSQL is
never restarted (it is shared): a cuttable TCP proxy between the processes
and it models an outage instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import WebSocketException

from agentsocket.store import Store
from tests.delivery.proxy import TcpProxy
from tests.e2e.cluster import TERMINAL, StreamClient, cluster
from tests.e2e.harness import ServerProcess, body, free_port, run_server, tag
from tests.reliability.redis_server import RedisServer

#: About 60 streamed entries over a second or so (the demo agent waits 10 ms a chunk).
PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 9)) + " in hex?"
#: Terminal events seen by the client, across its reconnects, within this.
END_TIMEOUT = 10.0
#: A restarted node ends the runs it lost at start: its client sees that at once.
RECOVERY_TIMEOUT = 8.0


async def start_run(client: StreamClient, content: str = PROMPT) -> str:
    """Send a chat message; its run id once acknowledged and started."""
    start = len(client.frames)
    await client.send("user_message", content=content)
    ack = await client.wait_for(lambda f: tag(f) == "message_received", start=start)
    run_id = str(body(ack)["run_id"])
    await client.wait_for(
        lambda f: tag(f) == "agent_started" and body(f).get("run_id") == run_id, start=start
    )
    return run_id


def ends(client: StreamClient, run_id: str) -> list[str]:
    """The terminal events of run ``run_id`` the client has seen."""
    return [
        tag(f)
        for f in client.frames
        if tag(f) in TERMINAL
        and body(f).get("run_id") == run_id
        and body(f).get("parent_run_id") is None
    ]


async def assert_stored(database_url: str, user: str, run_ids: list[str]) -> None:
    """Every acknowledged message is in the store, with its run."""
    store = await Store.open(database_url)
    try:
        for run_id in run_ids:
            assert await store.find_run_message(user, run_id) is not None, run_id
    finally:
        await store.close()


# --- one node on SQLite ----------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGKILL, id="kill-9"),
        pytest.param(signal.SIGTERM, id="sigterm"),
    ],
)
async def test__single_node_stopped_mid_run__run_ends_visibly_after_restart(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = {"AGENTSOCKET_SERVER_ID": "fault-node"}  # the restarted node is the same node
    alice = StreamClient("alice")
    try:
        with run_server(tmp_path, env=env) as first:
            await alice.connect(first)
            run_id = await start_run(alice)
            first.process.send_signal(sig)
            await asyncio.to_thread(first.process.wait, 30)
            await asyncio.wait_for(alice.closed.wait(), 10)
        seen_before = ends(alice, run_id)
        with run_server(tmp_path, env=env) as second:
            await alice.connect(second, resume=True)
            if not seen_before:
                await alice.wait_for(lambda f: bool(ends(alice, run_id)), RECOVERY_TIMEOUT)
            database_url = second.env["AGENTSOCKET_DATABASE_URL"]
    finally:
        await alice.close()
    print(f"{sig.name}: ends seen {ends(alice, run_id)} (before the restart {seen_before})")
    assert len(ends(alice, run_id)) == 1
    await assert_stored(database_url, "alice", [run_id])


# --- two nodes on Redis + PostgreSQL ---------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("runs", "sig"),
    [
        pytest.param("queue", signal.SIGTERM, id="queue-sigterm"),
        pytest.param(
            "local",
            signal.SIGKILL,
            id="local-kill-9",
        ),
        pytest.param("local", signal.SIGTERM, id="local-sigterm"),
    ],
)
async def test__one_of_two_nodes_stopped_mid_run__run_ends_on_the_other(
    tmp_path: Path, redis_url: str, postgres_url: str, runs: str, sig: signal.Signals
) -> None:
    """``kill -9`` with ``RUNS=queue`` is tests/e2e/test_multinode.py's first test (50 clients)."""
    workers = 1 if runs == "queue" else 0
    # A dead node's runs are ended once its lease (NODE_TTL) lapses: short here.
    env = {"AGENTSOCKET_RUNS": runs, "AGENTSOCKET_NODE_TTL": "2"}
    async with cluster(
        tmp_path, redis_url, postgres_url, gateways=2, workers=workers, env=env
    ) as nodes:
        node_a, node_b = nodes.gateways
        alice = StreamClient("alice")
        try:
            await alice.connect(node_a)
            run_id = await start_run(alice)
            node_a.process.send_signal(sig)
            await asyncio.to_thread(node_a.process.wait, 30)
            await asyncio.wait_for(alice.closed.wait(), 10)
            await alice.connect(node_b, resume=True)
            await alice.wait_for(lambda f: bool(ends(alice, run_id)), END_TIMEOUT)
        finally:
            await alice.close()
        print(f"RUNS={runs} {sig.name}: ends seen {ends(alice, run_id)}")
        assert len(ends(alice, run_id)) == 1
        await assert_stored(nodes.database_url, "alice", [run_id])


# --- Redis restarted -------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, on a free port (never the shared one)."""
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__redis_restarted_mid_run__acknowledged_runs_end_visibly(
    tmp_path: Path, private_redis: RedisServer, postgres_url: str
) -> None:
    async with cluster(tmp_path, private_redis.url, postgres_url, gateways=1, workers=1) as nodes:
        alice = StreamClient("alice")
        try:
            await alice.connect(nodes.gateways[0])
            run_id = await start_run(alice)
            private_redis.kill()
            await asyncio.sleep(1.0)
            private_redis.start()
            await _reconnect_until_ended(alice, nodes.gateways[0], [run_id])
            after = await start_run(alice, "what is 2+2?")
            await alice.wait_for(lambda f: bool(ends(alice, after)), END_TIMEOUT)
        finally:
            await alice.close()
        print(f"Redis restart: ends {ends(alice, run_id)}, then {ends(alice, after)}")
        assert len(ends(alice, run_id)) == 1
        assert ends(alice, after) == ["agent_completed"]
        await assert_stored(nodes.database_url, "alice", [run_id, after])


async def _reconnect_until_ended(
    client: StreamClient, server: ServerProcess, run_ids: list[str]
) -> None:
    """Wait for every run's end; resume whenever the connection dropped meanwhile."""
    deadline = asyncio.get_running_loop().time() + END_TIMEOUT
    while not all(ends(client, r) for r in run_ids):
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no terminal event for {[r for r in run_ids if not ends(client, r)]}"
        if client.closed.is_set():
            with contextlib.suppress(OSError, TimeoutError, WebSocketException):
                await client.connect(server, resume=True)
            await asyncio.sleep(0.5)
            continue
        with contextlib.suppress(TimeoutError):
            await client.wait_for(lambda f: all(ends(client, r) for r in run_ids), min(left, 1))


# --- PostgreSQL cut off ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def proxied_database(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A cuttable proxy in front of PostgreSQL, and ``database_url`` through it."""
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    port = await proxy.start()
    credentials, _, _ = target.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    try:
        yield proxy, target._replace(netloc=netloc).geturl()
    finally:
        await proxy.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__postgres_cut_off_mid_run__nothing_acknowledged_lost(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        cluster(tmp_path, redis_url, postgres_url, gateways=0, workers=0) as nodes,
        proxied_database(nodes.database_url) as (proxy, url),
    ):
        gateway = await nodes.add_gateway({"AGENTSOCKET_DATABASE_URL": url})
        await nodes.add_worker({"AGENTSOCKET_DATABASE_URL": url})
        alice = StreamClient("alice")
        acked: list[str] = []
        try:
            await alice.connect(gateway)
            acked.append(await start_run(alice))
            proxy.cut()
            # During the outage a message is either refused or acknowledged; never
            # acknowledged and then lost.
            start = len(alice.frames)
            await alice.send("user_message", content="what is 3*3?")
            answer = await alice.wait_for(
                lambda f: tag(f) in {"message_received", "error"}, END_TIMEOUT, start=start
            )
            if tag(answer) == "message_received":
                acked.append(str(body(answer)["run_id"]))
            else:  # refused with the retryable code, never `internal`
                assert body(answer)["code"] == "unavailable", answer
            await asyncio.sleep(1.0)
            proxy.restore()
            await _reconnect_until_ended(alice, gateway, acked)
            after = await start_run(alice, "what is 2+2?")
            await alice.wait_for(lambda f: bool(ends(alice, after)), END_TIMEOUT)
            acked.append(after)
        finally:
            await alice.close()
        print(
            f"PostgreSQL cut: during the cut {tag(answer)} "
            f"{body(answer).get('code', '')}; ends {[ends(alice, r) for r in acked]}"
        )
        assert all(len(ends(alice, r)) == 1 for r in acked)
        await assert_stored(nodes.database_url, "alice", acked)
