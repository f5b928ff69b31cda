"""Many gateway nodes and a worker on one Redis and one PostgreSQL database: nothing lost.

Real processes throughout: two or more ``agentsocket serve`` nodes with
``BROKER=redis`` and ``RUNS=queue``, ``agentsocket worker`` processes, the
shared Redis (keys under a fresh prefix) and a scratch PostgreSQL database.
Clients are plain ``websockets`` connections speaking v3.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol import CloseCode
from tests.delivery.proxy import TcpProxy
from tests.e2e.cluster import (
    TERMINAL,
    Cluster,
    LogEntry,
    StreamClient,
    WorkerProcess,
    cluster,
    readyz,
    wait_ready,
)
from tests.e2e.harness import ServerProcess, body, client, recv_json, tag

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: 25 users with one connection on each node: every event crosses nodes (fan-out),
#: and each killed-node client has a twin on the surviving node to compare with.
USERS = 25
#: 24 calculations: about 220 events per run, streamed over a second or more (the demo
#: agent waits 10 ms between text chunks).
STREAMING_PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 25)) + " in hex?"
#: The demo agent asks for approval before its ``announce`` tool: a run that waits.
APPROVAL_PROMPT = "please approve this announcement"
#: The demo agent's ``slow`` word: the ``sleep`` tool waits 5 s.
SLOW_PROMPT = "be slow about it"
SLOW_SECONDS = 5.0


@pytest.fixture
async def nodes(tmp_path: Path, redis_url: str, postgres_url: str) -> AsyncIterator[Cluster]:
    """Two gateway nodes and one worker (enough slots to run every test's runs at once)."""
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=2,
        workers=1,
        worker_env={"AGENTSOCKET_WORKER_CONCURRENCY": "64"},
    ) as started:
        yield started


def root_run(frame: dict[str, Any], run_id: str, *names: str) -> bool:
    """``frame`` is one of ``names`` of run ``run_id`` itself (not of its sub-runs)."""
    return tag(frame) in names and body(frame).get("run_id") == run_id


def assert_contiguous(seqs: list[int], who: str) -> None:
    assert seqs, f"{who} received no stream frame"
    expected = list(range(seqs[0], seqs[0] + len(seqs)))
    assert seqs == expected, f"{who}: seqs not gap-free and duplicate-free: {seqs}"


def assert_matches_log(client: StreamClient, log: list[LogEntry], last_seq: int, who: str) -> None:
    """The client saw exactly the log's entries from its first seq through ``last_seq``."""
    seen = client.stream
    seqs = [int(f["seq"]) for f in seen]
    assert_contiguous(seqs, who)
    expected = [e for e in log if seqs[0] <= e.seq <= last_seq]
    assert [e.seq for e in expected] == seqs, f"{who}: client seqs differ from the log"
    for frame, entry in zip(seen, expected, strict=True):
        assert tag(frame) == entry.type, f"{who}: seq {entry.seq} is {tag(frame)} in the client"
        assert body(frame).get("run_id") == entry.data.get("run_id"), f"{who}: seq {entry.seq}"


