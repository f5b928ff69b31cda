"""Threads and their messages: the queries :class:`~agentsocket.store.Store` mixes in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from agentsocket.store.base import StoreBase, new_id
from agentsocket.store.errors import NotFound
from agentsocket.store.records import HistoryPage, Message, Thread, ThreadPage
from agentsocket.store.tables import messages, runs, threads
from agentsocket.store.validation import (
    check_limit,
    check_not_empty,
    check_role,
    check_text,
    check_title,
)

_THREAD = (
    threads.c.id,
    threads.c.user_id,
    threads.c.title,
    threads.c.created_at,
    threads.c.updated_at,
)
_NEWEST_FIRST = (threads.c.updated_at.desc(), threads.c.id.desc())


async def fetch_thread(conn: AsyncConnection, user_id: str, thread_id: str) -> Thread:
    """Return the user's thread, or raise :class:`NotFound`."""
    query = sa.select(*_THREAD).where(threads.c.id == thread_id, threads.c.user_id == user_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("thread", thread_id)
    return Thread(**row._mapping)


class ThreadQueries(StoreBase):
    """Create, list, rename and delete threads; append, page and search messages."""

    async def create_thread(self, user_id: str, title: str | None = None) -> Thread:
        """Create an empty thread owned by ``user_id``.

        Raises:
            InvalidArgument: ``title`` is blank or longer than 200 characters.
        """
        if title is not None:
            title = check_title(title)
        now = self._clock()
        thread = Thread(new_id("thr_"), user_id, title, created_at=now, updated_at=now)
        async with self._engine.begin() as conn:
            await conn.execute(threads.insert().values(asdict(thread)))
        return thread

    async def list_threads(
        self, user_id: str, limit: int = 50, before: str | None = None
    ) -> list[Thread]:
        """Return the user's threads, most recently updated first.

        :meth:`thread_page` also says whether more follow; use it to page.

        Args:
            limit: At most this many threads, 1 to 200.
            before: The id of the last thread of the previous page; the page
                starts after it. A thread updated since moves to the top, so a
                cursor that was updated in between restarts from there.

        Raises:
            NotFound: ``before`` is not one of the user's threads.
            InvalidArgument: ``limit`` is out of range.
        """
        return list((await self.thread_page(user_id, limit, before)).threads)

    async def thread_page(
        self, user_id: str, limit: int = 50, before: str | None = None
    ) -> ThreadPage:
        """One page of the user's threads, most recently updated first, and whether more follow.

        Args and Raises: as :meth:`list_threads`; ``limit`` may be the full 200.
        """
        check_limit(limit)
        query = sa.select(*_THREAD).where(threads.c.user_id == user_id)
        async with self._engine.connect() as conn:
            if before is not None:
                cursor = await fetch_thread(conn, user_id, before)
                query = query.where(
                    sa.tuple_(threads.c.updated_at, threads.c.id)
                    < sa.tuple_(sa.literal(cursor.updated_at), sa.literal(cursor.id))
                )
            # One extra row tells whether another page exists; asking the caller
            # for limit + 1 instead refused the documented maximum (200).
            rows = (await conn.execute(query.order_by(*_NEWEST_FIRST).limit(limit + 1))).all()
        has_more = len(rows) > limit
        page = tuple(Thread(**row._mapping) for row in rows[:limit])
        return ThreadPage(page, has_more, page[-1].id if has_more else None)

    async def get_thread(self, user_id: str, thread_id: str) -> Thread:
        """Return one of the user's threads.

        Raises:
            NotFound: No such thread, or it is another user's.
        """
        async with self._engine.connect() as conn:
            return await fetch_thread(conn, user_id, thread_id)

    async def rename_thread(self, user_id: str, thread_id: str, title: str) -> Thread:
        """Set the thread's title; ``updated_at`` stays, renaming is not activity.

        Raises:
            NotFound: No such thread, or it is another user's.
            InvalidArgument: ``title`` is blank or longer than 200 characters.
        """
        title = check_title(title)
        query = (
            threads.update()
            .where(threads.c.id == thread_id, threads.c.user_id == user_id)
            .values(title=title)
            .returning(*_THREAD)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound("thread", thread_id)
        return Thread(**row._mapping)

    async def delete_thread(self, user_id: str, thread_id: str) -> None:
        """Delete the thread with its messages and runs.

        Raises:
            NotFound: No such thread, or it is another user's.
        """
        query = threads.delete().where(threads.c.id == thread_id, threads.c.user_id == user_id)
        async with self._engine.begin() as conn:
            deleted = (await conn.execute(query)).rowcount
        if deleted == 0:
            raise NotFound("thread", thread_id)

    async def add_message(
        self,
        user_id: str,
        thread_id: str,
        role: str,
        content: str,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Message:
        """Append a message to the thread and make the thread the most recent.

        Args:
            role: ``"user"`` or ``"assistant"``.
            run_id: The run that produced or answers the message; it must
                belong to this thread.
            metadata: Any JSON object, returned as stored.

        Raises:
            NotFound: No such thread or run, or it is another user's.
            InvalidArgument: ``role`` is not a known role, or ``content`` holds U+0000.
        """
        checked_role = check_role(role)
        check_text("content", content)
        now = self._clock()
        # Updating the thread first locks it, so concurrent appends get
        # consecutive positions; on SQLite it also opens the write transaction.
        bump = (
            threads.update()
            .where(threads.c.id == thread_id, threads.c.user_id == user_id)
            .values(updated_at=now, last_position=threads.c.last_position + 1)
            .returning(threads.c.last_position)
        )
        async with self._engine.begin() as conn:
            position = (await conn.execute(bump)).scalar()
            if position is None:
                raise NotFound("thread", thread_id)
            if run_id is not None:
                run_query = sa.select(runs.c.id).where(
                    runs.c.id == run_id, runs.c.thread_id == thread_id
                )
                if (await conn.execute(run_query)).first() is None:
                    raise NotFound("run", run_id)
            message = Message(
                id=new_id("msg_"),
                thread_id=thread_id,
                user_id=user_id,
                role=checked_role,
                content=content,
                run_id=run_id,
                metadata=dict(metadata or {}),
                position=position,
                created_at=now,
            )
            await conn.execute(messages.insert().values(asdict(message)))
        return message

    async def history(
        self, user_id: str, thread_id: str, limit: int = 50, before: str | None = None
    ) -> HistoryPage:
        """Return the thread's newest messages (or those before ``before``), oldest first.

        Args:
            limit: At most this many messages, 1 to 200.
            before: A message id, usually the previous page's ``cursor``; the
                page ends just before that message.

        Raises:
            NotFound: No such thread, or it is another user's, or ``before``
                is not a message of this thread.
            InvalidArgument: ``limit`` is out of range.
        """
        check_limit(limit)
        query = sa.select(messages).where(messages.c.thread_id == thread_id)
        async with self._engine.connect() as conn:
            await fetch_thread(conn, user_id, thread_id)
            if before is not None:
                cursor_query = sa.select(messages.c.position).where(
                    messages.c.id == before, messages.c.thread_id == thread_id
                )
                position = (await conn.execute(cursor_query)).scalar()
                if position is None:
                    raise NotFound("message", before)
                query = query.where(messages.c.position < position)
            # One extra row tells whether an older page exists.
            query = query.order_by(messages.c.position.desc()).limit(limit + 1)
            rows = (await conn.execute(query)).all()
        has_more = len(rows) > limit
        page = tuple(Message(**row._mapping) for row in reversed(rows[:limit]))
        return HistoryPage(page, has_more, page[0].id if has_more else None)

    async def search_messages(self, user_id: str, query: str, limit: int = 10) -> list[Message]:
        """Return the user's messages containing ``query``, ignoring case, newest first.

        Only ``user_id``'s own threads are searched. ``%`` and ``_`` match
        themselves.

        Raises:
            InvalidArgument: ``query`` is empty or ``limit`` is out of range.
        """
        check_not_empty("query", query)
        check_limit(limit)
        select = (
            sa.select(messages)
            .where(
                messages.c.user_id == user_id,
                messages.c.content.icontains(query, autoescape=True),
            )
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(select)
        return [Message(**row._mapping) for row in rows]

    async def find_run_message(self, user_id: str, run_id: str) -> Message | None:
        """Return the user message that started ``run_id``, if it is the user's.

        Used to acknowledge a resent ``client_message_id`` with the original ids.
        """
        select = (
            sa.select(messages)
            .where(
                messages.c.user_id == user_id,
                messages.c.run_id == run_id,
                messages.c.role == "user",
            )
            .order_by(messages.c.position)
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(select)).first()
        return None if row is None else Message(**row._mapping)
