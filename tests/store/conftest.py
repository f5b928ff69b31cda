"""A fresh :class:`Store` on SQLite and on PostgreSQL for every test, and two users.

SQLite gets a file per test. PostgreSQL gets one scratch database per test
session, created on first use and dropped at the end; tests stay apart by
using fresh user ids, since everything in the store belongs to a user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentsocket.store import Store
from tests.store.databases import create_database, drop_database

BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


class FakeClock:
    """Ticks one second per reading, so every timestamp is distinct and ordered."""

    def __init__(self, start: float = 1_700_000_000.0, step: float = 1.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _session_databases() -> AsyncIterator[dict[str, str]]:
    """Server URL -> scratch database URL; dropped when the session ends."""
    created: dict[str, str] = {}
    yield created
    for server_url, database_url in created.items():
        await drop_database(database_url, server_url)


@pytest.fixture(params=BACKENDS)
async def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, _session_databases: dict[str, str]
) -> str:
    """URL of a migrated-or-empty database that this session owns."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    server_url: str = request.getfixturevalue("postgres_url")
    if server_url not in _session_databases:
        _session_databases[server_url] = await create_database(server_url)
    return _session_databases[server_url]


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """URL of a database no migration has touched yet; for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    database_url = await create_database(server_url)
    try:
        yield database_url
    finally:
        await drop_database(database_url, server_url)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    store = await Store.open(store_url, clock=FakeClock())
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def alice() -> str:
    return f"alice-{uuid.uuid4().hex}"


@pytest.fixture
def bob() -> str:
    return f"bob-{uuid.uuid4().hex}"
