"""Helpers shared by the delivery tests (not a test module)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from agentsocket.delivery import Broker, Entry, Gap, Item, Subscription

# Safety net only: a healthy run never waits this long.
TIMEOUT = 15.0


class BrokerFactory(Protocol):
    """Makes a started broker of the backend under test; the fixture closes it."""

    def __call__(self, **options: Any) -> Awaitable[Broker]: ...


class FakeClock:
    """A wall clock that moves only when the test says so."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def take(subscription: Subscription, count: int) -> list[Item]:
    """The next ``count`` items of ``subscription``."""
    items: list[Item] = []
    async with asyncio.timeout(TIMEOUT):
        while len(items) < count:
            items.append(await anext(subscription))
    return items


async def take_entries(subscription: Subscription, count: int) -> list[Entry]:
    """The next ``count`` items, which must all be entries."""
    items = await take(subscription, count)
    entries = [item for item in items if isinstance(item, Entry)]
    assert entries == items, f"expected only entries, got {items}"
    return entries


async def next_gap(subscription: Subscription) -> Gap:
    (item,) = await take(subscription, 1)
    assert isinstance(item, Gap), f"expected a Gap, got {item}"
    return item


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (the timeout is only a safety net)."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 - the state lives outside asyncio
            await asyncio.sleep(0.01)


def seqs(items: list[Entry]) -> list[int]:
    return [entry.seq for entry in items]
