"""Durable interrupts (issue 14, item 3): approvals and questions outlive the process that asked.

Real gateways and workers over real sockets: a pause pending when its process is
killed with ``kill -9`` is still pending afterwards, is answered from another
connection exactly once (a second answer gets ``conflict``), and the run goes on;
an expired one applies the default and says so; an answer that fails the
question's schema gets ``validation_failed`` with the field's path; a v2 client,
which cannot answer, gets the default at once, announced in ``agent_thinking``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentsocket.store import Store
from tests.e2e.cluster import TERMINAL, Cluster, StreamClient, cluster, of_run
from tests.e2e.harness import body, run_server, tag

APPROVE_PROMPT = "please approve this"
SURVEY_PROMPT = "take the survey"


def reply(kind: str, correlation_id: str) -> Any:
    return lambda f: tag(f) == kind and f.get("correlation_id") == correlation_id


async def waiting_when_killed(
    tmp_path: Path,
    client: StreamClient,
    prompt: str,
    kind: str,
    env: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Start a gateway, send ``prompt`` until its run waits (``kind``), then ``kill -9`` it."""
    with run_server(tmp_path, env) as first:
        await client.connect(first)
        run_id, request = await ask(client, prompt, kind)
        first.process.kill()  # the run never ends in this process
        first.process.wait()
        await client.close()
    return run_id, request


async def ask(client: StreamClient, prompt: str, kind: str) -> tuple[str, dict[str, Any]]:
    """Send ``prompt``; the run id and its request (``kind``) once it is announced."""
    await client.send("user_message", content=prompt)
    ack = await client.wait_for(lambda f: tag(f) == "message_received")
    run_id = str(body(ack)["run_id"])
    request = await client.wait_for(of_run(run_id, kind))
    return run_id, dict(body(request))


@pytest.mark.e2e
async def test__approval_pending_when_the_gateway_is_killed__answered_after_restart__once(
    tmp_path: Path,
) -> None:
    laptop, phone = StreamClient("alice"), StreamClient("alice")
    try:
        run_id, request = await waiting_when_killed(
            tmp_path, laptop, APPROVE_PROMPT, "tool_approval_required"
        )
        call_id = str(request["tool_call_id"])
        assert request["on_expiry"] == "deny"
        assert request["arguments_schema"]["required"] == ["text"]

        with run_server(tmp_path) as second:
            async with _store(tmp_path) as store:
                (pause,) = await store.run_interrupts(run_id)
                run = await store.get_run("alice", run_id)
            assert (pause.status, run.status) == ("pending", "running")

            # Answered from another connection (a phone), with edited arguments. The
            # request died with the first process's stream: it is sent again.
            await phone.connect(second)
            again = await phone.wait_for(of_run(run_id, "tool_approval_required"))
            assert body(again) == request
            await phone.send(
                "tool_approval",
                correlation_id="yes",
                run_id=run_id,
                tool_call_id=call_id,
                approved=True,
                arguments={"text": "edited on the phone"},
            )
            resolved = await phone.wait_for(of_run(run_id, "interrupt_resolved"))
            assert body(resolved)["resolution"] == "answered"
            assert body(resolved)["approved"] is True
            end = await phone.wait_terminal(run_id)
            assert tag(end) == "agent_completed", end
            run_frames = [f for f in phone.frames if body(f).get("run_id") == run_id]
            executing = next(f for f in run_frames if tag(f) == "tool_executing")
            assert body(executing)["tool_call_id"] == call_id
            assert body(executing)["arguments"] == {"text": "edited on the phone"}
            text = "".join(
                str(body(f)["content"]) for f in run_frames if tag(f) == "agent_message_delta"
            )
            assert text == "Approved, so I announce: EDITED ON THE PHONE"
            # What came before the pause was not sent again.
            assert [tag(f) for f in run_frames].count("agent_started") == 0
            assert [tag(f) for f in run_frames].count("tool_approval_required") == 1

            # Reloaded, the run's stored timeline is whole: both processes' parts, in order.
            await assert_whole_timeline(phone, request)

            # A second answer, from a second connection: a typed error, nothing changes.
            await laptop.connect(second)
            await laptop.send(
                "tool_approval",
                correlation_id="again",
                run_id=run_id,
                tool_call_id=call_id,
                approved=False,
            )
            refused = await laptop.wait_for(reply("error", "again"))
            assert body(refused)["code"] == "conflict"

        async with _store(tmp_path) as store:
            (pause,) = await store.run_interrupts(run_id)
            run = await store.get_run("alice", run_id)
        assert (pause.status, run.status) == ("answered", "completed")
        # The audit: which connection answered, on which node, when, and what.
        assert pause.answered_by == body(phone.welcomes[0])["connection_id"]
        assert pause.answered_node is not None
        assert pause.resolved_at is not None
        assert pause.resolution is not None
        assert pause.resolution["arguments"] == {"text": "edited on the phone"}
    finally:
        await laptop.close()
        await phone.close()