async def test_gateway_killed_mid_stream_clients_resume_on_the_other_node_without_loss(
    nodes: Cluster,
) -> None:
    """``kill -9`` one of two nodes while 50 clients stream; its clients resume on the other.

    Each user has client ``a`` on node A (killed) and client ``b`` on node B.
    ``a`` asks a streaming question; ``b`` asks for a run that waits for its
    approval. Node A dies while those runs are going; then every ``b`` approves
    its run, so the approval runs finish while the ``a`` clients are away: the
    ``a`` clients can only get those events from the log. Every client must end
    up with exactly the log's entries, gap-free and duplicate-free, through both
    runs' terminal events.
    """
    node_a, node_b = nodes.gateways
    users = [f"user-{n:02d}" for n in range(USERS)]
    a_clients = {u: StreamClient(u) for u in users}
    b_clients = {u: StreamClient(u) for u in users}
    everyone = [*a_clients.values(), *b_clients.values()]
    try:
        await asyncio.gather(*(c.connect(node_a) for c in a_clients.values()))
        await asyncio.gather(*(c.connect(node_b) for c in b_clients.values()))
        for c in everyone:
            assert body(c.welcomes[0])["stream"]["seq"] == 0, "a new user's stream is empty"
            assert c.epoch == a_clients[c.user_id].epoch == b_clients[c.user_id].epoch

        started = time.monotonic()
        for user in users:
            await a_clients[user].send("user_message", content=STREAMING_PROMPT)
            await b_clients[user].send("user_message", content=APPROVAL_PROMPT)
        a_runs = await _run_ids(a_clients)
        b_runs = await _run_ids(b_clients)

        # Every run under way: a's runs are streaming, b's wait for approval.
        for user in users:
            await a_clients[user].wait_for(
                lambda f, u=user: root_run(f, a_runs[u], "agent_started")
            )
        approvals = {
            user: await b_clients[user].wait_for(
                lambda f, u=user: root_run(f, b_runs[u], "tool_approval_required")
            )
            for user in users
        }
        unfinished = sum(
            not any(root_run(f, a_runs[u], *TERMINAL) for f in a_clients[u].frames) for u in users
        )
        node_a.process.kill()  # kill -9: no shutdown notice, no close frame
        node_a.process.wait(10)
        await asyncio.gather(*(asyncio.wait_for(c.closed.wait(), 10) for c in a_clients.values()))

        # While the a clients are away, their users' approval runs run to the end.
        for user in users:
            approval = body(approvals[user])
            await b_clients[user].send(
                "tool_approval",
                run_id=b_runs[user],
                tool_call_id=approval["tool_call_id"],
                approved=True,
            )
        for user in users:
            await b_clients[user].wait_terminal(b_runs[user])
        missed = {u: len(b_clients[u].stream) - len(a_clients[u].stream) for u in users}
        streaming = sum(
            not any(root_run(f, a_runs[u], *TERMINAL) for f in b_clients[u].frames) for u in users
        )

        await asyncio.gather(*(c.connect(node_b, resume=True) for c in a_clients.values()))
        for user in users:
            for c in (a_clients[user], b_clients[user]):
                for run_id in (a_runs[user], b_runs[user]):
                    end = await c.wait_terminal(run_id, timeout=30)
                    assert tag(end) == "agent_completed", end
        elapsed = time.monotonic() - started
        # The scenario's premise: node A died mid-stream, and the a clients came back
        # while runs were still publishing (each lasts over a second of streaming).
        assert unfinished > 0, "every streaming run had ended before the kill"
        assert streaming > 0, "every streaming run had ended before the resume"

        for user in users:
            log = await nodes.log_entries(user)
            assert [e.seq for e in log] == list(range(1, len(log) + 1)), "the log keeps all"
            terminals = [
                e.seq
                for e in log
                if e.type in TERMINAL and e.data["run_id"] in (a_runs[user], b_runs[user])
            ]
            assert len(terminals) == 2
            assert log[-1].seq == max(terminals), "nothing follows the runs' ends"
            for name, c in (("a", a_clients[user]), ("b", b_clients[user])):
                who = f"{user}/{name}"
                assert_matches_log(c, log, max(terminals), who)
                assert c.stream[0]["seq"] == 1, f"{who} saw the stream from its start"
                assert not [f for f in c.frames if tag(f) == "stream_gap"], who
            assert missed[user] > 0, f"{user}: a missed nothing while away"
        async with nodes.store() as store:
            for user in users:
                for run_id in (a_runs[user], b_runs[user]):
                    assert (await store.get_run(user, run_id)).status == "completed"
    finally:
        await asyncio.gather(*(c.close() for c in everyone))
    print(
        f"{2 * USERS} clients, {2 * USERS} runs in {elapsed:.1f}s; "
        f"{unfinished}/{USERS} streaming runs unfinished at the kill; "
        f"a clients missed {min(missed.values())}..{max(missed.values())} entries; "
        f"{streaming} still streaming at the resume"
    )


