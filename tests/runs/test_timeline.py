"""The timeline recorder: what it keeps, how it caps, when it writes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from agentsocket.agents import ListSink
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.server_messages import AgentEvent
from agentsocket.runs.timeline import (
    MAX_ITEMS,
    MAX_JSON,
    MAX_TEXT,
    RecordingSink,
    TimelineRecorder,
    timeline_item,
)
from agentsocket.store import NotFound, Store, TimelineItem

RUN = {"run_id": "run_1", "thread_id": "thr_1", "agent_name": "demo"}


class Batches:
    """Stands in for ``Store.append_timeline``: keeps each batch; can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[list[TimelineItem]] = []
        self.fail_with: Exception | None = None
        self.written = asyncio.Event()

    async def __call__(self, run_id: str, items: Sequence[TimelineItem]) -> None:
        assert run_id == "run_1"
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(list(items))
        self.written.set()

    @property
    def items(self) -> list[TimelineItem]:
        return [item for batch in self.batches for item in batch]


def thinking(text: str = "hmm") -> AgentEvent:
    return s.AgentThinking(**RUN, content=text)


def test__item__same_data_as_the_wire() -> None:
    event = s.ToolCompleted(
        **RUN,
        tool_call_id="c1",
        tool_name="calculate",
        status="success",
        result={"value": 391},
        duration_ms=1.5,
    )

    item = timeline_item(3, event)

    assert (item.position, item.type, item.truncated) == (3, "tool_completed", ())
    assert item.data == event.model_dump(mode="json")


def test__item__long_text_and_big_json_cut_with_marker() -> None:
    executing = s.ToolExecuting(
        **RUN, tool_call_id="c1", tool_name="t", arguments={"blob": "x" * (MAX_JSON + 10)}
    )
    completed = s.ToolCompleted(
        **RUN,
        tool_call_id="c1",
        tool_name="t",
        status="error",
        result=["y" * (MAX_JSON + 10)],
        error="e" * (MAX_TEXT + 5),
        duration_ms=1.0,
    )

    args = timeline_item(1, executing)
    done = timeline_item(2, completed)

    assert args.truncated == ("arguments",)
    assert set(args.data["arguments"]) == {"truncated"}
    assert args.data["arguments"]["truncated"].startswith('{"blob":"xxx')
    assert args.data["arguments"]["truncated"].endswith("…")
    assert done.truncated == ("error", "result")
    assert len(done.data["error"]) == MAX_TEXT
    assert isinstance(done.data["result"], str)
    assert done.data["result"].startswith('["yyy')


def test__item__nul_replaced_not_stored() -> None:
    item = timeline_item(
        1, s.ToolExecuting(**RUN, tool_call_id="c", tool_name="t", arguments={"a\x00": "b\x00"})
    )

    assert item.data["arguments"] == {"a\ufffd": "b\ufffd"}


async def test__recorder__deltas_skipped_batches_at_run_end_only() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_interval=3600)

    recorder.record(s.AgentStarted(**RUN))
    recorder.record(s.AgentMessageDelta(**RUN, message_id="m", content="he"))
    recorder.record(s.AgentMessage(**RUN, message_id="m", content="hello"))
    await asyncio.sleep(0)
    assert batches.batches == []  # nothing written per event
    recorder.record(s.AgentCompleted(**RUN, duration_ms=2.0))
    await recorder.close()

    assert [[i.type for i in batch] for batch in batches.batches] == [
        ["agent_started", "agent_message", "agent_completed"]
    ]
    assert [i.position for i in batches.items] == [1, 2, 3]


async def test__recorder__checkpoint_every_flush_items_and_after_the_interval() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_items=3, flush_interval=0.05)

    for _ in range(3):
        recorder.record(thinking())
    await asyncio.sleep(0)  # the full batch starts writing in the background
    assert [len(b) for b in batches.batches] == [3]
    recorder.record(thinking())
    async with asyncio.timeout(5):
        while len(batches.batches) < 2:  # written by the timer, no further event needed
            batches.written.clear()
            await batches.written.wait()

    assert [i.position for i in batches.items] == [1, 2, 3, 4]


async def test__recorder__store_unreachable__kept_and_written_next_time() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_interval=3600)
    recorder.record(thinking("a"))
    batches.fail_with = OperationalError("INSERT", {}, ConnectionRefusedError())
    await recorder.close()
    assert recorder.waiting == 1

    batches.fail_with = None
    recorder.record(thinking("b"))
    await recorder.close()

    assert [i.data["content"] for i in batches.items] == ["a", "b"]


