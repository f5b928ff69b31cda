"""A thread's runs in flight, read back from a real (in-memory) stream log."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agentsocket.delivery import MemoryBroker
from agentsocket.protocol import ServerMessage
from agentsocket.protocol import server_messages as s
from agentsocket.runs.stream import stream_payload
from agentsocket.server import rejoin
from agentsocket.server.rejoin import history_cut

USER = "alice"
THREAD = "thr_1"


def run_event(kind: type[s.AgentEvent], run_id: str, thread: str = THREAD, **extra: Any) -> Any:
    return kind(run_id=run_id, thread_id=thread, agent_name="demo", **extra)


def accepted(run_id: str, message_id: str, thread: str = THREAD) -> s.UserMessageAccepted:
    return s.UserMessageAccepted(
        message_id=message_id, thread_id=thread, run_id=run_id, agent_name="demo", content="q"
    )


def stored(message_id: str, role: str, run_id: str) -> s.HistoryMessage:
    return s.HistoryMessage(
        message_id=message_id, role=role, content="x", run_id=run_id, created_at=1.0
    )


async def publish(broker: MemoryBroker, *messages: ServerMessage) -> list[int]:
    return [(await broker.publish(USER, stream_payload(m, "node-a"))).seq for m in messages]


async def test__running_run_and_its_sub_runs__from_their_start_up_to_the_cut() -> None:
    async with MemoryBroker() as broker:
        await publish(
            broker,
            accepted("run_old", "m1"),
            run_event(s.AgentStarted, "run_old"),
            run_event(s.AgentCompleted, "run_old", duration_ms=1.0),
            accepted("run_1", "m2"),
            run_event(s.AgentStarted, "run_1"),
            run_event(s.AgentStarted, "run_other", thread="thr_2"),  # another thread
            run_event(s.AgentStarted, "sub_1", parent_run_id="run_1"),
            run_event(
                s.ToolExecuting,
                "sub_2",
                parent_run_id="sub_1",
                tool_call_id="c",
                tool_name="calc",
                arguments={},
            ),
        )
        floor = 8
        cut = await history_cut(
            broker,
            USER,
            THREAD,
            floor=floor,
            running=["run_1"],
            page=[
                stored("m1", "user", "run_old"),
                stored("a1", "assistant", "run_old"),
                stored("m2", "user", "run_1"),
            ],
        )
        late = await publish(broker, run_event(s.AgentCompleted, "run_1", duration_ms=2.0))

    assert cut.seq == 8
    # The question is on the page: its stream copy is left out; the other thread too.
    assert [(e.seq, e.type, e.data["run_id"]) for e in cut.events] == [
        (5, "agent_started", "run_1"),
        (7, "agent_started", "sub_1"),
        (8, "tool_executing", "sub_2"),
    ]
    assert cut.events[0].server_id == "node-a"
    assert (
        cut.events[0].data
        == orjson.loads(stream_payload(run_event(s.AgentStarted, "run_1"), None))["data"]
    )
    assert late == [9]  # after the cut: the client takes it live


async def test__run_accepted_after_the_store_was_read__found_above_the_floor() -> None:
    async with MemoryBroker() as broker:
        await publish(broker, run_event(s.AgentStarted, "run_x", thread="thr_2"))
        floor = 1
        await publish(broker, accepted("run_new", "m9"), run_event(s.AgentStarted, "run_new"))
        cut = await history_cut(broker, USER, THREAD, floor=floor, running=[], page=[])
    assert [(e.type, e.data["run_id"]) for e in cut.events] == [
        ("user_message_accepted", "run_new"),
        ("agent_started", "run_new"),
    ]


async def test__answered_run__left_out_even_if_the_store_had_it_running() -> None:
    async with MemoryBroker() as broker:
        await publish(broker, accepted("run_1", "m1"), run_event(s.AgentStarted, "run_1"))
        page = [stored("m1", "user", "run_1"), stored("a1", "assistant", "run_1")]
        cut = await history_cut(broker, USER, THREAD, floor=0, running=["run_1"], page=page)
    assert cut.events == []
    assert cut.seq == 2


async def test__start_beyond_one_batch__still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rejoin, "BATCH", 3)
    async with MemoryBroker() as broker:
        await publish(broker, accepted("run_1", "m1"), run_event(s.AgentStarted, "run_1"))
        noise = [run_event(s.AgentStarted, f"r{i}", thread="thr_2") for i in range(10)]
        await publish(broker, *noise)
        await publish(broker, run_event(s.AgentThinking, "run_1", content="hm"))
        cut = await history_cut(broker, USER, THREAD, floor=12, running=["run_1"], page=[])
    assert [(e.seq, e.type) for e in cut.events] == [
        (1, "user_message_accepted"),
        (2, "agent_started"),
        (13, "agent_thinking"),
    ]


async def test__start_dropped_by_retention__what_the_log_holds() -> None:
    async with MemoryBroker(max_entries=3) as broker:
        await publish(
            broker,
            accepted("run_1", "m1"),
            run_event(s.AgentStarted, "run_1"),
            run_event(s.AgentThinking, "run_1", content="a"),
            run_event(s.AgentThinking, "run_1", content="b"),
            run_event(s.AgentThinking, "run_1", content="c"),
        )
        cut = await history_cut(broker, USER, THREAD, floor=5, running=["run_1"], page=[])
    assert [e.seq for e in cut.events] == [3, 4, 5]


async def test__hostile_entries__skipped_without_failing() -> None:
    """Entries of this thread without a usable run id (foreign or future shapes) are no run's."""
    async with MemoryBroker() as broker:
        await broker.publish(USER, orjson.dumps({"type": "x", "data": None}))
        await broker.publish(USER, orjson.dumps({"type": "x"}))
        await broker.publish(USER, orjson.dumps({"type": "x", "data": {"thread_id": THREAD}}))
        await broker.publish(
            USER, orjson.dumps({"type": "x", "data": {"thread_id": THREAD, "run_id": 7}})
        )
        await publish(broker, accepted("run_1", "m1"))
        cut = await history_cut(broker, USER, THREAD, floor=0, running=["run_1"], page=[])
    assert [(e.seq, e.type) for e in cut.events] == [(5, "user_message_accepted")]


async def test__empty_stream__cut_at_zero_and_nothing() -> None:
    async with MemoryBroker() as broker:
        cut = await history_cut(broker, USER, THREAD, floor=0, running=["run_1"], page=[])
    assert (cut.seq, cut.events) == (0, [])
