"""MemoryBroker's memory: entries stored compactly, the node's whole log bounded in bytes.

Issue 12, bug 13: ~4.4 KB per entry was reported for a whole gateway, ~500
bytes for the log alone, and nothing bounded a node's total.
"""

from __future__ import annotations

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from agentsocket.delivery import Position
from agentsocket.delivery._compact import pack, unpack
from agentsocket.delivery._payload_log import BLOCK_ENTRIES, PayloadLog
from agentsocket.delivery.memory import ENTRY_OVERHEAD, MemoryBroker
from agentsocket.protocol import server_messages as s
from agentsocket.runs.stream import stream_payload
from tests.delivery.helpers import next_gap, seqs, take_entries

COMMON = {
    "run_id": "run_0123456789abcdef01234567",
    "thread_id": "thr_0123456789abcdef01234567",
    "agent_name": "demo",
}


def delta(text: str) -> bytes:
    message = s.AgentMessageDelta(**COMMON, message_id="msg_0123456789abcdef", content=text)
    return stream_payload(message, "node-a")


@given(st.binary(max_size=2000))
def test__pack__round_trips_any_bytes(payload: bytes) -> None:
    assert unpack(pack(payload)) == payload


def test__pack__marker_byte_payload__round_trips() -> None:
    for payload in (b"\x00", b"\x00" * 10, b"\x00{}", b"\x00" + b"x" * 500):
        assert unpack(pack(payload)) == payload


def test__pack__typical_frame__a_third_of_its_size() -> None:
    payload = delta("The answer to 17*23 is ")
    assert len(pack(payload)) * 2 < len(payload)


async def test__log_entry__costs_far_less_than_before() -> None:
    # tracemalloc counts every allocation the log keeps for 5,000 entries,
    # payload bytes included (each publish gets its own bytes, as the gateway's do).
    payloads = [delta(f"piece {i} of the answer ") for i in range(5000)]
    async with MemoryBroker(max_entries=5000, max_age_seconds=None, compress_above=0) as broker:
        await broker.publish("warm-up", payloads[0])
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for payload in payloads:
                await broker.publish("alice", payload)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        read = await broker.read("alice", 0, 5000)
    kept = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    average_payload = sum(map(len, payloads)) / len(payloads)
    # Stored as (time, Entry(seq, payload)) tuples this was ~200 bytes above the payload;
    # each payload deflated alone, about half of it; in blocks of 16, about a fifth.
    assert kept / len(payloads) < average_payload * 0.35
    assert [entry.payload for entry in read.entries] == payloads


async def test__node_log__never_above_max_bytes() -> None:
    payload = delta("x" * 200)
    async with MemoryBroker(max_entries=1000, max_bytes=20_000, max_age_seconds=None) as broker:
        for i in range(2000):
            await broker.publish(f"user-{i % 7}", payload)
            assert broker.stored_bytes <= 20_000
        # Fewer than a block's entries per stream: each is charged unpacked.
        assert broker.stored_bytes > 20_000 - (len(payload) + ENTRY_OVERHEAD)


async def test__over_max_bytes__least_recently_active_stream_loses_its_oldest_first() -> None:
    payload = delta("y" * 100)
    size = len(payload) + ENTRY_OVERHEAD  # not packed: under a block
    async with MemoryBroker(max_entries=100, max_bytes=10 * size, max_age_seconds=None) as broker:
        for _ in range(6):
            await broker.publish("idle", payload)
        for _ in range(6):
            await broker.publish("busy", payload)
        idle = await broker.read("idle", 0, 100)
        busy = await broker.read("busy", 0, 100)
    assert seqs(idle.entries) == [3, 4, 5, 6]
    assert seqs(busy.entries) == [1, 2, 3, 4, 5, 6]


async def test__entries_dropped_for_bytes__resume_gets_a_gap_then_the_rest() -> None:
    payload = delta("z" * 100)
    size = len(payload) + ENTRY_OVERHEAD  # not packed: under a block
    async with MemoryBroker(max_entries=100, max_bytes=3 * size, max_age_seconds=None) as broker:
        first = await broker.publish("alice", payload)
        epoch = (await broker.position("alice")).epoch
        for _ in range(4):
            await broker.publish("alice", payload)
        subscription = await broker.subscribe("alice", Position(epoch, first.seq))
        gap = await next_gap(subscription)
        rest = await take_entries(subscription, 3)
        await subscription.close()
    assert (gap.from_seq, gap.to_seq) == (2, 2)
    assert seqs(rest) == [3, 4, 5]


async def test__uncompressed__marker_byte_payload_read_back_as_is() -> None:
    async with MemoryBroker(compress=False, max_age_seconds=None) as broker:
        await broker.publish("alice", b"\x00raw")
        read = await broker.read("alice", 0, 10)
    assert [entry.payload for entry in read.entries] == [b"\x00raw"]


# --- blocks: the newest payloads as they are, older ones deflated together ---------------

