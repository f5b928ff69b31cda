"""Stored records as protocol values."""

from __future__ import annotations

from agentsocket.protocol import server_messages as s
from agentsocket.store import Thread


def thread_info(thread: Thread) -> s.ThreadInfo:
    return s.ThreadInfo(
        thread_id=thread.id,
        title=thread.title,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )
