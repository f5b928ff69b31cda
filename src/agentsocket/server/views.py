"""Stored records as protocol values."""

from __future__ import annotations

from typing import get_args

from agentsocket.protocol import server_messages as s
from agentsocket.store import RunTimeline, Thread


def thread_info(thread: Thread) -> s.ThreadInfo:
    return s.ThreadInfo(
        thread_id=thread.id,
        title=thread.title,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )


#: The event types a timeline can carry on the wire.
_TIMELINE_TYPES = frozenset(get_args(s.TimelineEventType))


def run_timeline(timeline: RunTimeline) -> s.RunTimeline:
    """A stored timeline as sent; items of a type the protocol has no place for are left out."""
    return s.RunTimeline(
        run_id=timeline.run_id,
        status=timeline.status,
        complete=timeline.complete,
        omitted=timeline.omitted,
        events=[
            s.TimelineEvent(
                position=item.position,
                type=item.type,
                data=item.data,
                truncated=list(item.truncated),
            )
            for item in timeline.items
            if item.type in _TIMELINE_TYPES
        ],
    )