payloads_and_packing = st.tuples(
    st.binary(max_size=40).map(lambda b: b'{"p":"%s"}' % b.hex().encode()), st.booleans()
)
ops = st.lists(st.one_of(payloads_and_packing, st.none()), max_size=4 * BLOCK_ENTRIES)


@given(ops, st.integers(0, 4 * BLOCK_ENTRIES), st.integers(0, 4 * BLOCK_ENTRIES))
def test__payload_log__reads_what_was_kept_whatever_the_appends_and_drops(
    steps: list[tuple[bytes, bool] | None], start: int, length: int
) -> None:
    log, model = PayloadLog(), list[bytes]()
    for step in steps:
        if step is not None:
            payload, pack = step
            log.append(payload, pack)
            model.append(payload)
        elif model:  # None: drop the oldest
            log.drop_oldest()
            model.pop(0)
    assert len(log) == len(model)
    assert log.read(0, len(model)) == model
    assert log.read(start, start + length) == model[start : start + length]
    while model:
        log.drop_oldest()
        model.pop(0)
    assert log.nbytes == 0


def test__payload_log__full_block_packed_far_smaller() -> None:
    payloads = [delta(f"piece {i} of the answer ") for i in range(BLOCK_ENTRIES)]
    packed, raw = PayloadLog(), PayloadLog(compress=False)
    changes = [packed.append(p) for p in payloads]
    for payload in payloads:
        raw.append(payload)
    assert changes[-1] < 0  # the last append packed the block: the log shrank
    assert packed.nbytes * 3 < raw.nbytes
    assert raw.nbytes == sum(map(len, payloads)) + ENTRY_OVERHEAD * len(payloads)
    assert packed.read(0, BLOCK_ENTRIES) == payloads


async def test__node_log_of_packed_blocks__never_above_max_bytes_and_in_order() -> None:
    # Room for a few packed blocks per stream beside each stream's unpacked newest ones.
    budget = 150_000
    published: list[bytes] = []
    async with MemoryBroker(
        max_entries=5000, max_bytes=budget, max_age_seconds=None, compress_above=0
    ) as broker:
        for i in range(6000):
            payload = delta(f"{i} ")
            await broker.publish(f"user-{i % 2}", payload)
            if i % 2:
                published.append(payload)
            assert broker.stored_bytes <= budget
        read = await broker.read("user-1", 0, 5000)
    kept = [entry.payload for entry in read.entries]
    assert kept == published[-len(kept) :]
    assert seqs(read.entries)[-1] == 3000
    # Unpacked, each of the two streams would keep about this many.
    unpacked = budget // (len(published[-1]) + ENTRY_OVERHEAD) // 2
    assert len(kept) > 3 * unpacked


async def test__below_compress_above__kept_as_they_are__past_it_packed_oldest_first() -> None:
    payloads = [delta(f"piece {i} of the answer ") for i in range(6 * BLOCK_ENTRIES)]
    raw_size = len(payloads[0]) + ENTRY_OVERHEAD
    threshold = 3 * BLOCK_ENTRIES * raw_size
    async with MemoryBroker(
        max_entries=5000, max_age_seconds=None, compress_above=threshold
    ) as broker:
        for payload in payloads[: 3 * BLOCK_ENTRIES - 1]:
            await broker.publish("alice", payload)
        # Below the threshold: no CPU spent deflating, every entry charged as it is.
        assert broker.stored_bytes == sum(
            len(p) + ENTRY_OVERHEAD for p in payloads[: 3 * BLOCK_ENTRIES - 1]
        )
        for payload in payloads[3 * BLOCK_ENTRIES - 1 :]:
            await broker.publish("alice", payload)
        # Past it each publish packed one block of the backlog: the log went back under it.
        assert broker.stored_bytes < threshold
        read = await broker.read("alice", 0, 5000)
    assert [entry.payload for entry in read.entries] == payloads
    assert seqs(read.entries) == list(range(1, len(payloads) + 1))


def test__payload_log__pack_not_asked__kept_as_they_are_then_packed_oldest_first() -> None:
    payloads = [delta(f"piece {i} ") for i in range(3 * BLOCK_ENTRIES)]
    log = PayloadLog()
    for payload in payloads[: 2 * BLOCK_ENTRIES]:
        log.append(payload, pack=False)
    assert log.nbytes == sum(len(p) + ENTRY_OVERHEAD for p in payloads[: 2 * BLOCK_ENTRIES])
    for payload in payloads[2 * BLOCK_ENTRIES :]:
        log.append(payload)
    assert log.nbytes * 2 < sum(len(p) + ENTRY_OVERHEAD for p in payloads)
    assert log.read(0, len(payloads)) == payloads
    for _ in range(BLOCK_ENTRIES + 3):
        log.drop_oldest()
    assert log.read(0, len(payloads)) == payloads[BLOCK_ENTRIES + 3 :]
