"""What only the in-memory broker does (the rest is in the contract suite)."""

from __future__ import annotations

import pytest

from agentsocket.delivery import BrokerNotRunning, Gap, MemoryBroker, Position
from tests.delivery.helpers import next_gap, seqs, take_entries


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
