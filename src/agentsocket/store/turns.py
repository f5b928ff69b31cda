"""A run's turn in one transaction each way: the user's message with its run, the answer with
its outcome. The queries :class:`~agentsocket.store.Store` mixes in for the run path.

Starting is atomic: if anything fails, nothing of the message, its run or a
new thread is left, so a retry with the same ``client_message_id`` starts
the run afresh instead of finding a half-stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from agentsocket.store.base import StoreBase, new_id
from agentsocket.store.errors import NotFound
from agentsocket.store.records import Message, Role, Run, Thread
from agentsocket.store.tables import messages, runs, threads
from agentsocket.store.validation import check_end_status, check_not_empty, check_title


@dataclass(frozen=True, slots=True)
class StartedRun:
    """What :meth:`TurnQueries.start_run_with_message` stored, or found stored.

    ``created`` is False for a repeated ``client_message_id``: ``run`` and
    ``message`` are then the first call's, and ``thread`` is None.
    ``new_thread`` is True when this call created the thread.
    """

    run: Run
    message: Message | None
    thread: Thread | None
    created: bool
    new_thread: bool = False


class TurnQueries(StoreBase):
    """Start a run with its message; end it with its answer."""

    async def start_run_with_message(
        self,
        user_id: str,
        thread_id: str | None,
        agent_name: str,
        content: str,
        *,
        client_message_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        title: str | None = None,
        run_id: str | None = None,
    ) -> StartedRun:
        """Store a user message and start its ``running`` run, in one transaction.

        Args:
            run_id: the new run's id, if the caller chose it (a ``new_id("run_")``).
            thread_id: the user's thread; None creates one titled ``title``.
            client_message_id: the client's id for the message; a repeat for
                this user returns the first call's run and message unchanged
                (``created`` False), even from concurrent calls.

        Raises:
            NotFound: no such thread, or it is another user's.
            InvalidArgument: ``agent_name`` or ``client_message_id`` is empty,
                or ``title`` is invalid.
        """
        check_not_empty("agent_name", agent_name)
        if client_message_id is not None:
            check_not_empty("client_message_id", client_message_id)
        if title is not None:
            title = check_title(title)
        now = self._clock()

        def start(conn: Connection) -> tuple[Run, Message, Thread | None]:
            thread: Thread | None = None
            if thread_id is None:
                thread = Thread(new_id("thr_"), user_id, title, created_at=now, updated_at=now)
                conn.execute(_INSERT_THREAD, {**asdict(thread), "last_position": 1})
                in_thread, position = thread.id, 1
            else:
                in_thread = thread_id
                position = _next_position(conn, user_id, thread_id, now)
            run = Run(
                id=run_id or new_id("run_"),
                thread_id=in_thread,
                user_id=user_id,
                agent_name=agent_name,
                status="running",
                started_at=now,
                ended_at=None,
                error_code=None,
                error_message=None,
                client_message_id=client_message_id,
            )
            conn.execute(_INSERT_RUN, asdict(run))
            message = _message(user_id, in_thread, "user", content, run.id, metadata, position, now)
            conn.execute(_INSERT_MESSAGE, asdict(message))
            return run, message, thread

        try:
            run, message, thread = await self._transactions.run(start)
        except IntegrityError:
            # The unique (user_id, client_message_id) arbitrates between racing
            # callers; everything this call wrote was rolled back.
            if client_message_id is None:
                raise
            found = await self._first_run(user_id, client_message_id)
            if found is None:
                raise
            return StartedRun(found[0], found[1], None, created=False)
        return StartedRun(run, message, thread, created=True, new_thread=thread is not None)

    async def end_run(
        self,
        run_id: str,
        status: str,
        error_code: str | None = None,
        error_message: str | None = None,
        *,
        answer: str | None = None,
    ) -> bool:
        """End a running run and store its ``answer`` (if any), in one transaction.

        The first call to end a run wins: a run that has already ended is left
        as it is, with no answer added, and False is returned.

        Raises:
            InvalidArgument: ``status`` is not one a run can end with.
        """
        checked_status = check_end_status(status)
        now = self._clock()
        ending = {
            "b_run_id": run_id,
            "b_status": checked_status,
            "b_ended_at": now,
            "b_error_code": error_code,
            "b_error_message": error_message,
        }

        def end(conn: Connection) -> bool:
            row = conn.execute(_END_RUN, ending).first()
            if row is None:
                return False
            if answer:
                user_id, thread_id = row
                position = _next_position(conn, user_id, thread_id, now)
                message = _message(
                    user_id, thread_id, "assistant", answer, run_id, None, position, now
                )
                conn.execute(_INSERT_MESSAGE, asdict(message))
            return True

        return await self._transactions.run(end)

    async def _first_run(
        self, user_id: str, client_message_id: str
    ) -> tuple[Run, Message | None] | None:
        select = sa.select(runs).where(
            runs.c.user_id == user_id, runs.c.client_message_id == client_message_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(select)).first()
            if row is None:
                return None
            run = Run(**row._mapping)
            first = (
                sa.select(messages)
                .where(messages.c.run_id == run.id, messages.c.role == "user")
                .order_by(messages.c.position)
                .limit(1)
            )
            message_row = (await conn.execute(first)).first()
        return run, None if message_row is None else Message(**message_row._mapping)


# Built once, with bound parameters: SQLAlchemy compiles each a single time.
_INSERT_THREAD = threads.insert()
_INSERT_RUN = runs.insert()
_INSERT_MESSAGE = messages.insert()
_BUMP_THREAD = (
    threads.update()
    .where(threads.c.id == sa.bindparam("b_thread_id"))
    .where(threads.c.user_id == sa.bindparam("b_user_id"))
    .values(updated_at=sa.bindparam("b_now"), last_position=threads.c.last_position + 1)
    .returning(threads.c.last_position)
)
_END_RUN = (
    runs.update()
    .where(runs.c.id == sa.bindparam("b_run_id"), runs.c.status == "running")
    .values(
        status=sa.bindparam("b_status"),
        ended_at=sa.bindparam("b_ended_at"),
        error_code=sa.bindparam("b_error_code"),
        error_message=sa.bindparam("b_error_message"),
    )
    .returning(runs.c.user_id, runs.c.thread_id)
)


def _next_position(conn: Connection, user_id: str, thread_id: str, now: float) -> int:
    # Updating the thread first locks it, so concurrent appends get consecutive
    # positions; on SQLite it also opens the write transaction.
    bump = {"b_thread_id": thread_id, "b_user_id": user_id, "b_now": now}
    position = conn.execute(_BUMP_THREAD, bump).scalar()
    if position is None:
        raise NotFound("thread", thread_id)
    return int(position)


def _message(
    user_id: str,
    thread_id: str,
    role: Role,
    content: str,
    run_id: str,
    metadata: Mapping[str, Any] | None,
    position: int,
    now: float,
) -> Message:
    return Message(
        id=new_id("msg_"),
        thread_id=thread_id,
        user_id=user_id,
        role=role,
        content=content,
        run_id=run_id,
        metadata=dict(metadata or {}),
        position=position,
        created_at=now,
    )
