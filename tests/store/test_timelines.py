"""Run timelines: appended in batches, read back with their runs, paged with history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from agentsocket.store import InvalidArgument, NotFound, Store, TimelineItem
from agentsocket.store.timelines import MAX_APPEND


def _event(kind: str, run_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "thread_id": "t",
        "agent_name": "demo",
        "parent_run_id": None,
        **fields,
    }


async def _run(store: Store, user: str, thread_id: str | None = None) -> tuple[str, str]:
    started = await store.start_run_with_message(user, thread_id, "demo", "question")
    return started.run.thread_id, started.run.id


async def test__append_in_batches__read_back_in_order_complete(store: Store, alice: str) -> None:
    thread_id, run_id = await _run(store, alice)
    first = [
        TimelineItem(1, "agent_started", _event("agent_started", run_id)),
        TimelineItem(2, "agent_thinking", _event("agent_thinking", run_id, content="hmm")),
    ]
    second = [
        TimelineItem(
            3,
            "tool_completed",
            _event("tool_completed", run_id, result="x…"),
            truncated=("result",),
        ),
        TimelineItem(4, "agent_completed", _event("agent_completed", run_id, duration_ms=5.0)),
    ]

    await store.append_timeline(run_id, first)
    await store.append_timeline(run_id, second)

    [timeline] = await store.run_timelines(alice, thread_id, [run_id])
    assert timeline.items == (*first, *second)
    assert (timeline.run_id, timeline.status, timeline.complete, timeline.omitted) == (
        run_id,
        "running",
        True,
        0,
    )


async def test__cut_short__incomplete_and_gaps_counted_as_omitted(store: Store, alice: str) -> None:
    thread_id, run_id = await _run(store, alice)
    sub = "run_sub"
    await store.append_timeline(
        run_id,
        [
            TimelineItem(1, "agent_started", _event("agent_started", run_id)),
            # A sub-run's end does not complete the root's timeline.
            TimelineItem(5, "agent_completed", _event("agent_completed", sub, duration_ms=1.0)),
        ],
    )
    await store.end_run(run_id, "error", "gateway_lost", "gateway lost")

    [timeline] = await store.run_timelines(alice, thread_id, [run_id])

    assert (timeline.status, timeline.complete, timeline.omitted) == ("error", False, 3)


async def test__run_timelines__foreign_and_unknown_runs_skipped(
    store: Store, alice: str, bob: str
) -> None:
    thread_id, run_id = await _run(store, alice)
    _other_thread, other_run = await _run(store, alice)
    _, bobs_run = await _run(store, bob)
    for rid in (run_id, other_run, bobs_run):
        await store.append_timeline(rid, [TimelineItem(1, "agent_started", _event("x", rid))])

    timelines = await store.run_timelines(
        alice, thread_id, [bobs_run, other_run, "run_nope", run_id]
    )

    assert [t.run_id for t in timelines] == [run_id]
    with pytest.raises(NotFound):
        await store.run_timelines(bob, thread_id, [run_id])  # alice's thread


async def test__run_without_items__empty_incomplete_timeline(store: Store, alice: str) -> None:
    thread_id, run_id = await _run(store, alice)

    [timeline] = await store.run_timelines(alice, thread_id, [run_id])

    assert (timeline.items, timeline.complete, timeline.omitted) == ((), False, 0)


@pytest.mark.parametrize(
    ("item", "argument"),
    [
        (TimelineItem(0, "agent_started", {}), "position"),
        (TimelineItem(1, "", {}), "type"),
        (TimelineItem(1, "x" * 33, {}), "type"),
        (TimelineItem(1, "agent\x00started", {}), "type"),
        (TimelineItem(1, "agent_thinking", {"content": "a\x00b"}), "data"),
        (TimelineItem(1, "agent_thinking", {"k\x00": 1}), "data"),
        (TimelineItem(1, "agent_thinking", ["not", "an", "object"]), "data"),  # type: ignore[arg-type]
        (TimelineItem(1, "agent_thinking", {"v": object()}), "data"),
    ],
)
async def test__append__hostile_item__invalid_argument_nothing_stored(
    store: Store, alice: str, item: TimelineItem, argument: str
) -> None:
    thread_id, run_id = await _run(store, alice)
    good = TimelineItem(2, "agent_started", _event("agent_started", run_id))

    with pytest.raises(InvalidArgument) as raised:
        await store.append_timeline(run_id, [item, good] if item.position < 2 else [item])

    assert raised.value.argument == argument
    [timeline] = await store.run_timelines(alice, thread_id, [run_id])
    assert timeline.items == ()


async def test__append__duplicate_or_unordered_positions__refused(store: Store, alice: str) -> None:
    thread_id, run_id = await _run(store, alice)
    await store.append_timeline(run_id, [TimelineItem(1, "agent_started", {})])

    with pytest.raises(InvalidArgument):
        await store.append_timeline(run_id, [TimelineItem(1, "agent_thinking", {})])
    with pytest.raises(InvalidArgument):
        await store.append_timeline(
            run_id, [TimelineItem(3, "agent_thinking", {}), TimelineItem(2, "agent_thinking", {})]
        )
    with pytest.raises(InvalidArgument):
        too_many = [TimelineItem(i, "agent_thinking", {}) for i in range(2, MAX_APPEND + 3)]
        await store.append_timeline(run_id, too_many)

    [timeline] = await store.run_timelines(alice, thread_id, [run_id])
    assert [i.position for i in timeline.items] == [1]


async def test__append__unknown_run__not_found(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        await store.append_timeline("run_missing", [TimelineItem(1, "agent_started", {})])
    assert raised.value.kind == "run"


async def test__delete_thread__timeline_goes_with_it(store: Store, alice: str) -> None:
    thread_id, run_id = await _run(store, alice)
    await store.append_timeline(run_id, [TimelineItem(1, "agent_started", {})])

    await store.delete_thread(alice, thread_id)

    async with store._engine.connect() as conn:
        left = await conn.execute(
            text("SELECT count(*) FROM run_timeline_items WHERE run_id = :r"), {"r": run_id}
        )
        assert left.scalar() == 0


async def test__history_page__budget_cuts_page_and_cursor_continues(
    store: Store, alice: str
) -> None:
    thread_id: str | None = None
    runs: list[str] = []
    big = "x" * 2000
    for _ in range(4):
        thread_id, run_id = await _run(store, alice, thread_id)
        runs.append(run_id)
        await store.append_timeline(
            run_id,
            [
                TimelineItem(1, "agent_thinking", _event("agent_thinking", run_id, content=big)),
                TimelineItem(2, "agent_completed", _event("agent_completed", run_id)),
            ],
        )
        await store.end_run(run_id, "completed", answer=f"answer {run_id}")
    assert thread_id is not None

    page = await store.history_page(alice, thread_id, limit=50, max_bytes=5000)

    # Two runs' timelines fit: their four messages, newest first kept.
    assert [m.run_id for m in page.messages] == [runs[2], runs[2], runs[3], runs[3]]
    assert [t.run_id for t in page.timelines] == [runs[2], runs[3]]
    assert page.has_more
    assert page.cursor == page.messages[0].id
    older = await store.history_page(alice, thread_id, limit=50, before=page.cursor, max_bytes=5000)
    assert [t.run_id for t in older.timelines] == [runs[0], runs[1]]
    assert (older.has_more, older.cursor) == (False, None)
    # One message is always served, however big its run's timeline.
    tiny = await store.history_page(alice, thread_id, limit=50, max_bytes=1)
    assert len(tiny.messages) == 1
    assert [t.run_id for t in tiny.timelines] == [runs[3]]


async def test__history_page__limit_and_thread_checks_as_history(
    store: Store, alice: str, bob: str
) -> None:
    thread_id, _ = await _run(store, alice)
    with pytest.raises(NotFound):
        await store.history_page(bob, thread_id)
    with pytest.raises(InvalidArgument):
        await store.history_page(alice, thread_id, limit=0)
    with pytest.raises(NotFound):
        await store.history_page(alice, thread_id, before="msg_other")
