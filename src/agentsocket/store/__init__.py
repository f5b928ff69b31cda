"""Persistence of chat threads, messages and agent runs, on SQLite or PostgreSQL.

Usage::

    store = await Store.open("sqlite+aiosqlite:///agentsocket.db")
    thread = await store.create_thread("alice", "Trip to Lisbon")
    await store.add_message("alice", thread.id, "user", "Find me a flight")
    page = await store.history("alice", thread.id)
    await store.close()
"""

from agentsocket.store.base import Clock
from agentsocket.store.errors import InvalidArgument, NotFound, StoreError, is_unavailable
from agentsocket.store.interrupts import AlreadyResolved
from agentsocket.store.records import (
    HistoryPage,
    Interrupt,
    Message,
    Role,
    Run,
    RunStatus,
    RunTimeline,
    Thread,
    ThreadPage,
    TimelineItem,
    TimelinePage,
)
from agentsocket.store.store import Store
from agentsocket.store.timelines import DEFAULT_PAGE_BYTES
from agentsocket.store.turns import StartedRun
from agentsocket.store.validation import MAX_LIMIT, MAX_TITLE_LENGTH

__all__ = [
    "DEFAULT_PAGE_BYTES",
    "MAX_LIMIT",
    "MAX_TITLE_LENGTH",
    "AlreadyResolved",
    "Clock",
    "HistoryPage",
    "Interrupt",
    "InvalidArgument",
    "Message",
    "NotFound",
    "Role",
    "Run",
    "RunStatus",
    "RunTimeline",
    "StartedRun",
    "Store",
    "StoreError",
    "Thread",
    "ThreadPage",
    "TimelineItem",
    "TimelinePage",
    "is_unavailable",
]