@pytest.mark.e2e
async def test__approval_expires_while_no_process_holds_it__default_applied_and_said(
    tmp_path: Path,
) -> None:
    env = {"AGENTSOCKET_APPROVAL_TIMEOUT": "2"}
    alice = StreamClient("alice")
    try:
        run_id, request = await waiting_when_killed(
            tmp_path, alice, APPROVE_PROMPT, "tool_approval_required", env
        )

        with run_server(tmp_path, env) as second:
            await alice.connect(second)
            resolved = await alice.wait_for(of_run(run_id, "interrupt_resolved"), timeout=20)
            assert body(resolved)["resolution"] == "expired"
            assert body(resolved)["approved"] is False
            assert "the default" in str(body(resolved)["message"])
            end = await alice.wait_terminal(run_id)
            assert tag(end) == "agent_completed"
            completed = next(
                f
                for f in alice.frames
                if tag(f) == "tool_completed" and body(f)["run_id"] == run_id
            )
            assert body(completed)["status"] == "denied"

            # Too late: the expiry won.
            await alice.send(
                "tool_approval",
                correlation_id="late",
                run_id=run_id,
                tool_call_id=request["tool_call_id"],
                approved=True,
            )
            refused = await alice.wait_for(reply("error", "late"))
            assert body(refused)["code"] == "conflict"
    finally:
        await alice.close()


@pytest.mark.e2e
async def test__question__answer_failing_the_schema__validation_failed_with_the_path(
    tmp_path: Path,
) -> None:
    alice = StreamClient("alice")
    try:
        with run_server(tmp_path) as server:
            await alice.connect(server)
            run_id, question = await ask(alice, SURVEY_PROMPT, "agent_question")
            assert question["answer_schema"]["required"] == ["rating"]
            qid = question["question_id"]

            await alice.send(
                "question_answer",
                correlation_id="bad",
                run_id=run_id,
                question_id=qid,
                answer={"rating": 9},
            )
            refused = await alice.wait_for(reply("error", "bad"))
            assert body(refused)["code"] == "validation_failed"
            assert [e["path"] for e in body(refused)["errors"]] == ["$.data.answer.rating"]

            await alice.send(
                "question_answer",
                correlation_id="good",
                run_id=run_id,
                question_id=qid,
                answer={"rating": 4, "comment": "nice"},
            )
            end = await alice.wait_terminal(run_id)
            assert tag(end) == "agent_completed"
            text = "".join(
                str(body(f)["content"])
                for f in alice.frames
                if tag(f) == "agent_message_delta" and body(f)["run_id"] == run_id
            )
            assert text == 'Thanks: you rated it 4/5 and said "nice".'

            # Another user cannot answer it, nor see that it exists.
            mallory = StreamClient("mallory")
            try:
                await mallory.connect(server)
                await mallory.send(
                    "question_answer",
                    correlation_id="x",
                    run_id=run_id,
                    question_id=qid,
                    answer={"rating": 1},
                )
                assert body(await mallory.wait_for(reply("error", "x")))["code"] == "not_found"
            finally:
                await mallory.close()
    finally:
        await alice.close()