async def _run_ids(clients: dict[str, StreamClient]) -> dict[str, str]:
    """Each client's run id, from the ack of its one chat message."""
    ids = {}
    for user, c in clients.items():
        ack = await c.wait_for(lambda f: tag(f) == "message_received")
        ids[user] = str(body(ack)["run_id"])
    return ids


async def test_worker_killed_mid_run_ends_the_run_with_worker_lost(nodes: Cluster) -> None:
    """``kill -9`` the worker during a run: ``agent_error`` ``worker_lost`` (retryable) on
    every node within 10 s, exactly once; the run is stored as an error; a retry on a new
    worker completes."""
    node_a, node_b = nodes.gateways
    alice_a, alice_b = StreamClient("alice"), StreamClient("alice")
    try:
        await alice_a.connect(node_a)
        await alice_b.connect(node_b)
        await alice_a.send("user_message", content=SLOW_PROMPT)
        ack = await alice_a.wait_for(lambda f: tag(f) == "message_received")
        run_id, thread_id = str(body(ack)["run_id"]), str(body(ack)["thread_id"])
        await alice_b.wait_for(lambda f: root_run(f, run_id, "tool_executing"))

        nodes.workers[0].process.kill()
        for c in (alice_a, alice_b):
            error = body(await c.wait_terminal(run_id, timeout=10))
            assert error["code"] == "worker_lost", error
            assert error["retryable"] is True
            assert error["thread_id"] == thread_id
        async with nodes.store() as store:
            run = await store.get_run("alice", run_id)
        assert (run.status, run.error_code) == ("error", "worker_lost")
        # Both nodes reap; one claim makes the end exactly one event.
        await asyncio.sleep(2.5)
        ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
        assert [e.type for e in ends if e.type in TERMINAL] == ["agent_error"]
        assert ends[-1].type == "agent_error", "nothing of the run follows its end"
        assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0
        assert await nodes.redis.hlen(f"{nodes.prefix}:active") == 0

        await nodes.add_worker()
        await alice_a.send("user_message", content="what is 6*7?", thread_id=thread_id)
        retry = await alice_a.wait_for(
            lambda f: tag(f) == "message_received" and body(f)["run_id"] != run_id
        )
        end = await alice_b.wait_terminal(str(body(retry)["run_id"]))
        assert tag(end) == "agent_completed"
        for c in (alice_a, alice_b):
            assert_contiguous([int(f["seq"]) for f in c.stream], c.user_id)
    finally:
        await alice_a.close()
        await alice_b.close()


async def test_run_queued_with_no_worker_ends_with_no_worker_and_is_never_run_later(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """No worker alive: after ``RUN_QUEUE_TIMEOUT`` the run ends with ``agent_error``
    ``no_worker`` (retryable), once, stored as an error, the user's slot freed. A worker
    started afterwards serves new runs but never runs the stale one."""
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=2,
        workers=0,
        env={"AGENTSOCKET_RUN_QUEUE_TIMEOUT": "1"},
    ) as nodes:
        alice = StreamClient("alice")
        try:
            await alice.connect(nodes.gateways[0])
            run_id = await _chat(alice, "what is 6*7?")
            error = body(await alice.wait_terminal(run_id, timeout=15))
            assert (error["code"], error["retryable"]) == ("no_worker", True), error
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert (run.status, run.error_code) == ("error", "no_worker")
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0

            await nodes.add_worker()
            retry = await _chat(alice, "what is 6*7?", thread_id=str(error["thread_id"]))
            assert tag(await alice.wait_terminal(retry)) == "agent_completed"
            # The worker has been through the queue: the stale run stayed ended.
            ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
            # Its question, announced when it was accepted, then its end: nothing was run.
            kinds = [e.type for e in ends]
            assert kinds == ["user_message_accepted", "agent_error"], "the stale run was run"
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert (run.status, run.error_code) == ("error", "no_worker")
        finally:
            await alice.close()


