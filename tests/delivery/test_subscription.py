"""The catch-up logic shared by both brokers, driven through a log the test controls.

The broker contract tests cannot make a backend lose a live message or change
epoch under a subscriber at a chosen moment; ``ListSource`` can.
"""

from __future__ import annotations

import asyncio

import pytest

from agentsocket.delivery import BrokerUnavailable, Entry, Gap, LogRead, Position, Subscription
from tests.delivery.helpers import next_gap, seqs, take, take_entries, wait_for

USER = "user-1"


class ListSource:
    """A stream log in a list; the test appends, trims, fails and changes epochs."""

    def __init__(self) -> None:
        self.epoch = "e1"
        self.last_seq = 0
        self.entries: list[Entry] = []
        self.reads = 0
        self.failing = False
        self.gate: asyncio.Event | None = None  # when set, reads wait for it
        self.detached: list[Subscription] = []

    def append(self, count: int) -> list[Entry]:
        new = []
        for _ in range(count):
            self.last_seq += 1
            new.append(Entry(self.last_seq, str(self.last_seq).encode()))
        self.entries.extend(new)
        return new

    def trim_to(self, first_seq: int) -> None:
        self.entries = [entry for entry in self.entries if entry.seq >= first_seq]

    def new_epoch(self, epoch: str) -> None:
        self.epoch, self.last_seq, self.entries = epoch, 0, []

    async def read(self, user_id: str, after_seq: int, limit: int) -> LogRead:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise BrokerUnavailable("the test says the log is down")
        entries = [entry for entry in self.entries if entry.seq > after_seq][:limit]
        return LogRead(self.epoch, self.last_seq, entries)

    async def detach(self, subscription: Subscription) -> None:
        self.detached.append(subscription)


async def start(
    source: ListSource,
    resume_from: Position | None = None,
    *,
    buffer_size: int = 16,
    batch_size: int = 100,
) -> Subscription:
    sub = Subscription(source, USER, buffer_size=buffer_size, batch_size=batch_size)
    await sub._start(resume_from)
    return sub


def publish(source: ListSource, sub: Subscription, count: int, *, live: bool = True) -> None:
    """Append to the log and, unless ``live`` is false (a lost message), feed ``sub``."""
    for entry in source.append(count):
        if live:
            sub._deliver(source.epoch, entry)


async def test__live__skipped_seq__filled_from_the_log() -> None:
    source = ListSource()
    sub = await start(source)
    publish(source, sub, 2, live=False)  # lost on the way
    publish(source, sub, 1)
    assert seqs(await take_entries(sub, 3)) == [1, 2, 3]


async def test__live__entries_already_replayed__dropped() -> None:
    source = ListSource()
    source.append(3)
    sub = await start(source, Position("e1", 0))
    for entry in source.entries[1:]:
        sub._deliver("e1", entry)  # live copies of seqs 2 and 3
    publish(source, sub, 1)
    assert seqs(await take_entries(sub, 4)) == [1, 2, 3, 4]
    publish(source, sub, 1)
    assert seqs(await take_entries(sub, 1)) == [5]


async def test__live__no_loss__reads_the_log_only_at_start() -> None:
    source = ListSource()
    sub = await start(source, buffer_size=20)
    publish(source, sub, 20)
    assert seqs(await take_entries(sub, 20)) == list(range(1, 21))
    assert source.reads == 1


async def test__overflow__buffer_dropped__caught_up_in_batches() -> None:
    source = ListSource()
    sub = await start(source, buffer_size=3, batch_size=4)
    publish(source, sub, 10)
    assert len(sub._live or ()) <= 3
    assert seqs(await take_entries(sub, 10)) == list(range(1, 11))
    assert source.reads == 1 + 3  # head, then 4 + 4 + 2


async def test__epoch_change__under_a_live_subscription__gap_then_new_epoch_from_start() -> None:
    source = ListSource()
    sub = await start(source)
    publish(source, sub, 2)
    assert seqs(await take_entries(sub, 2)) == [1, 2]
    source.new_epoch("e2")  # e.g. Redis lost the stream
    publish(source, sub, 2)
    assert await next_gap(sub) == Gap("e2", 1, 0, "epoch_changed")
    assert seqs(await take_entries(sub, 2)) == [1, 2]
    assert sub.position == Position("e2", 2)


async def test__epoch_change__new_epoch_already_trimmed__gap_covers_the_trimmed_part() -> None:
    source = ListSource()
    sub = await start(source)
    source.new_epoch("e2")
    source.append(5)
    source.trim_to(4)
    publish(source, sub, 1)
    assert await next_gap(sub) == Gap("e2", 1, 3, "epoch_changed")
    assert seqs(await take_entries(sub, 3)) == [4, 5, 6]