@pytest.mark.e2e
async def test__v2_client_cannot_answer__default_applies_at_once_and_is_announced(
    tmp_path: Path,
) -> None:
    old = StreamClient("alice", version="v2")
    try:
        with run_server(tmp_path) as server:
            await old.connect(server)
            await old.send("user_message", content=APPROVE_PROMPT)
            ack = await old.wait_for(lambda f: tag(f) == "message_received")
            run_id = str(body(ack)["run_id"])
            end = await old.wait_for(of_run(run_id, *TERMINAL), timeout=10)
            assert tag(end) == "agent_completed"
            thoughts = [
                str(body(f)["content"])
                for f in old.frames
                if tag(f) == "agent_thinking" and body(f)["run_id"] == run_id
            ]
            assert any("cannot answer approvals" in t for t in thoughts), thoughts
            assert not [f for f in old.frames if tag(f) == "tool_approval_required"]
    finally:
        await old.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__approval_pending_when_the_worker_is_killed__answered__another_worker_goes_on(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    env = {"AGENTSOCKET_RUNS": "queue", "AGENTSOCKET_WORKER_TTL": "2"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=1, env=env) as nodes:
        node_a, node_b = nodes.gateways
        laptop, phone = StreamClient("alice"), StreamClient("alice")
        try:
            await laptop.connect(node_a)
            await phone.connect(node_b)
            run_id, request = await ask(laptop, APPROVE_PROMPT, "tool_approval_required")
            nodes.workers[0].process.kill()
            nodes.workers[0].process.wait()
            await nodes.add_worker()

            # The worker's heartbeat lapses (2 s) and the reaper polls every second:
            # the run is not ended, it stays paused.
            async with nodes.store() as store:
                await until_no_run_is_held(nodes)
                (pause,) = await store.run_interrupts(run_id)
                run = await store.get_run("alice", run_id)
            assert (pause.status, run.status) == ("pending", "running")
            assert not [f for f in phone.frames if of_run(run_id, *TERMINAL)(f)]

            await phone.send(
                "tool_approval",
                correlation_id="yes",
                run_id=run_id,
                tool_call_id=request["tool_call_id"],
                approved=True,
            )
            end = await phone.wait_terminal(run_id, timeout=30)
            assert tag(end) == "agent_completed", end
            await laptop.wait_terminal(run_id)
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert run.status == "completed"
            ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
            assert [e.type for e in ends if e.type in TERMINAL] == ["agent_completed"]
            await assert_whole_timeline(phone, request)
        finally:
            await laptop.close()
            await phone.close()


async def until_no_run_is_held(nodes: Cluster, timeout: float = 10.0) -> None:
    """Wait until Redis holds no run: the reaper has taken over the dead owner's runs.

    Bounded, not asserted: a reaper slower than ``timeout`` still has to leave the run
    paused, and the test's own checks then show it.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while await nodes.redis.hlen(f"{nodes.prefix}:active"):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.1)


#: What history shows of the approve prompt's run, continued after its process died.
WHOLE_TIMELINE = [
    "agent_started",
    "agent_thinking",
    "tool_approval_required",
    "tool_executing",
    "tool_completed",
    "agent_message",
    "agent_completed",
]


async def assert_whole_timeline(client: StreamClient, request: dict[str, Any]) -> None:
    """The run's stored timeline, read as a reload would, has both processes' parts."""
    await client.send("get_thread_history", correlation_id="h", thread_id=request["thread_id"])
    history = await client.wait_for(reply("thread_history", "h"))
    (timeline,) = [r for r in body(history)["runs"] if r["run_id"] == request["run_id"]]
    assert timeline["complete"] is True
    assert [e["type"] for e in timeline["events"]] == WHOLE_TIMELINE
    positions = [e["position"] for e in timeline["events"]]
    assert positions == sorted(set(positions))


@contextlib.asynccontextmanager
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    """The single node's store (the harness's SQLite file), opened from the test."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}")
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.e2e
async def test__gateway_restarted_gracefully__the_question_waits__answered_after(
    tmp_path: Path,
) -> None:
    """SIGTERM ends other runs with ``agent_cancelled`` but suspends a waiting one."""
    alice = StreamClient("alice")
    try:
        with run_server(tmp_path) as first:
            await alice.connect(first)
            run_id, question = await ask(alice, SURVEY_PROMPT, "agent_question")
            await alice.close()
            first.stop()  # SIGTERM: a graceful shutdown

        with run_server(tmp_path) as second:
            await alice.connect(second)
            await alice.send(
                "question_answer",
                run_id=run_id,
                question_id=question["question_id"],
                answer={"rating": 5},
            )
            end = await alice.wait_terminal(run_id)
            assert tag(end) == "agent_completed", end
            assert not [f for f in alice.frames if of_run(run_id, "agent_cancelled")(f)]
    finally:
        await alice.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test__node_killed_while_its_run_waits__runs_local_on_redis__the_other_node_goes_on(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    env = {"AGENTSOCKET_RUNS": "local", "AGENTSOCKET_NODE_TTL": "2"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        node_a, node_b = nodes.gateways
        laptop, phone = StreamClient("alice"), StreamClient("alice")
        try:
            await laptop.connect(node_a)
            await phone.connect(node_b)
            run_id, question = await ask(laptop, SURVEY_PROMPT, "agent_question")
            node_a.process.kill()
            node_a.process.wait()
            # The node's lease lapses (2 s) and node B's reaper takes its runs over.
            await until_no_run_is_held(nodes)
            async with nodes.store() as store:
                run = await store.get_run("alice", run_id)
            assert run.status == "running"  # not ended as lost: it waits for its answer

            await phone.send(
                "question_answer",
                run_id=run_id,
                question_id=question["question_id"],
                answer={"rating": 3},
            )
            end = await phone.wait_terminal(run_id, timeout=30)
            assert tag(end) == "agent_completed", end
            ends = [e for e in await nodes.log_entries("alice") if e.data.get("run_id") == run_id]
            assert [e.type for e in ends if e.type in TERMINAL] == ["agent_completed"]
        finally:
            await laptop.close()
            await phone.close()


@pytest.mark.e2e
async def test__stopped_while_waiting__live_or_after_a_crash__then_answers_are_refused(
    tmp_path: Path,
) -> None:
    alice = StreamClient("alice")
    try:
        with run_server(tmp_path) as first:
            await alice.connect(first)
            live_run, live_q = await ask(alice, SURVEY_PROMPT, "agent_question")
            await alice.send("stop_agent", run_id=live_run)
            assert tag(await alice.wait_terminal(live_run)) == "agent_cancelled"
            await alice.send(
                "question_answer",
                correlation_id="late",
                run_id=live_run,
                question_id=live_q["question_id"],
                answer={"rating": 1},
            )
            refused = await alice.wait_for(reply("error", "late"))
            assert body(refused)["code"] == "conflict"

            dormant_run, dormant_q = await ask(alice, SURVEY_PROMPT, "agent_question")
            first.process.kill()
            first.process.wait()
            await alice.close()

        with run_server(tmp_path) as second:
            await alice.connect(second)
            await alice.send("stop_agent", run_id=dormant_run)
            end = await alice.wait_terminal(dormant_run)
            assert tag(end) == "agent_cancelled"
            await alice.send(
                "question_answer",
                correlation_id="after",
                run_id=dormant_run,
                question_id=dormant_q["question_id"],
                answer={"rating": 1},
            )
            refused = await alice.wait_for(reply("error", "after"))
            assert body(refused)["code"] == "conflict"
            assert not [f for f in alice.frames if of_run(dormant_run, "agent_completed")(f)]
    finally:
        await alice.close()


@pytest.mark.e2e
async def test__after_a_restart__a_paused_run_keeps_its_thread__enqueue_waits__interrupt_ends_it(
    tmp_path: Path,
) -> None:
    alice = StreamClient("alice")
    try:
        run_id, question = await waiting_when_killed(
            tmp_path, alice, SURVEY_PROMPT, "agent_question"
        )
        thread_id = str(question["thread_id"])

        with run_server(tmp_path) as second:
            await alice.connect(second)
            start = len(alice.frames)
            await alice.send(
                "user_message", correlation_id="next", content="what is 2+2?", thread_id=thread_id
            )
            queued = await alice.wait_for(reply("message_received", "next"), start=start)
            assert body(queued)["queued"] is True  # behind the paused run, as before the crash
            next_run = str(body(queued)["run_id"])

            await alice.send(
                "user_message",
                correlation_id="now",
                content="what is 3+3?",
                thread_id=thread_id,
                double_texting="interrupt",
            )
            now = await alice.wait_for(reply("message_received", "now"), start=start)
            end = await alice.wait_terminal(run_id)
            assert (tag(end), body(end)["reason"]) == ("agent_cancelled", "interrupted")
            superseded = await alice.wait_terminal(next_run)
            assert tag(superseded) == "agent_cancelled"
            done = await alice.wait_terminal(str(body(now)["run_id"]))
            assert tag(done) == "agent_completed"
    finally:
        await alice.close()
