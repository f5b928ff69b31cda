"""Fixtures that run one test against every broker backend."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from agentsocket.delivery import Broker, MemoryBroker, RedisBroker
from tests.delivery.helpers import BrokerFactory, FakeClock


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
