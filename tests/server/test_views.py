"""Stored records as protocol values: run timelines."""

from __future__ import annotations

from agentsocket.server.views import run_timeline
from agentsocket.store import RunTimeline, TimelineItem

DATA = {"run_id": "run_1", "thread_id": "thr_1", "agent_name": "demo", "parent_run_id": None}


def test__run_timeline__items_as_sent_unknown_types_left_out() -> None:
    stored = RunTimeline(
        "run_1",
        "completed",
        (
            TimelineItem(1, "agent_started", DATA),
            TimelineItem(2, "agent_message_delta", {**DATA, "content": "x"}),
            TimelineItem(3, "something_new", {}),
            TimelineItem(4, "tool_completed", {**DATA, "result": "ab…"}, ("result",)),
        ),
        complete=False,
        omitted=0,
    )

    sent = run_timeline(stored)

    assert [(e.position, e.type, e.truncated) for e in sent.events] == [
        (1, "agent_started", []),
        (4, "tool_completed", ["result"]),
    ]
    assert sent.events[0].data == DATA
    assert (sent.run_id, sent.status, sent.complete) == ("run_1", "completed", False)
