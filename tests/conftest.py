"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from tests.services import require_postgres, require_redis


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis server; fails under CI=true when it is down."""
    return require_redis()


@pytest.fixture
def postgres_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL server (database ``test``)."""
    return require_postgres()
