"""What only the in-memory broker does (the rest is in the contract suite)."""

from __future__ import annotations

import pytest

from agentsocket.delivery import BrokerNotRunning, Gap, MemoryBroker, Position
from tests.delivery.helpers import FakeClock, next_gap, seqs, take_entries


async def test__restart__old_positions__gap_epoch_changed() -> None:
    async with MemoryBroker() as before:
        await before.publish("u", b"1")
        old = await before.position("u")
    async with MemoryBroker() as after:
        await after.publish("u", b"fresh")
        sub = await after.subscribe("u", old)
        new_epoch = (await after.position("u")).epoch
        assert new_epoch != old.epoch
        assert await next_gap(sub) == Gap(new_epoch, 1, 1, "epoch_changed")
        await after.publish("u", b"2")
        assert seqs(await take_entries(sub, 1)) == [2]


async def test__not_started__refuses_use() -> None:
    broker = MemoryBroker()
    assert not broker.healthy
    with pytest.raises(BrokerNotRunning):
        await broker.publish("u", b"x")
    with pytest.raises(BrokerNotRunning):
        await broker.position("u")


async def test__closed__cannot_start_again() -> None:
    broker = MemoryBroker()
    await broker.start()
    await broker.close()
    with pytest.raises(BrokerNotRunning):
        await broker.start()


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_entries": 0}, "max_entries"), ({"max_age_seconds": 0}, "max_age_seconds")],
)
def test__bad_retention__refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryBroker(**options)  # type: ignore[arg-type]


async def test__no_age_limit__keeps_entries_until_the_count_limit() -> None:
    async with MemoryBroker(max_entries=3, max_age_seconds=None, clock=lambda: 0.0) as broker:
        for i in range(4):
            await broker.publish("u", str(i).encode())
        sub = await broker.subscribe("u", Position((await broker.position("u")).epoch, 0))
        assert await next_gap(sub) == Gap(sub.position.epoch, 1, 1, "retention")
        assert seqs(await take_entries(sub, 3)) == [2, 3, 4]


async def test__idle_stream_with_a_subscriber__kept_until_it_leaves_and_the_age_passes() -> None:
    clock = FakeClock(1000.0)
    async with MemoryBroker(max_age_seconds=60, clock=clock) as broker:
        sub = await broker.subscribe("u")
        await broker.publish("u", b"1")
        epoch = (await broker.position("u")).epoch
        clock.advance(120)
        await broker.publish("other", b"x")  # a sweep finds "u" idle but subscribed
        assert await broker.position("u") == Position(epoch, 1)
        await broker.publish("u", b"2")
        assert seqs(await take_entries(sub, 2)) == [1, 2]

        await sub.close()
        clock.advance(60)
        assert await broker.position("u") == Position(epoch, 2)  # not older than the age
        clock.advance(1)
        fresh = await broker.position("u")
        assert fresh.epoch != epoch
        assert fresh.seq == 0


async def test__subscriber_leaves_a_long_idle_stream__forgotten_at_the_next_call() -> None:
    clock = FakeClock(1000.0)
    async with MemoryBroker(max_age_seconds=60, clock=clock) as broker:
        sub = await broker.subscribe("u")
        await broker.publish("u", b"1")
        old = sub.position
        clock.advance(120)
        await sub.close()
        resumed = await broker.subscribe("u", old)
        gap = await next_gap(resumed)
        assert gap.epoch != old.epoch
        assert gap == Gap(gap.epoch, 1, 0, "epoch_changed")


async def test__many_idle_users__swept_by_calls_for_other_users() -> None:
    clock = FakeClock(1000.0)
    async with MemoryBroker(max_age_seconds=60, clock=clock) as broker:
        for i in range(100):
            await broker.publish(f"idle-{i}", b"x")
        kept = await broker.subscribe("idle-0")  # subscribed: never swept
        clock.advance(61)
        for _ in range(10):
            await broker.publish("active", b"y")
        # Memory is the point here, so look at the broker's table itself.
        assert set(broker._streams) == {"idle-0", "active"}
        await kept.close()
