"""Runs a crashed gateway left behind end with ``agent_error`` ``gateway_lost`` (issue 12, bug 12).

``kill -9`` gives the gateway no chance to end its runs. A single node
(memory broker, SQLite) ends them when it starts again on the same database;
with several nodes on Redis (``RUNS=local``) a live node ends a dead node's
runs once its lease expires. Either way the run is stored as ended and the
user's clients see the end in their stream.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from agentsocket.store import Store
from tests.e2e.cluster import TERMINAL, StreamClient, cluster, of_run
from tests.e2e.harness import body, run_server, tag

#: The demo agent's ``slow`` word: its ``sleep`` tool waits 5 s, long enough to kill mid-run.
SLOW_PROMPT = "be slow about it"
SLOW_SECONDS = 5.0


@pytest.mark.e2e
async def test__single_node_killed_mid_run__restart_ends_the_run__resuming_client_sees_it(
    tmp_path: Path,
) -> None:
    alice = StreamClient("alice")
    try:
        with run_server(tmp_path) as first:
            await alice.connect(first)
            await alice.send("user_message", content=SLOW_PROMPT)
            ack = await alice.wait_for(lambda f: tag(f) == "message_received")
            run_id, thread_id = str(body(ack)["run_id"]), str(body(ack)["thread_id"])
            await alice.wait_for(of_run(run_id, "tool_executing"))
            first.process.kill()  # kill -9: the run is never ended by this process
            first.process.wait()
            await alice.close()

        with run_server(tmp_path) as second:
            reconnect_at = len(alice.frames)
            await alice.connect(second, resume=True)
            gap = await alice.wait_for(lambda f: tag(f) == "stream_gap", start=reconnect_at)
            assert body(gap)["reason"] == "epoch_changed"
            end = await alice.wait_for(of_run(run_id, *TERMINAL), start=reconnect_at)
            assert tag(end) == "agent_error", end
            assert body(end)["code"] == "gateway_lost"
            assert body(end)["retryable"] is True
            assert body(end)["thread_id"] == thread_id

            # Sent once: a later connection of the user does not get it again.
            again = StreamClient("alice")
            try:
                await again.connect(second)
                await asyncio.sleep(0.3)
                assert not [f for f in again.frames if body(f).get("run_id") == run_id]
            finally:
                await again.close()

        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}")
        try:
            run = await store.get_run("alice", run_id)
        finally:
            await store.close()
        assert (run.status, run.error_code) == ("error", "gateway_lost")
        assert run.ended_at is not None
    finally:
        await alice.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__node_killed_mid_run__runs_local_on_redis__a_live_node_ends_its_runs(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """Two nodes, ``RUNS=local``: ``kill -9`` the node running alice's run; the other node
    ends it with ``gateway_lost`` within the node TTL plus a reap interval, once."""
    env = {"AGENTSOCKET_RUNS": "local", "AGENTSOCKET_NODE_TTL": "2"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        node_a, node_b = nodes.gateways
        alice_a, alice_b = StreamClient("alice"), StreamClient("alice")
        try:
            await alice_a.connect(node_a)
            await alice_b.connect(node_b)
            await alice_a.send("user_message", content=SLOW_PROMPT)
            ack = await alice_a.wait_for(lambda f: tag(f) == "message_received")
            run_id = str(body(ack)["run_id"])
            await alice_b.wait_for(of_run(run_id, "tool_executing"))

            node_a.process.kill()
            node_a.process.wait()
            # Generous: the TTL is 2 s, the reaper polls every second.
            end = await alice_b.wait_for(of_run(run_id, *TERMINAL), timeout=15)
            assert tag(end) == "agent_error", end
            assert (body(end)["code"], body(end)["retryable"]) == ("gateway_lost", True)
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert (run.status, run.error_code) == ("error", "gateway_lost")
            ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
            assert [e.type for e in ends if e.type in TERMINAL] == ["agent_error"]
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0
            assert await nodes.redis.hlen(f"{nodes.prefix}:active") == 0

            # The surviving node runs (and releases) the retry as usual.
            await alice_b.send("user_message", content="what is 6*7?")
            retry = await alice_b.wait_for(
                lambda f: tag(f) == "message_received" and body(f)["run_id"] != run_id
            )
            done = await alice_b.wait_for(of_run(str(body(retry)["run_id"]), *TERMINAL))
            assert tag(done) == "agent_completed"
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0
        finally:
            await alice_a.close()
            await alice_b.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__node_paused_past_its_ttl__its_run_ends_once__nothing_more_after_it_wakes(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """``SIGSTOP`` the node running alice's run past ``NODE_TTL``: the other node ends the
    run (``gateway_lost``); after ``SIGCONT`` the paused node drops the run: nothing more
    of it reaches the stream, and the node serves new runs."""
    env = {"AGENTSOCKET_RUNS": "local", "AGENTSOCKET_NODE_TTL": "2"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        node_a, node_b = nodes.gateways
        alice_b = StreamClient("alice")
        alice_a = StreamClient("alice")
        try:
            await alice_a.connect(node_a)
            await alice_b.connect(node_b)
            await alice_a.send("user_message", content=SLOW_PROMPT)
            ack = await alice_a.wait_for(lambda f: tag(f) == "message_received")
            run_id = str(body(ack)["run_id"])
            await alice_b.wait_for(of_run(run_id, "tool_executing"))

            node_a.process.send_signal(signal.SIGSTOP)
            try:
                end = await alice_b.wait_for(of_run(run_id, *TERMINAL), timeout=15)
            finally:
                node_a.process.send_signal(signal.SIGCONT)
            assert (tag(end), body(end)["code"]) == ("agent_error", "gateway_lost")
            # The slow tool would have finished 5 s after it started; wait past that.
            await asyncio.sleep(SLOW_SECONDS)
            ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
            assert ends[-1].type == "agent_error", [e.type for e in ends]
            assert [e.type for e in ends if e.type in TERMINAL] == ["agent_error"]
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0

            await alice_a.connect(node_a, resume=True)
            await alice_a.send("user_message", content="what is 6*7?")
            retry = await alice_a.wait_for(
                lambda f: tag(f) == "message_received" and body(f)["run_id"] != run_id
            )
            done = await alice_b.wait_for(of_run(str(body(retry)["run_id"]), *TERMINAL))
            assert tag(done) == "agent_completed"
        finally:
            await alice_a.close()
            await alice_b.close()
