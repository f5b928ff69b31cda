"""A whole transaction as one call: in SQLite's own thread, or on the async connection.

Through SQLAlchemy's aiosqlite adapter every statement is about four round
trips to the driver's thread (cursor, execute, fetch, close), each a thread
hand-off, a wake-up of the event loop and a greenlet switch: a run's two
transactions took about 25 of them and 3 ms of CPU. For a SQLite file,
:class:`Transactions` runs the whole transaction body in one thread of its
own, on a synchronous engine over the same file (same settings: WAL,
``synchronous=NORMAL``, foreign keys, Unicode ``lower``): one hand-off per
transaction. Elsewhere (PostgreSQL, an in-memory SQLite database that a second
engine would not see) the same body runs on the async connection through
``run_sync``, statement by statement as before.

Bodies use SQLAlchemy Core statements built once, with bound parameters, so
the compiled form is cached.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from agentsocket.store.engine import sqlite_connect_args, sqlite_file, watch_sqlite

T = TypeVar("T")

Body = Callable[[Connection], T]
"""A transaction's work: statements on a synchronous connection, committed on return."""


class _AbandonedError(Exception):
    """The caller was cancelled while its transaction ran."""


def _retrieve(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: an abandoned transaction's end is expected


class Transactions:
    """Runs transaction bodies for one store (see the module docstring).

    Args:
        engine: the store's async engine; its URL decides where bodies run.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        path = sqlite_file(engine.url)
        if path is not None:
            url = engine.url.set(drivername="sqlite+pysqlite")
            self._sync = create_sync_engine(url, connect_args=sqlite_connect_args())
            watch_sqlite(self._sync)
            # One thread: SQLite writes one transaction at a time anyway.
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="agentsocket-sqlite")

    @property
    def one_call(self) -> bool:
        """True when a transaction is one hand-off to SQLite's thread."""
        return self._sync is not None

    async def run(self, body: Body[T]) -> T:
        """Run ``body`` in one transaction: committed if it returns, rolled back if it raises.

        A caller cancelled while the body runs gets its transaction rolled back
        (unless it was committing already), as on the async connection.
        """
        if self._thread is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(body)
        abandoned = threading.Event()
        done = asyncio.get_running_loop().run_in_executor(
            self._thread, self._in_thread, body, abandoned
        )
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            abandoned.set()
            done.add_done_callback(_retrieve)
            raise

    def _in_thread(self, body: Body[T], abandoned: threading.Event) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            result = body(conn)
            if abandoned.is_set():
                raise _AbandonedError  # rolled back: nobody would learn what was stored
        return result

    async def close(self) -> None:
        """Close the SQLite thread's connections and stop the thread."""
        if self._thread is None or self._sync is None:
            return
        sync, thread = self._sync, self._thread
        await asyncio.get_running_loop().run_in_executor(thread, sync.dispose)
        thread.shutdown(wait=True)  # idle by now: returns at once