async def test__recorder__run_gone__stops_recording() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_interval=3600)
    recorder.record(thinking())
    batches.fail_with = NotFound("run", "run_1")
    await recorder.close()
    batches.fail_with = None

    recorder.record(thinking())
    await recorder.close()

    assert (batches.items, recorder.waiting) == ([], 0)


async def test__recorder__past_the_cap__terminal_event_kept_rest_omitted() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_items=10_000, flush_interval=3600)

    for _ in range(MAX_ITEMS + 5):
        recorder.record(thinking())
    recorder.record(s.AgentCompleted(**RUN, duration_ms=1.0))
    await recorder.close()

    assert len(batches.items) == MAX_ITEMS + 1
    assert batches.items[-1].type == "agent_completed"
    assert batches.items[-1].position == MAX_ITEMS + 6


async def test__recording_sink__run_end_published_only_after_its_timeline_is_stored(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        started = await store.start_run_with_message("alice", None, "demo", "hi")
        run = {**RUN, "run_id": started.run.id, "thread_id": started.run.thread_id}
        seen: list[int] = []

        class Probe(ListSink):
            async def emit(self, event: AgentEvent) -> None:
                if event.TYPE == "agent_completed":
                    [timeline] = await store.run_timelines(
                        "alice", run["thread_id"], [run["run_id"]]
                    )
                    seen.append(len(timeline.items))
                await super().emit(event)

        probe = Probe()
        sink = RecordingSink(probe, TimelineRecorder(store.append_timeline, run["run_id"]))
        await sink.emit(s.AgentStarted(**run))
        await sink.emit(s.AgentThinking(**run, content="working"))
        await sink.emit(s.AgentCompleted(**run, duration_ms=1.0))

        assert probe.types() == ["agent_started", "agent_thinking", "agent_completed"]
        assert seen == [3]
    finally:
        await store.close()


async def test__recording_sink__a_request_the_run_waits_at__stored_before_it_is_sent() -> None:
    batches = Batches()
    stored_when_sent: list[int] = []

    class Probe(ListSink):
        async def emit(self, event: AgentEvent) -> None:
            stored_when_sent.append(len(batches.items))
            await super().emit(event)

    recorder = TimelineRecorder(batches, "run_1", flush_interval=3600)
    sink = RecordingSink(Probe(), recorder)
    await sink.emit(s.AgentStarted(**RUN))
    await sink.emit(
        s.AgentQuestion(
            **RUN,
            question_id="q_1",
            prompt="?",
            answer_schema={"type": "integer"},
            timeout_seconds=60,
            expires_at=1.0,
        )
    )

    assert stored_when_sent == [0, 2]  # the question went out only once both were stored


async def test__recorder__continued_run__records_after_what_is_stored() -> None:
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", after=3)
    recorder.record(thinking())
    recorder.record(s.AgentCompleted(**RUN, duration_ms=1.0))
    await recorder.close()

    assert [i.position for i in batches.items] == [4, 5]


@pytest.mark.parametrize("depth", [300])
async def test__recorder__unserialisable_result__omitted_run_goes_on(depth: int) -> None:
    nested: list[object] = []
    for _ in range(depth):
        nested = [nested]
    batches = Batches()
    recorder = TimelineRecorder(batches, "run_1", flush_interval=3600)

    recorder.record(
        s.ToolCompleted(
            **RUN, tool_call_id="c", tool_name="t", status="success", result=nested, duration_ms=1.0
        )
    )
    recorder.record(s.AgentCompleted(**RUN, duration_ms=1.0))
    await recorder.close()

    assert [(i.position, i.type) for i in batches.items] == [(2, "agent_completed")]


def test__docs__caps_and_checkpoints_as_in_the_code() -> None:
    from agentsocket.runs import timeline
    from agentsocket.store import DEFAULT_PAGE_BYTES
    from agentsocket.store.timelines import MAX_APPEND

    page = (Path(__file__).resolve().parents[2] / "docs" / "timelines.md").read_text()

    assert f"| {timeline.MAX_TEXT:,} characters |" in page
    assert f"| {timeline.MAX_JSON:,} bytes of JSON |" in page
    assert f"| events per run | {timeline.MAX_ITEMS:,} |" in page
    assert f"| bytes per run | {timeline.MAX_RUN_BYTES // 1024} KiB of JSON |" in page
    assert f"when {timeline.FLUSH_ITEMS} events are waiting (`FLUSH_ITEMS`)" in page
    assert f"or {timeline.FLUSH_INTERVAL:g} s after" in page
    assert f"within {DEFAULT_PAGE_BYTES // (1024 * 1024)} MiB of JSON" in page
    assert f"more than\n{MAX_APPEND:,} items in one call" in page
