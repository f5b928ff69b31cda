"""Rejoining a run from another device on another node: the question and every event once.

Real processes: two ``agentsocket serve`` nodes (``BROKER=redis``,
``RUNS=queue``) and a worker on the shared Redis and a scratch PostgreSQL
database. Device A (node 1) asks; device B (node 2) of the same user sees the
question and the run live, or opens the thread mid-run and gets the run so far
from ``thread_history`` (``events`` up to ``stream_seq``) plus the live tail.
Every check is against the user's Redis stream log, seq by seq.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import Cluster, LogEntry, StreamClient, cluster
from tests.e2e.harness import body, tag

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: 24 calculations through the calculator sub-agent: about 220 events over a second or more.
STREAMING_PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 25)) + " in hex?"
#: The demo agent's ``slow`` word: its ``sleep`` tool waits 5 s: mid-run for sure.
SLOW_PROMPT = "be slow about it"


@pytest.fixture
async def nodes(tmp_path: Path, redis_url: str, postgres_url: str) -> AsyncIterator[Cluster]:
    async with cluster(tmp_path, redis_url, postgres_url, gateways=2, workers=1) as started:
        yield started


def run_entries(log: list[LogEntry], run_id: str) -> list[LogEntry]:
    """The log's entries of run ``run_id`` and its sub-runs, in seq order."""
    runs = {run_id}
    out = []
    for entry in log:
        if entry.data.get("run_id") in runs or entry.data.get("parent_run_id") in runs:
            runs.add(str(entry.data["run_id"]))
            out.append(entry)
    return out


def audit(seen: list[tuple[int, str]], expected: list[LogEntry], who: str) -> None:
    """``seen`` (seq, type) is exactly the log's entries: no gap, no duplicate, same order."""
    seqs = [seq for seq, _ in seen]
    assert len(seqs) == len(set(seqs)), f"{who}: duplicated seqs {sorted(seqs)}"
    assert seen == [(e.seq, e.type) for e in expected], f"{who}: differs from the stream log"


async def ask(device: StreamClient, content: str) -> dict[str, Any]:
    """Send ``content`` in a new thread; the ``message_received`` answer."""
    key = f"cm-{uuid.uuid4().hex[:8]}"
    start = len(device.frames)
    await device.send("user_message", content=content, client_message_id=key)
    return await device.wait_for(
        lambda f: tag(f) == "message_received" and body(f)["client_message_id"] == key,
        start=start,
    )


async def test_device_b_on_another_node_sees_the_question_and_the_whole_run_live(
    nodes: Cluster,
) -> None:
    node1, node2 = nodes.gateways
    user = f"u-{uuid.uuid4().hex[:8]}"
    a, b = StreamClient(user), StreamClient(user)
    await a.connect(node1)
    await b.connect(node2)
    try:
        received = await ask(a, STREAMING_PROMPT)
        run_id = body(received)["run_id"]
        await a.wait_terminal(run_id)
        await b.wait_terminal(run_id)
    finally:
        await a.close()
        await b.close()

    expected = run_entries(await nodes.log_entries(user), run_id)
    question = expected[0]
    assert question.type == "user_message_accepted"
    assert question.data["message_id"] == body(received)["message_id"]
    assert question.data["content"] == STREAMING_PROMPT
    assert question.data["client_message_id"] == body(received)["client_message_id"]
    assert expected[1].type == "agent_started"
    assert len(expected) > 100, "the streaming prompt should make a long run"
    for name, device in (("A", a), ("B", b)):
        seen = [
            (int(f["seq"]), tag(f))
            for f in device.stream
            if f["seq"] >= question.seq
            and (body(f).get("run_id") == run_id or body(f).get("parent_run_id") is not None)
        ]
        audit(seen, expected, f"device {name}")
    # The sender's reply came first; the question then reached both devices, once each.
    a_question = [f for f in a.stream if tag(f) == "user_message_accepted"]
    b_question = [f for f in b.stream if tag(f) == "user_message_accepted"]
    assert len(a_question) == len(b_question) == 1
    assert a.frames.index(received) < a.frames.index(a_question[0])


async def join(device: StreamClient, thread_id: str) -> dict[str, Any]:
    """Ask for the thread's history (first page); its answer."""
    start = len(device.frames)
    await device.send("get_thread_history", thread_id=thread_id)
    return await device.wait_for(lambda f: tag(f) == "thread_history", start=start)


def rejoined(device: StreamClient, history: dict[str, Any], run_id: str) -> list[tuple[int, str]]:
    """What a client shows of the run: the answer's events, then live ones past the cut."""
    cut = body(history)["stream_seq"]
    runs = {run_id}
    shown: list[tuple[int, str]] = []
    for frame in body(history)["events"]:
        runs.add(frame["data"]["run_id"])
        shown.append((frame["seq"], frame["type"]))
    for frame in device.stream:
        data = body(frame)
        if frame["seq"] > cut and (data.get("run_id") in runs or data.get("parent_run_id") in runs):
            runs.add(data["run_id"])
            shown.append((int(frame["seq"]), tag(frame)))
    return shown