async def test__epoch_change__stale_live_entries_of_the_old_epoch__ignored() -> None:
    source = ListSource()
    sub = await start(source)
    old = source.append(1)[0]
    source.new_epoch("e2")
    publish(source, sub, 1)
    sub._deliver("e1", old)  # arrives late, after the new epoch's first entry
    items = await take(sub, 2)
    assert items == [Gap("e2", 1, 0, "epoch_changed"), Entry(1, b"1")]
    publish(source, sub, 1)
    assert seqs(await take_entries(sub, 1)) == [2]


async def test__history_regressed__same_epoch_shorter_log__gap_epoch_changed() -> None:
    source = ListSource()
    sub = await start(source)
    publish(source, sub, 5)
    await take_entries(sub, 5)
    source.last_seq, source.entries = 2, source.entries[:2]  # restored from an old snapshot
    sub._resync()
    assert await next_gap(sub) == Gap("e1", 1, 2, "epoch_changed")
    publish(source, sub, 1)
    assert seqs(await take_entries(sub, 1)) == [3]


async def test__log_unreachable__subscription_waits_then_catches_up_on_resync() -> None:
    source = ListSource()
    sub = await start(source)
    source.failing = True
    publish(source, sub, 1, live=False)
    publish(source, sub, 1)  # the hole makes it read the log, which fails
    reader = asyncio.create_task(take_entries(sub, 3))
    await wait_for(lambda: sub._stalled)
    reads = source.reads
    publish(source, sub, 1)
    await asyncio.sleep(0)
    assert not reader.done()
    assert source.reads == reads  # no busy retrying while stalled
    source.failing = False
    sub._resync()
    assert seqs(await reader) == [1, 2, 3]


async def test__consumer_timeout__during_a_catch_up__catch_up_resumes_next_time() -> None:
    source = ListSource()
    sub = await start(source, buffer_size=1)
    source.gate = asyncio.Event()
    publish(source, sub, 2)  # overflows, leaving nothing live: only the log has them
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(sub), 0.05)
    source.gate.set()
    assert seqs(await take_entries(sub, 2)) == [1, 2]


async def test__close__while_stalled__ends_the_iteration() -> None:
    source = ListSource()
    sub = await start(source)
    source.failing = True
    publish(source, sub, 1, live=False)
    publish(source, sub, 1)
    reader = asyncio.create_task(anext(sub))
    await wait_for(lambda: sub._stalled)
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await reader
    assert source.detached == [sub]


async def test__resume__inside_the_log__position_moves_with_each_item() -> None:
    source = ListSource()
    source.append(4)
    source.trim_to(3)
    sub = await start(source, Position("e1", 1))
    assert sub.position == Position("e1", 1)
    await next_gap(sub)
    assert sub.position == Position("e1", 2)
    await take_entries(sub, 1)
    assert sub.position == Position("e1", 3)


def test__subscription__zero_buffer__refused() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        Subscription(ListSource(), USER, buffer_size=0, batch_size=1)


async def owed(sub: Subscription) -> list[int]:
    """The seqs ``next_ready`` gives until it parks the consumer (returns None)."""
    got = []
    while (item := await sub.next_ready()) is not None:
        assert isinstance(item, Entry)
        got.append(item.seq)
    return got


async def test__parked__contiguous_live_to_the_listener__a_hole_to_on_backlog() -> None:
    source = ListSource()
    source.append(2)
    sub = await start(source, Position("e1", 0))
    heard: list[int] = []
    backlogs: list[int] = []
    sub.listen(lambda entry: heard.append(entry.seq), lambda: backlogs.append(len(heard)))
    assert await owed(sub) == [1, 2]  # the backlog
    publish(source, sub, 2)
    assert heard == [3, 4]  # in the publisher's call
    assert backlogs == []
    publish(source, sub, 1, live=False)  # lost on the way
    publish(source, sub, 2)
    assert heard == [3, 4]
    assert backlogs == [2]  # told once, not per entry
    assert await owed(sub) == [5, 6, 7]  # from the log
    publish(source, sub, 1)
    assert heard == [3, 4, 8]
    assert sub.position == Position("e1", 8)


async def test__idle__holds_no_buffers_or_waiter() -> None:
    source = ListSource()
    sub = await start(source, Position("e1", 0))
    publish(source, sub, 3)
    assert seqs(await take_entries(sub, 3)) == [1, 2, 3]
    assert await sub.next_ready() is None
    assert (sub._live, sub._ready, sub._waiter) == (None, None, None)