async def test_worker_paused_past_its_ttl_publishes_nothing_more_of_its_reaped_run(
    nodes: Cluster,
) -> None:
    """A worker frozen (SIGSTOP) longer than its TTL is taken for dead: the run ends with
    ``worker_lost``. When it wakes up it must drop that run, not publish the rest of it
    (a second terminal event) nor store its answer; and it serves new runs."""
    worker = nodes.workers[0]
    alice = StreamClient("alice")
    try:
        await alice.connect(nodes.gateways[0])
        run_id = await _chat(alice, STREAMING_PROMPT)
        await alice.wait_for(lambda f: root_run(f, run_id, "agent_thinking"))
        worker.process.send_signal(signal.SIGSTOP)
        try:
            error = await alice.wait_terminal(run_id, timeout=10)
        finally:
            worker.process.send_signal(signal.SIGCONT)
        assert (tag(error), body(error)["code"]) == ("agent_error", "worker_lost")

        thread_id = str(body(error)["thread_id"])
        after = await _chat(alice, "what is 2+2?", thread_id)
        assert tag(await alice.wait_terminal(after)) == "agent_completed"
        await asyncio.sleep(1.0)
        of_run = [f for f in alice.stream if body(f).get("run_id") == run_id]
        assert of_run[-1] == error, "nothing of the reaped run after its end"
        assert [f for f in alice.stream if tag(f) in TERMINAL and _in_run(f, run_id)] == [error]
        log = await nodes.log_entries("alice")
        assert_matches_log(alice, log, log[-1].seq, "alice")
        async with nodes.store() as store:
            run = await store.get_run("alice", run_id)
            history = await store.history("alice", thread_id, 50, None)
        assert (run.status, run.error_code) == ("error", "worker_lost")
        assert [m.run_id for m in history.messages if m.role == "assistant"] == [after]
        assert "dropping it" in worker.log()
    finally:
        await alice.close()


async def test_worker_cut_from_redis_mid_run_ends_the_run_as_worker_lost(
    tmp_path: Path, redis_url: str, postgres_url: str, proxied: Proxied
) -> None:
    """Redis unreachable for the worker for a second mid-run: its events cannot all be
    published, so the run ends with ``worker_lost`` (retryable) once Redis is back,
    instead of never ending; the user's run slot is freed and new runs work."""
    async with cluster(tmp_path, redis_url, postgres_url, gateways=1, workers=0) as nodes:
        worker = await nodes.add_worker({"AGENTSOCKET_REDIS_URL": proxied.url})
        alice = StreamClient("alice")
        try:
            await alice.connect(nodes.gateways[0])
            run_id = await _chat(alice, STREAMING_PROMPT)
            await alice.wait_for(lambda f: root_run(f, run_id, "agent_thinking"))
            proxied.proxy.cut()
            await asyncio.sleep(1.0)  # shorter than the worker's TTL: it is not taken for dead
            proxied.proxy.restore()

            error = await alice.wait_terminal(run_id, timeout=15)
            assert (tag(error), body(error)["code"]) == ("agent_error", "worker_lost")
            assert body(error)["retryable"] is True
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == 0
            assert await nodes.redis.hlen(f"{nodes.prefix}:active") == 0
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert (run.status, run.error_code) == ("error", "worker_lost")

            after = await _chat(alice, "what is 2+2?")
            assert tag(await alice.wait_terminal(after)) == "agent_completed"
            assert [f for f in alice.stream if tag(f) in TERMINAL and _in_run(f, run_id)] == [error]
            log = await nodes.log_entries("alice")
            assert_matches_log(alice, log, log[-1].seq, "alice")
            assert "giving up a run: cannot publish its events" in worker.log()
        finally:
            await alice.close()


async def test_runs_end_normally_while_the_worker_renews_its_heartbeat_all_the_time(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """Heartbeat renewals interleaved with runs ending (every 2 ms) never make the worker
    take a run that just ended for a reaped one: 200 short runs, 200 terminal events."""
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=1,
        workers=1,
        worker_env={"AGENTSOCKET_WORKER_HEARTBEAT": "0.002"},
    ) as nodes:
        users = [StreamClient(f"user-{n:02d}") for n in range(20)]
        try:
            await asyncio.gather(*(c.connect(nodes.gateways[0]) for c in users))

            async def ten_runs(c: StreamClient) -> list[str]:
                ends = []
                for _ in range(10):
                    run_id = await _chat(c, "what is 2+2?")
                    ends.append(tag(await c.wait_terminal(run_id, timeout=10)))
                return ends

            ends = await asyncio.gather(*(ten_runs(c) for c in users))
            assert [end for per_user in ends for end in per_user] == ["agent_completed"] * 200
            assert "dropping it" not in nodes.workers[0].log()
        finally:
            await asyncio.gather(*(c.close() for c in users))