async def test_device_b_opening_the_thread_mid_run_gets_snapshot_and_tail_exactly_once(
    nodes: Cluster,
) -> None:
    """B connects to node 2 while A's run (node 1) waits in a tool, opens the thread, and
    shows the run from the history's events and the live tail: the log's entries, once."""
    node1, node2 = nodes.gateways
    user = f"u-{uuid.uuid4().hex[:8]}"
    a, b = StreamClient(user), StreamClient(user)
    await a.connect(node1)
    try:
        received = await ask(a, SLOW_PROMPT)
        run_id, thread_id = body(received)["run_id"], body(received)["thread_id"]
        await a.wait_for(lambda f: tag(f) == "tool_executing" and body(f)["run_id"] == run_id)
        await b.connect(node2)  # a new device, after the run began
        history = await join(b, thread_id)
        await b.wait_terminal(run_id)
    finally:
        await a.close()
        await b.close()

    data = body(history)
    questions = [m for m in data["messages"] if m["role"] == "user"]
    assert [(m["content"], m["run_id"]) for m in questions] == [(SLOW_PROMPT, run_id)]
    assert not [m for m in data["messages"] if m["role"] == "assistant"], "the run is not over"
    snapshot = [(e["seq"], e["type"]) for e in data["events"]]
    assert [kind for _, kind in snapshot][:3] == [
        "agent_started",
        "agent_thinking",
        "tool_executing",
    ]
    # The question is on the page, so the answer's events leave its stream copy out.
    expected = run_entries(await nodes.log_entries(user), run_id)
    assert expected[0].type == "user_message_accepted"
    audit(rejoined(b, history, run_id), expected[1:], "device B")
    assert data["stream_seq"] >= snapshot[-1][0]
    assert any(seq > data["stream_seq"] for seq, _ in rejoined(b, history, run_id)), "no tail"


async def test_device_b_opening_the_thread_while_it_streams_cuts_between_snapshot_and_tail(
    nodes: Cluster,
) -> None:
    """B, connected before the run, opens the thread at the run's first text: the answer's
    events and B's live frames past ``stream_seq`` are the log's entries, exactly once."""
    node1, node2 = nodes.gateways
    user = f"u-{uuid.uuid4().hex[:8]}"
    a, b = StreamClient(user), StreamClient(user)
    await a.connect(node1)
    await b.connect(node2)
    try:
        received = await ask(a, STREAMING_PROMPT)
        run_id, thread_id = body(received)["run_id"], body(received)["thread_id"]
        await b.wait_for(lambda f: tag(f) == "agent_message_delta" and body(f)["run_id"] == run_id)
        history = await join(b, thread_id)
        await b.wait_terminal(run_id)
    finally:
        await a.close()
        await b.close()

    expected = run_entries(await nodes.log_entries(user), run_id)
    shown = rejoined(b, history, run_id)
    audit(shown, expected[1:], "device B")
    cut = body(history)["stream_seq"]
    assert body(history)["events"], "the answer has none of the run"
    assert any(seq > cut for seq, _ in shown), "the run was over before the answer"
    # B had received frames up to and past the cut live; the cut drops the ones the answer has.
    assert [seq for seq, _ in shown if seq <= cut] == [e["seq"] for e in body(history)["events"]]


async def test_history_of_a_thread_without_a_run_in_flight_has_no_events(nodes: Cluster) -> None:
    """After the run, the first page has the answer and no events; older pages no cut."""
    node1 = nodes.gateways[0]
    user = f"u-{uuid.uuid4().hex[:8]}"
    a = StreamClient(user)
    await a.connect(node1)
    try:
        received = await ask(a, "what is 2*3?")
        run_id, thread_id = body(received)["run_id"], body(received)["thread_id"]
        terminal = await a.wait_terminal(run_id)
        history = await join(a, thread_id)
        start = len(a.frames)
        await a.send("get_thread_history", thread_id=thread_id, limit=1)
        page = await a.wait_for(lambda f: tag(f) == "thread_history", start=start)
        start = len(a.frames)
        before = body(page)["next_before"]
        await a.send("get_thread_history", thread_id=thread_id, limit=1, before=before)
        older = await a.wait_for(lambda f: tag(f) == "thread_history", start=start)
        start = len(a.frames)
        await a.send("get_thread_history", thread_id="thr_not_mine")
        refused = await a.wait_for(lambda f: tag(f) == "error", start=start)
    finally:
        await a.close()
    data = body(history)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["events"] == []
    assert data["stream_seq"] >= terminal["seq"]
    assert body(older)["events"] == []
    assert body(older)["stream_seq"] is None
    assert body(refused)["code"] == "not_found"
