"""What the store returns: frozen dataclasses, never ORM objects or rows.

Timestamps are epoch seconds (``float``), as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["user", "assistant"]
RunStatus = Literal["running", "completed", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation owned by one user.

    ``updated_at`` moves with activity: creation, then every added message.
    """

    id: str
    user_id: str
    title: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a thread; ``position`` counts 1, 2, 3... within the thread."""

    id: str
    thread_id: str
    user_id: str
    role: Role
    content: str
    run_id: str | None
    metadata: dict[str, Any]
    position: int
    created_at: float


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """A page of a user's threads, most recently updated first.

    Pass ``cursor`` as ``before`` to :meth:`Store.thread_page` for the next
    page; it is ``None`` when ``has_more`` is false.
    """

    threads: tuple[Thread, ...]
    has_more: bool
    cursor: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of a thread's history, oldest message first.

    Pass ``cursor`` as ``before`` to :meth:`Store.history` for the page of
    older messages; it is ``None`` when ``has_more`` is false.
    """

    messages: tuple[Message, ...]
    has_more: bool
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Run:
    """One agent run answering a user message; ``ended_at`` is set once it ends."""

    id: str
    thread_id: str
    user_id: str
    agent_name: str
    status: RunStatus
    started_at: float
    ended_at: float | None
    error_code: str | None
    error_message: str | None
    client_message_id: str | None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One stored event of a run's timeline: its ``type`` tag and ``data``, as emitted.

    ``position`` counts 1, 2, 3... per root run, over the run and its sub-runs.
    ``truncated`` names the fields of ``data`` that were cut to a preview.
    """

    position: int
    type: str
    data: dict[str, Any]
    truncated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunTimeline:
    """What is stored of one run's timeline.

    Attributes:
        status: the run's status in the store.
        complete: the run's own terminal event is stored; False for a run
            still going, or one whose process died before its end was stored.
        omitted: events the recorder saw but left out (a cap was reached);
            they show as gaps in the items' positions.
    """

    run_id: str
    status: RunStatus
    items: tuple[TimelineItem, ...]
    complete: bool
    omitted: int


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """A page of a thread's history with the timelines of its runs.

    Like :class:`HistoryPage`, but a page may hold fewer messages than asked
    for when the timelines would pass the page's byte budget; ``cursor`` then
    points at the older rest.
    """

    messages: tuple[Message, ...]
    timelines: tuple[RunTimeline, ...]
    has_more: bool
    cursor: str | None


InterruptKind = Literal["approval", "question"]
InterruptStatus = Literal["pending", "answered", "expired"]


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A run's pause for a person (a tool approval or a question), and how it ended.

    ``request`` is what was asked, ``continuation`` what running the agent
    again needs; ``resolution`` is set once ``status`` is no longer
    ``pending``, with the audit fields (``answered_by``: the connection id,
    ``answered_node``: the node that took the answer). ``continued_at`` is set
    when a node continued the run after it because its process was gone.
    """

    run_id: str
    ordinal: int
    user_id: str
    thread_id: str
    node_run_id: str
    interrupt_id: str
    kind: InterruptKind
    status: InterruptStatus
    request: dict[str, Any]
    continuation: dict[str, Any]
    resolution: dict[str, Any] | None
    answered_by: str | None
    answered_node: str | None
    created_at: float
    expires_at: float
    resolved_at: float | None
    continued_at: float | None = None
