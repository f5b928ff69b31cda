"""Reach the real Redis and PostgreSQL services the test suite runs against.

Under ``CI=true`` a missing service is a failure, never a silent skip; on a
developer machine without the service the test is skipped with the reason.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_URL = os.environ.get("AGENTSOCKET_TEST_REDIS_URL", f"redis://{REDIS_HOST}:{REDIS_PORT}/0")
POSTGRES_URL = os.environ.get(
    "AGENTSOCKET_TEST_POSTGRES_URL",
    f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test",
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail (in CI) or skip (locally) when a service does not answer."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if in_ci():
        pytest.fail(f"{message}; CI must start it (see .ci/run)")
    pytest.skip(f"{message}; start it to run this test")


def require_redis() -> str:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return REDIS_URL


def require_postgres() -> str:
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    return POSTGRES_URL