async def test_stop_through_another_node_cancels_the_run_on_the_worker(nodes: Cluster) -> None:
    """``stop_agent`` sent to node B for a run started on node A and executed by the worker:
    ``agent_cancelled`` reaches both clients and nothing of the run comes after it."""
    node_a, node_b = nodes.gateways
    alice_a, alice_b = StreamClient("alice"), StreamClient("alice")
    try:
        await alice_a.connect(node_a)
        await alice_b.connect(node_b)
        await alice_a.send("user_message", content=SLOW_PROMPT)
        ack = await alice_a.wait_for(lambda f: tag(f) == "message_received")
        run_id = str(body(ack)["run_id"])
        await alice_b.wait_for(lambda f: root_run(f, run_id, "tool_executing"))
        sleeping_since = time.monotonic()

        await alice_b.send("stop_agent", run_id=run_id)
        for c in (alice_a, alice_b):
            cancelled = await c.wait_terminal(run_id, timeout=SLOW_SECONDS - 1)
            assert tag(cancelled) == "agent_cancelled", cancelled
            assert body(cancelled)["reason"]
        # Past the moment the sleep would have ended, then one more run: the stream is
        # live, and the cancelled run said nothing more.
        await asyncio.sleep(max(0.0, sleeping_since + SLOW_SECONDS + 1 - time.monotonic()))
        await alice_b.send("user_message", content="what is 2+2?")
        next_ack = await alice_b.wait_for(lambda f: tag(f) == "message_received")
        for c in (alice_a, alice_b):
            await c.wait_terminal(str(body(next_ack)["run_id"]))

        log = await nodes.log_entries("alice")
        for who, frames in (
            ("log", [e.frame for e in log]),
            ("a", alice_a.stream),
            ("b", alice_b.stream),
        ):
            of_run = [tag(f) for f in frames if body(f).get("run_id") == run_id]
            assert of_run[-1] == "agent_cancelled", f"{who}: {of_run}"
            assert of_run.count("agent_cancelled") == 1
            assert not set(of_run) & {"tool_completed", "agent_message", "agent_completed"}
        for c in (alice_a, alice_b):
            assert_matches_log(c, log, log[-1].seq, c.user_id)
        async with nodes.store() as store:
            assert (await store.get_run("alice", run_id)).status == "cancelled"
    finally:
        await alice_a.close()
        await alice_b.close()


@dataclass
class Proxied:
    """A cuttable TCP proxy to the shared Redis, and the Redis URL through it."""

    proxy: TcpProxy
    url: str


@pytest.fixture
async def proxied(redis_url: str) -> AsyncIterator[Proxied]:
    """Redis "fails" for the gateways given ``url`` only; the shared Redis is untouched."""
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    port = await proxy.start()
    credentials, _, _ = target.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    yield Proxied(proxy, target._replace(netloc=netloc).geturl())
    await proxy.close()


