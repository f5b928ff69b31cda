"""A run's transactions as one call in SQLite's own thread; statement by statement elsewhere."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from agentsocket.store import Store
from tests.store.conftest import FakeClock


def _sqlite_threads() -> int:
    return sum(t.name.startswith("agentsocket-sqlite") for t in threading.enumerate())


def _thread_name(_conn: Connection) -> str:
    return threading.current_thread().name


async def test__where_a_transaction_runs__sqlite_thread_for_a_file_else_the_loop(
    store_url: str, store: Store
) -> None:
    ran_in = await store._transactions.run(_thread_name)
    if store_url.startswith("sqlite"):
        assert store._transactions.one_call
        assert ran_in.startswith("agentsocket-sqlite")
    else:
        assert not store._transactions.one_call
        assert ran_in == threading.current_thread().name


async def test__body_raises__its_writes_rolled_back(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "kept")

    def rename_then_fail(conn: Connection) -> None:
        conn.execute(text("UPDATE threads SET title = 'changed' WHERE id = :id"), {"id": thread.id})
        raise LookupError("after the write")

    try:
        await store._transactions.run(rename_then_fail)
    except LookupError:
        pass
    else:
        raise AssertionError("the body's error did not reach the caller")
    assert (await store.get_thread(alice, thread.id)).title == "kept"


async def test__both_engines_appending_to_one_thread__positions_consecutive(
    store: Store, alice: str
) -> None:
    # add_message goes through the async engine, start_run_with_message through
    # the SQLite thread's own engine: the file's write lock orders them.
    thread = await store.create_thread(alice)
    await asyncio.gather(
        *(store.add_message(alice, thread.id, "user", f"m{i}") for i in range(10)),
        *(store.start_run_with_message(alice, thread.id, "demo", f"r{i}") for i in range(10)),
    )
    messages = (await store.history(alice, thread.id, limit=50)).messages
    assert sorted(m.position for m in messages) == list(range(1, 21))
    assert sum(m.run_id is not None for m in messages) == 10


async def test__close__stops_the_sqlite_thread(tmp_path: Path, alice: str) -> None:
    before = _sqlite_threads()
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'close.db'}", clock=FakeClock())
    started = await store.start_run_with_message(alice, None, "demo", "hi")
    assert await store.end_run(started.run.id, "completed", answer="hello")
    assert _sqlite_threads() == before + 1
    await store.close()
    assert _sqlite_threads() == before


async def test__caller_cancelled_while_the_body_runs__rolled_back(
    tmp_path: Path, alice: str
) -> None:
    # SQLite only: there the body runs in the store's own thread, which a cancelled
    # caller cannot stop; on PostgreSQL's async connection cancellation is SQLAlchemy's own.
    url = f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}"
    store = await Store.open(url, clock=FakeClock())
    try:
        await _rolled_back_when_cancelled(store, alice)
    finally:
        await store.close()


async def _rolled_back_when_cancelled(store: Store, alice: str) -> None:
    assert store._transactions.one_call
    thread = await store.create_thread(alice, "kept")
    entered, release = threading.Event(), threading.Event()

    def rename_slowly(conn: Connection) -> None:
        conn.execute(text("UPDATE threads SET title = 'changed' WHERE id = :id"), {"id": thread.id})
        entered.set()
        release.wait(10)  # in the SQLite thread: the caller is cancelled meanwhile

    task = asyncio.create_task(store._transactions.run(rename_slowly))
    assert await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The store's thread runs one transaction at a time: this one waits for the first.
    assert await store._transactions.run(_thread_name)
    assert (await store.get_thread(alice, thread.id)).title == "kept"
