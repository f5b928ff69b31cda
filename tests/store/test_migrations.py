"""Migrations: create exactly tables.py, run once, survive reopening and racing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from agentsocket.store import Store
from agentsocket.store.engine import VERSION_TABLE, alembic_config, create_engine, migrate
from agentsocket.store.tables import metadata


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return list(compare_metadata(context, metadata))


async def _versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return [row.version_num for row in rows]
    finally:
        await engine.dispose()


async def test__open__empty_database__schema_equals_tables(empty_url: str) -> None:
    store = await Store.open(empty_url)
    await store.close()

    engine = create_engine(empty_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert diff == []
    assert await _versions(empty_url) == [_head()]


async def test__open_twice__data_kept_and_no_new_version(empty_url: str) -> None:
    first = await Store.open(empty_url)
    thread = await first.create_thread("alice", "kept")
    await first.close()

    second = await Store.open(empty_url)
    try:
        await second.migrate()
        assert await second.get_thread("alice", thread.id) == thread
    finally:
        await second.close()
    assert await _versions(empty_url) == [_head()]


async def test__open__concurrently_on_empty_database__all_succeed(empty_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(empty_url) for _ in range(4)))
    try:
        threads = [await store.create_thread("alice") for store in stores]
        assert len(await stores[0].list_threads("alice")) == len(threads)
    finally:
        for store in stores:
            await store.close()
    assert await _versions(empty_url) == [_head()]


async def test__downgrade_to_base_then_upgrade__schema_back(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to_base)
            tables = await conn.run_sync(
                lambda sync: sorted(name for name in metadata.tables if _has_table(sync, name))
            )
        assert tables == []
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def _downgrade_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


def _has_table(connection: Connection, name: str) -> bool:
    return connection.dialect.has_table(connection, name)


async def test__plain_sqlite_url_in_missing_directory__opens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "store.db"

    store = await Store.open(f"sqlite:///{path}")
    try:
        await store.create_thread("alice")
    finally:
        await store.close()

    assert path.exists()


async def test__sqlite__write_ahead_log_and_foreign_keys_on(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        async with engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await engine.dispose()

    assert (journal, foreign_keys) == ("wal", 1)


async def test__timeline_revision__down_to_0001_and_up_again__runs_kept(empty_url: str) -> None:
    store = await Store.open(empty_url)
    try:
        started = await store.start_run_with_message("alice", None, "demo", "hi")
    finally:
        await store.close()
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0001"))
            has_timeline = await conn.run_sync(lambda s: _has_table(s, "run_timeline_items"))
            has_runs = await conn.run_sync(lambda s: _has_table(s, "runs"))
        assert (has_timeline, has_runs) == (False, True)
        assert await _versions(empty_url) == ["0001"]
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()
    assert await _versions(empty_url) == [_head()] == ["0003_interrupts"]
    reopened = await Store.open(empty_url)
    try:
        assert (await reopened.get_run("alice", started.run.id)).id == started.run.id
    finally:
        await reopened.close()
