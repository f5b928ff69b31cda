"""Opening the database: the async engine, SQLite's settings, and migrations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Plain URLs get the async driver, so one setting works for every tool.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_MIGRATIONS = Path(__file__).with_name("migrations")
# Our own name, so the store can share a database with another Alembic user.
VERSION_TABLE = "agentsocket_store_version"
# Any constant works, as long as every gateway process uses the same one.
_MIGRATION_LOCK = 0x6167_656E_7473_6F63  # "agentsoc"


def create_engine(url: str) -> AsyncEngine:
    """Return an async engine for ``url``, a SQLite or PostgreSQL URL.

    ``sqlite:///…`` and ``postgresql://…`` are upgraded to their async drivers;
    the directory of a SQLite file is created if missing.
    """
    parsed = make_url(url)
    parsed = parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    sqlite = parsed.get_backend_name() == "sqlite"
    path = sqlite_file(parsed)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # A pre-ping finds connections a database server dropped. A SQLite connection
    # is a file handle that nothing drops, and the ping is a round trip through
    # the driver's thread on every checkout (~40% of an empty transaction's CPU).
    engine = create_async_engine(
        parsed,
        pool_pre_ping=not sqlite,
        connect_args=sqlite_connect_args() if sqlite else {},
    )
    if sqlite:
        watch_sqlite(engine.sync_engine)
    return engine


def sqlite_file(url: URL) -> str | None:
    """The database file of a SQLite ``url``; None for another database or an in-memory one."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return database


def sqlite_connect_args() -> dict[str, Any]:
    # Wait up to 30 s for another connection's write lock (default 5 s), so
    # processes and threads migrating or writing at once queue up instead of failing.
    return {"timeout": 30.0}


def watch_sqlite(engine: Engine) -> None:
    """Give every new SQLite connection of ``engine`` the store's settings."""
    event.listen(engine, "connect", _configure_sqlite)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")  # off by default; cascades need it
    _use_wal(cursor)  # readers stop blocking the writer
    # With WAL, NORMAL stays consistent after a crash and skips an fsync per
    # commit; a power loss may lose the last commits, never corrupt the file.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    # SQLite's lower() folds ASCII only, PostgreSQL's all of Unicode; searching
    # uses lower(), so both backends must find "Ärger" when asked for "ärger".
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    # Switching a new file to WAL needs it to itself; processes opening the same
    # new database together can find it busy without SQLite's busy wait, so retry.
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # the async driver's adapted OperationalError
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)  # in the driver's own thread, not on the event loop


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    # Gateway processes may start together: the first migrates, the others
    # wait for it and then find nothing to do.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module begins no transaction before DDL, so without this
        # a failed migration would be half applied and two could interleave.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(alembic_config(connection), "head")


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration that ``migrations/env.py`` expects.

    ``connection`` is the one the migrations run on; without it the config
    still serves to inspect the scripts (``ScriptDirectory.from_config``).
    """
    config = Config(attributes={"connection": connection})
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config
