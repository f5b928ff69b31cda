"""The ``Broker`` contract, run against every backend (memory and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from agentsocket.delivery import Broker, BrokerNotRunning, Entry, Gap, Position
from tests.delivery.helpers import (
    BrokerFactory,
    FakeClock,
    next_gap,
    seqs,
    take_entries,
)

USER = "user-1"


async def test__publish__new_stream__seqs_start_at_1_and_increase(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    published = [await broker.publish(USER, f"m{i}".encode()) for i in range(5)]
    assert published == [Entry(i + 1, f"m{i}".encode()) for i in range(5)]
    assert (await broker.position(USER)).seq == 5


async def test__position__new_stream__seq_0_and_same_epoch_while_it_exists(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    first = await broker.position(USER)
    assert first.seq == 0
    assert first.epoch
    await broker.publish(USER, b"x")
    assert await broker.position(USER) == Position(first.epoch, 1)
    assert (await broker.position("another-user")).epoch != first.epoch


async def test__streams__two_users__isolated(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    sub_a = await broker.subscribe("a")
    await broker.publish("a", b"a1")
    await broker.publish("b", b"b1")
    await broker.publish("b", b"b2")
    await broker.publish("a", b"a2")
    assert await take_entries(sub_a, 2) == [Entry(1, b"a1"), Entry(2, b"a2")]
    assert (await broker.position("b")).seq == 2


async def test__subscribe__two_subscribers__both_get_everything_in_order(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    first = await broker.subscribe(USER)
    second = await broker.subscribe(USER)
    await asyncio.gather(*(broker.publish(USER, str(i).encode()) for i in range(30)))
    got_first = await take_entries(first, 30)
    got_second = await take_entries(second, 30)
    assert seqs(got_first) == list(range(1, 31))
    assert got_second == got_first


async def test__subscribe__no_position__starts_at_the_head(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    for i in range(3):
        await broker.publish(USER, str(i).encode())
    sub = await broker.subscribe(USER)
    head = await broker.position(USER)
    assert sub.position == head
    await broker.publish(USER, b"after")
    assert await take_entries(sub, 1) == [Entry(4, b"after")]
    assert sub.position == Position(head.epoch, 4)


async def test__resume__after_n__replays_the_rest_then_live(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    for i in range(1, 11):
        await broker.publish(USER, str(i).encode())
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position(epoch, 4))
    assert await take_entries(sub, 6) == [Entry(i, str(i).encode()) for i in range(5, 11)]
    await broker.publish(USER, b"11")
    assert await take_entries(sub, 1) == [Entry(11, b"11")]


async def test__resume__while_publishing__no_duplicate_no_gap_at_the_boundary(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    for i in range(5):
        await broker.publish(USER, str(i).encode())
    epoch = (await broker.position(USER)).epoch

    async def publish_more() -> None:
        for i in range(60):
            await broker.publish(USER, str(i).encode())
            await asyncio.sleep(0)

    publisher = asyncio.create_task(publish_more())
    subs = []
    for _ in range(3):  # subscribe at different moments of the burst
        subs.append(await broker.subscribe(USER, Position(epoch, 2)))
        await asyncio.sleep(0)
    await publisher
    for sub in subs:
        assert seqs(await take_entries(sub, 63)) == list(range(3, 66))


async def test__resume__at_the_head__only_live(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    await broker.publish(USER, b"1")
    head = await broker.position(USER)
    sub = await broker.subscribe(USER, head)
    await broker.publish(USER, b"2")
    assert await take_entries(sub, 1) == [Entry(2, b"2")]


async def test__resume__new_stream_from_its_own_position__only_live(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    sub = await broker.subscribe(USER, await broker.position(USER))
    await broker.publish(USER, b"1")
    assert await take_entries(sub, 1) == [Entry(1, b"1")]


async def test__resume__wrong_epoch__gap_epoch_changed_then_live(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    for i in range(3):
        await broker.publish(USER, str(i).encode())
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position("an-old-epoch", 2))
    assert await next_gap(sub) == Gap(epoch, 1, 3, "epoch_changed")
    assert sub.position == Position(epoch, 3)
    await broker.publish(USER, b"4")
    assert await take_entries(sub, 1) == [Entry(4, b"4")]


async def test__resume__seq_beyond_the_head__gap_epoch_changed_then_live(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    await broker.publish(USER, b"1")
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position(epoch, 99))
    assert await next_gap(sub) == Gap(epoch, 1, 1, "epoch_changed")
    await broker.publish(USER, b"2")
    assert await take_entries(sub, 1) == [Entry(2, b"2")]


async def test__resume__past_count_retention__gap_then_the_retained_rest(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(max_entries=5)
    for i in range(1, 13):
        await broker.publish(USER, str(i).encode())
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position(epoch, 2))
    assert await next_gap(sub) == Gap(epoch, 3, 7, "retention")
    assert sub.position == Position(epoch, 7)
    assert seqs(await take_entries(sub, 5)) == [8, 9, 10, 11, 12]
    await broker.publish(USER, b"13")
    assert seqs(await take_entries(sub, 1)) == [13]


async def test__resume__past_age_retention__gap_then_the_fresh_rest(
    make_broker: BrokerFactory, clock: FakeClock
) -> None:
    broker = await make_broker(max_age_seconds=60)
    for i in range(1, 4):
        await broker.publish(USER, str(i).encode())
    clock.advance(40)
    await broker.publish(USER, b"4")  # keeps the stream's state alive
    clock.advance(21)  # 1..3 are 61 s old now
    await broker.publish(USER, b"5")
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position(epoch, 1))
    assert await next_gap(sub) == Gap(epoch, 2, 3, "retention")
    assert await take_entries(sub, 2) == [Entry(4, b"4"), Entry(5, b"5")]


async def test__resume__everything_aged_out__gap_to_the_head_then_live(
    make_broker: BrokerFactory, clock: FakeClock
) -> None:
    broker = await make_broker(max_age_seconds=60)
    keeper = await broker.subscribe(USER)  # an idle stream with a subscriber stays
    for i in range(1, 4):
        await broker.publish(USER, str(i).encode())
    await take_entries(keeper, 3)
    epoch = (await broker.position(USER)).epoch
    clock.advance(60.5)
    sub = await broker.subscribe(USER, Position(epoch, 1))
    assert await next_gap(sub) == Gap(epoch, 2, 3, "retention")
    await broker.publish(USER, b"4")
    assert await take_entries(sub, 1) == [Entry(4, b"4")]


async def test__resume__many_aged_out__all_dropped_in_one_gap(
    make_broker: BrokerFactory, clock: FakeClock
) -> None:
    broker = await make_broker(max_age_seconds=60)
    for i in range(150):
        await broker.publish(USER, str(i).encode())
    clock.advance(40)
    await broker.publish(USER, b"fresh")
    clock.advance(21)
    epoch = (await broker.position(USER)).epoch
    sub = await broker.subscribe(USER, Position(epoch, 0))
    assert await next_gap(sub) == Gap(epoch, 1, 150, "retention")
    assert await take_entries(sub, 1) == [Entry(151, b"fresh")]


async def test__resume__from_a_gap_position__continues_after_it(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(max_entries=2)
    for i in range(1, 6):
        await broker.publish(USER, str(i).encode())
    epoch = (await broker.position(USER)).epoch
    first = await broker.subscribe(USER, Position(epoch, 0))
    await next_gap(first)
    await first.close()
    second = await broker.subscribe(USER, first.position)
    assert seqs(await take_entries(second, 2)) == [4, 5]


async def test__publish__200_concurrent__gap_free_sequence(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    sub = await broker.subscribe(USER)
    published = await asyncio.gather(*(broker.publish(USER, str(i).encode()) for i in range(200)))
    assert sorted(seqs(list(published))) == list(range(1, 201))
    received = await take_entries(sub, 200)
    assert seqs(received) == list(range(1, 201))
    by_seq = {entry.seq: entry.payload for entry in published}
    assert all(by_seq[entry.seq] == entry.payload for entry in received)


async def test__slow_subscriber__does_not_block_others_and_catches_up_from_the_log(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(buffer_size=4, batch_size=7)
    fast = await broker.subscribe(USER)
    slow = await broker.subscribe(USER)
    fast_reader = asyncio.create_task(take_entries(fast, 50))
    for i in range(50):
        await broker.publish(USER, str(i).encode())
    assert seqs(await fast_reader) == list(range(1, 51))
    assert seqs(await take_entries(slow, 50)) == list(range(1, 51))
    await broker.publish(USER, b"live again")
    assert seqs(await take_entries(slow, 1)) == [51]


async def test__slow_subscriber__behind_retention__gets_a_gap_then_the_rest(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(buffer_size=4, max_entries=10)
    slow = await broker.subscribe(USER)
    for i in range(30):
        await broker.publish(USER, str(i).encode())
    gap = await next_gap(slow)
    assert (gap.from_seq, gap.to_seq, gap.reason) == (1, 20, "retention")
    assert seqs(await take_entries(slow, 10)) == list(range(21, 31))
    await broker.publish(USER, b"live again")
    assert seqs(await take_entries(slow, 1)) == [31]


async def test__close__subscription__ends_a_waiting_iteration(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    sub = await broker.subscribe(USER)
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    assert sub.closed
    await sub.close()  # idempotent
    await broker.publish(USER, b"nobody listens")
    assert [item async for item in sub] == []


async def test__close__context_manager__closes_the_subscription(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    async with await broker.subscribe(USER) as sub:
        await broker.publish(USER, b"1")
        assert seqs(await take_entries(sub, 1)) == [1]
    assert sub.closed
    other = await broker.subscribe(USER)  # the user's stream still works
    await broker.publish(USER, b"2")
    assert seqs(await take_entries(other, 1)) == [2]


async def test__close__broker__ends_subscriptions_and_refuses_use(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    sub = await broker.subscribe(USER)
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    await broker.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    assert not broker.healthy
    with pytest.raises(BrokerNotRunning):
        await broker.publish(USER, b"x")
    with pytest.raises(BrokerNotRunning):
        await broker.subscribe(USER)
    await broker.close()  # idempotent


async def test__healthy__after_start__true(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    assert broker.healthy


# Short, because Redis expires keys by its own clock (see ``outlive_retention``).
SHORT_AGE = 0.2

Outlive = Callable[[Broker, float], Awaitable[None]]


async def test__idle_past_retention__state_forgotten__next_use_starts_a_new_epoch(
    make_broker: BrokerFactory, outlive_retention: Outlive
) -> None:
    broker = await make_broker(max_age_seconds=SHORT_AGE)
    await broker.publish(USER, b"1")
    await broker.publish(USER, b"2")
    old = await broker.position(USER)
    await outlive_retention(broker, SHORT_AGE)
    new = await broker.position(USER)
    assert new.epoch != old.epoch
    assert new.seq == 0
    assert await broker.publish(USER, b"fresh") == Entry(1, b"fresh")
    assert await broker.position(USER) == Position(new.epoch, 1)


async def test__idle_past_retention__old_position__gap_epoch_changed_then_live(
    make_broker: BrokerFactory, outlive_retention: Outlive
) -> None:
    broker = await make_broker(max_age_seconds=SHORT_AGE)
    for i in range(3):
        await broker.publish(USER, str(i).encode())
    old = await broker.position(USER)
    await outlive_retention(broker, SHORT_AGE)
    await broker.publish(USER, b"new")
    sub = await broker.subscribe(USER, old)
    epoch = (await broker.position(USER)).epoch
    assert epoch != old.epoch
    assert await next_gap(sub) == Gap(epoch, 1, 1, "epoch_changed")
    await broker.publish(USER, b"live")
    assert await take_entries(sub, 1) == [Entry(2, b"live")]


async def test__idle_past_retention__unused_position__gap_epoch_changed_empty(
    make_broker: BrokerFactory, outlive_retention: Outlive
) -> None:
    broker = await make_broker(max_age_seconds=SHORT_AGE)
    old = await broker.position(USER)  # creates the stream, which then idles
    await outlive_retention(broker, SHORT_AGE)
    sub = await broker.subscribe(USER, old)
    gap = await next_gap(sub)
    assert gap.epoch != old.epoch
    assert gap == Gap(gap.epoch, 1, 0, "epoch_changed")


async def test__publishes_within_retention__state_kept_past_the_first_entry_age(
    make_broker: BrokerFactory, clock: FakeClock
) -> None:
    broker = await make_broker(max_age_seconds=60)
    await broker.publish(USER, b"1")
    epoch = (await broker.position(USER)).epoch
    clock.advance(40)
    await broker.publish(USER, b"2")
    clock.advance(40)
    assert await broker.position(USER) == Position(epoch, 2)


async def test__no_age_limit__state_kept_however_long_idle(
    make_broker: BrokerFactory, clock: FakeClock
) -> None:
    broker = await make_broker(max_age_seconds=None)
    await broker.publish(USER, b"1")
    before = await broker.position(USER)
    clock.advance(10**7)
    await broker.publish("another-user", b"x")
    assert await broker.position(USER) == before


def test__position__negative_seq__refused() -> None:
    with pytest.raises(ValueError, match="seq"):
        Position("epoch", -1)