async def test_gateway_started_while_redis_is_unreachable_becomes_ready_when_it_is_back(
    tmp_path: Path, redis_url: str, postgres_url: str, proxied: Proxied
) -> None:
    """Redis unreachable at start: the process keeps running, not ready, and says why;
    once Redis answers it becomes ready without a restart and serves runs."""
    proxied.proxy.cut()
    async with cluster(tmp_path, redis_url, postgres_url, gateways=0, workers=1) as nodes:
        gateway = nodes.launch_gateway({"AGENTSOCKET_REDIS_URL": proxied.url})
        line = await _wait_log(gateway, "not ready: ")
        assert "Redis at redis://127.0.0.1:" in line, line
        assert "is unreachable" in line, line
        await asyncio.sleep(1.0)
        assert gateway.process.poll() is None, "the gateway keeps running"
        assert await readyz(gateway) == 503
        assert await _refusal(gateway, "carol") == CloseCode.NOT_READY

        proxied.proxy.restore()
        await wait_ready(gateway, timeout=30)
        assert gateway.process.poll() is None
        carol = StreamClient("carol")
        try:
            await carol.connect(gateway)
            await carol.send("user_message", content="what is 2+2?")
            ack = await carol.wait_for(lambda f: tag(f) == "message_received")
            assert tag(await carol.wait_terminal(str(body(ack)["run_id"]))) == "agent_completed"
        finally:
            await carol.close()


async def test_redis_cut_under_a_running_gateway_keeps_connections_and_catches_up(
    tmp_path: Path, redis_url: str, postgres_url: str, proxied: Proxied
) -> None:
    """Redis lost by node A while a client is connected to it: the connection stays open,
    A is not ready; once Redis is back, A is ready and the client receives what was
    published meanwhile (by node B and the worker), in order, then live traffic."""
    async with cluster(tmp_path, redis_url, postgres_url, gateways=1, workers=1) as nodes:
        node_b = nodes.gateways[0]
        node_a = await nodes.add_gateway({"AGENTSOCKET_REDIS_URL": proxied.url})
        alice_a, alice_b = StreamClient("alice"), StreamClient("alice")
        try:
            await alice_a.connect(node_a)
            await alice_b.connect(node_b)
            first = await _chat(alice_b, "what is 2+2?")
            await alice_a.wait_terminal(first)
            before = alice_a.last_seq

            proxied.proxy.cut()
            await wait_ready(node_a, timeout=10, ready=False)
            await alice_a.send("ping")
            await alice_a.wait_for(lambda f: tag(f) == "pong", timeout=5)
            assert await _refusal(node_a, "bob") == CloseCode.NOT_READY
            during = await _chat(alice_b, "what is 3*3 and 5 miles to km?")
            await alice_b.wait_terminal(during)
            await asyncio.sleep(1.0)  # the outage lasts; node A stays not ready meanwhile
            assert await readyz(node_a) == 503
            assert alice_a.last_seq == before, "nothing reaches node A while Redis is cut"
            assert not alice_a.closed.is_set(), "the client's connection stays open"

            proxied.proxy.restore()
            await wait_ready(node_a, timeout=30)
            await alice_a.wait_terminal(during)
            after = await _chat(alice_b, "what is 4+4?")
            await alice_a.wait_terminal(after)
            await alice_b.wait_terminal(after)

            log = await nodes.log_entries("alice")
            for c in (alice_a, alice_b):
                assert_matches_log(c, log, log[-1].seq, c.user_id)
                assert not [f for f in c.frames if tag(f) == "stream_gap"]
            assert "lost the Redis pub/sub connection" in node_a.log()
            assert "reconnected to Redis" in node_a.log()
        finally:
            await alice_a.close()
            await alice_b.close()


def _in_run(frame: dict[str, Any], run_id: str) -> bool:
    return body(frame).get("run_id") == run_id


async def _chat(c: StreamClient, content: str, thread_id: str | None = None) -> str:
    """Send a chat message (to a new thread, or ``thread_id``) and return its run id."""
    start = len(c.frames)
    fields = {"thread_id": thread_id} if thread_id else {}
    await c.send("user_message", content=content, **fields)
    ack = await c.wait_for(lambda f: tag(f) == "message_received", start=start)
    return str(body(ack)["run_id"])


async def _refusal(server: ServerProcess, user_id: str) -> int:
    """The close code of a connection attempt that the gateway refuses."""
    async with client(server, user_id) as websocket:
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(websocket, 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def _wait_log(server: ServerProcess | WorkerProcess, text: str, timeout: float = 20.0) -> str:
    """The first line of the server's log that contains ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if text in line:
                return line
        await asyncio.sleep(0.1)
    raise AssertionError(f"no log line with {text!r} after {timeout}s:\n{server.log()}")
