"""Fixtures that run one test against every broker backend."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from agentsocket.delivery import Broker, MemoryBroker, RedisBroker
from tests.delivery.helpers import TIMEOUT, BrokerFactory, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def prefix() -> str:
    """A Redis key prefix no other test (or test run) uses."""
    return f"test-delivery-{uuid.uuid4().hex}"


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def redis_admin(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    """A plain client for inspecting Redis; deletes the test's keys afterwards."""
    client = Redis.from_url(redis_url, client_name="test-delivery-admin")
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_broker(
    request: pytest.FixtureRequest, clock: FakeClock, prefix: str
) -> AsyncIterator[BrokerFactory]:
    """Start brokers of one backend; with Redis, all of a test's brokers share a prefix."""
    brokers: list[Broker] = []
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    async def factory(**options: Any) -> Broker:
        options.setdefault("clock", clock)
        broker: Broker
        if request.param == "redis":
            broker = RedisBroker(redis_url, prefix=prefix, **options)
        else:
            broker = MemoryBroker(**options)
        await broker.start()
        brokers.append(broker)
        return broker

    yield factory
    for broker in brokers:
        await broker.close()
    if redis_url:
        client = Redis.from_url(redis_url, client_name="test-delivery-admin")
        await delete_prefix(client, prefix)
        await client.aclose()


@pytest.fixture
def outlive_retention(
    request: pytest.FixtureRequest, clock: FakeClock, prefix: str
) -> Callable[[Broker, float], Awaitable[None]]:
    """Let ``max_age`` seconds pass for a broker: its clock, or (Redis) the keys' expiry.

    Redis expires keys by its own clock, so with Redis this waits until every
    key of the test's prefix is gone; keep ``max_age`` short there.
    """

    async def outlive(broker: Broker, max_age: float) -> None:
        clock.advance(max_age + 0.001)
        if not isinstance(broker, RedisBroker):
            return
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        try:
            async with asyncio.timeout(TIMEOUT):
                while [key async for key in client.scan_iter(match=f"{prefix}:*")]:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    return outlive
