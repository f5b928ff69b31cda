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
