"""The store: threads, messages and agent runs of every user, behind one object."""

from __future__ import annotations

import time

from agentsocket.store.base import Clock
from agentsocket.store.engine import create_engine, migrate
from agentsocket.store.interrupts import InterruptQueries
from agentsocket.store.runs import RunQueries
from agentsocket.store.threads import ThreadQueries
from agentsocket.store.timelines import TimelineQueries
from agentsocket.store.turns import TurnQueries


class Store(InterruptQueries, TimelineQueries, ThreadQueries, RunQueries, TurnQueries):
    """Persistence for chat threads, messages and agent runs.

    Open it with ``store = await Store.open(url)`` and ``await store.close()``
    at shutdown; share one instance between all tasks. Every method that takes
    a ``user_id`` only ever sees that user's records: another user's thread or
    run raises :class:`NotFound`, exactly like a missing one.
    """

    @classmethod
    async def open(cls, url: str, *, clock: Clock = time.time) -> Store:
        """Connect to the database at ``url`` and migrate it to the newest schema.

        Args:
            url: ``sqlite+aiosqlite:///path/file.db`` or
                ``postgresql+asyncpg://user@host/db`` (``sqlite:`` and
                ``postgresql:`` work too and get these drivers).
            clock: Source of timestamps, in epoch seconds; tests pass a fake.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The database cannot be reached or migrated.
        """
        engine = create_engine(url)
        try:
            await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, clock)

    async def migrate(self) -> None:
        """Migrate to the newest schema; idempotent, and :meth:`open` already did it."""
        await migrate(self._engine)

    async def close(self) -> None:
        """Close every pooled connection; the store is unusable afterwards."""
        await self._transactions.close()
        await self._engine.dispose()
