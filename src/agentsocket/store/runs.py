"""Agent runs: the queries :class:`~agentsocket.store.Store` mixes in."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agentsocket.store.base import StoreBase, new_id
from agentsocket.store.errors import NotFound
from agentsocket.store.records import Run
from agentsocket.store.tables import interrupts, runs
from agentsocket.store.threads import fetch_thread
from agentsocket.store.validation import check_end_status, check_not_empty


class RunQueries(StoreBase):
    """Start, finish and look up agent runs."""

    async def start_run(
        self,
        user_id: str,
        thread_id: str,
        agent_name: str,
        client_message_id: str | None = None,
    ) -> tuple[Run, bool]:
        """Record a new ``running`` run in the thread, once per client message.

        Args:
            client_message_id: The client's id for the message that starts
                the run. A repeat with the same id for this user returns the
                first run unchanged, even from concurrent calls and even if it
                names another thread. ``None`` always starts a new run.

        Returns:
            The run, and ``True`` if this call created it.

        Raises:
            NotFound: No such thread, or it is another user's.
            InvalidArgument: ``agent_name`` or ``client_message_id`` is empty.
        """
        check_not_empty("agent_name", agent_name)
        if client_message_id is not None:
            check_not_empty("client_message_id", client_message_id)
        run = Run(
            id=new_id("run_"),
            thread_id=thread_id,
            user_id=user_id,
            agent_name=agent_name,
            status="running",
            started_at=self._clock(),
            ended_at=None,
            error_code=None,
            error_message=None,
            client_message_id=client_message_id,
        )
        try:
            async with self._engine.begin() as conn:
                await fetch_thread(conn, user_id, thread_id)
                await conn.execute(runs.insert().values(asdict(run)))
        except IntegrityError:
            # The unique (user_id, client_message_id) is the arbiter between
            # racing callers; otherwise the thread was deleted meanwhile.
            existing = None
            if client_message_id is not None:
                existing = await self._fetch_run(
                    runs.c.user_id == user_id, runs.c.client_message_id == client_message_id
                )
            if existing is None:
                raise NotFound("thread", thread_id) from None
            return existing, False
        return run, True

    async def finish_run(
        self,
        run_id: str,
        status: str,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Run:
        """End a running run with ``status``; the first call to end it wins.

        For the agent runtime, which already knows the run is legitimate, so
        it takes no user id. A run that has already ended is returned as it
        is, and the caller can tell from its ``status``.

        Args:
            status: ``"completed"``, ``"error"`` or ``"cancelled"``.

        Raises:
            NotFound: No such run (also once its thread has been deleted).
            InvalidArgument: ``status`` is not one a run can end with.
        """
        checked_status = check_end_status(status)
        query = (
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == "running")
            .values(
                status=checked_status,
                ended_at=self._clock(),
                error_code=error_code,
                error_message=error_message,
            )
            .returning(runs)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        if row is not None:
            return Run(**row._mapping)
        ended = await self._fetch_run(runs.c.id == run_id)
        if ended is None:
            raise NotFound("run", run_id)
        return ended

    async def end_running_runs(self, error_code: str, error_message: str) -> list[Run]:
        """End every run still ``running`` as ``error``; return the runs it ended.

        For a single gateway node at start: a run it finds ``running`` was
        executing in a process that is gone (crashed or killed), so nothing
        will ever end it otherwise. A run that has paused for a person is
        left running: it is continued (see :meth:`paused_runs`).
        """
        paused = sa.select(interrupts.c.run_id).where(interrupts.c.run_id == runs.c.id)
        query = (
            runs.update()
            .where(runs.c.status == "running", ~sa.exists(paused))
            .values(
                status="error",
                ended_at=self._clock(),
                error_code=error_code,
                error_message=error_message,
            )
            .returning(runs)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return [Run(**row._mapping) for row in rows]

    async def get_run(self, user_id: str, run_id: str) -> Run:
        """Return one of the user's runs.

        Raises:
            NotFound: No such run, or it is another user's.
        """
        run = await self._fetch_run(runs.c.id == run_id, runs.c.user_id == user_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def run_for_client_message(self, user_id: str, client_message_id: str) -> Run | None:
        """The user's run started by the message with this ``client_message_id``, if any."""
        return await self._fetch_run(
            runs.c.user_id == user_id, runs.c.client_message_id == client_message_id
        )

    async def count_running(self, user_id: str) -> int:
        """Return how many of the user's runs are ``running``."""
        query = (
            sa.select(sa.func.count())
            .select_from(runs)
            .where(runs.c.user_id == user_id, runs.c.status == "running")
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()

    async def running_run_ids(self, user_id: str, thread_id: str) -> list[str]:
        """Return the ids of the thread's runs that are ``running``, oldest first.

        Another user's thread has none (no error: the caller checks the thread).
        """
        query = (
            sa.select(runs.c.id)
            .where(
                runs.c.user_id == user_id,
                runs.c.thread_id == thread_id,
                runs.c.status == "running",
            )
            .order_by(runs.c.started_at, runs.c.id)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def _fetch_run(self, *where: sa.ColumnElement[bool]) -> Run | None:
        query = sa.select(runs).where(*where)
        # Asked for every message that carries a client_message_id: one hand-off to
        # SQLite's thread instead of a round trip per driver call.
        row = await self._transactions.run(lambda conn: conn.execute(query).first())
        return None if row is None else Run(**row._mapping)
