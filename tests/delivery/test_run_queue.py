"""The run queue against the real Redis: taking runs, reclaiming lost reads, expiring runs.

Each test uses its own key prefix (``prefix`` fixture), deleted afterwards.
Time is never waited for: a run is made "queued long ago" by moving its
score in the queued set, and reclaiming uses an idle time of 0 or an hour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from agentsocket.agents.pauses import Resolution
from agentsocket.delivery.run_queue import EXPIRED, GROUP, RunInfo, RunQueue, RunRequest, connect
from agentsocket.protocol import AgentErrorCode, ServerMessage
from agentsocket.protocol.server_messages import AgentError
from agentsocket.runs import QueueExecutor, Resolve, lost_run_outcome, parse_command

pytestmark = pytest.mark.redis

HOUR_MS = 3_600_000
REQUEST = RunRequest("run-1", "alice", "thread-1", "demo", "hello")


@pytest.fixture
async def queue(redis_url: str, prefix: str, redis_admin: Redis) -> AsyncIterator[RunQueue]:
    """A run queue under the test's prefix, its consumer group created."""
    redis = connect(redis_url)
    run_queue = RunQueue(redis, prefix)
    await run_queue.ensure_group()
    yield run_queue
    await redis.aclose()


async def _read_and_die(queue: RunQueue, consumer: str) -> bytes:
    """What a worker does before dying between XREADGROUP and taking the run."""
    reply: Any = await queue.redis.xreadgroup(GROUP, consumer, {queue.stream: ">"}, count=1)
    entry_id: bytes = reply[0][1][0][0]
    return entry_id


async def _pending(queue: RunQueue) -> int:
    summary: Any = await queue.redis.xpending(queue.stream, GROUP)
    return int(summary["pending"])


async def _queued_long_ago(queue: RunQueue, run_id: str) -> None:
    await queue.redis.zadd(f"{queue.prefix}:queued", {run_id: 0})


async def test_a_traceparent_travels_as_an_entry_field_of_its_own(queue: RunQueue) -> None:
    traced = replace(REQUEST, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    await queue.submit(traced)
    entries: Any = await queue.redis.xrange(queue.stream)
    fields = entries[0][1]
    # A worker that predates traceparents reads `request` alone, as it always did.
    assert RunRequest(**orjson.loads(fields[b"request"])) == REQUEST
    assert fields[b"traceparent"] == traced.traceparent.encode()  # type: ignore[union-attr]
    assert await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS) == traced


async def test_a_worker_takes_a_queued_run(queue: RunQueue) -> None:
    await queue.submit(REQUEST)
    assert await queue.running_count("alice") == 1

    assert await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS) == REQUEST
    info = await queue.info("run-1")
    assert info is not None
    assert (info.state, info.worker) == ("running", "w1")
    assert await queue.redis.hget(f"{queue.prefix}:active", "run-1") == b"w1"
    assert await queue.redis.xlen(queue.stream) == 0
    assert await _pending(queue) == 0
    assert await queue.redis.zcard(f"{queue.prefix}:queued") == 0
    assert await queue.claim("w2", block_ms=10, reclaim_idle_ms=0) is None


async def test_an_entry_left_pending_by_a_dead_reader_is_reclaimed_by_a_live_worker(
    queue: RunQueue,
) -> None:
    await queue.submit(REQUEST)
    await _read_and_die(queue, "dead")
    assert await _pending(queue) == 1

    # Not idle long enough yet: the reader may still be taking it.
    assert await queue.claim("live", block_ms=10, reclaim_idle_ms=HOUR_MS) is None
    assert await _pending(queue) == 1

    assert await queue.claim("live", block_ms=10, reclaim_idle_ms=0) == REQUEST
    info = await queue.info("run-1")
    assert info is not None
    assert (info.state, info.worker) == ("running", "live")
    assert await _pending(queue) == 0
    assert await queue.redis.xlen(queue.stream) == 0


async def test_a_reader_that_comes_back_after_its_entry_was_reclaimed_does_not_run_it(
    queue: RunQueue,
) -> None:
    await queue.submit(REQUEST)
    await _read_and_die(queue, "slow")
    assert await queue.claim("live", block_ms=10, reclaim_idle_ms=0) == REQUEST
    # The slow reader's late attempt to take the same entry finds the run taken.
    assert await queue.claim("slow", block_ms=10, reclaim_idle_ms=0) is None
    info = await queue.info("run-1")
    assert info is not None
    assert info.worker == "live"


async def test_a_run_queued_past_the_timeout_is_expired_exactly_once(queue: RunQueue) -> None:
    await queue.submit(REQUEST)
    assert await queue.expire_queued(3600) == []

    await _queued_long_ago(queue, "run-1")
    # Several gateway nodes reap at once: one of them gets the run.
    results = await asyncio.gather(*(queue.expire_queued(30) for _ in range(5)))
    claimed = [info for result in results for info in result]
    assert [(info.run_id, info.user_id, info.state) for info in claimed] == [
        ("run-1", "alice", EXPIRED)
    ]
    assert await queue.expire_queued(30) == []
    # Its entry is gone: a worker started later never sees it.
    assert await queue.redis.xlen(queue.stream) == 0
    assert await queue.claim("late", block_ms=10, reclaim_idle_ms=0) is None
    assert await queue.redis.hlen(f"{queue.prefix}:active") == 0

    assert await queue.running_count("alice") == 1  # until the reaper ended it
    await queue.finished("run-1", "alice")
    assert await queue.running_count("alice") == 0
    assert await queue.redis.zcard(f"{queue.prefix}:queued") == 0


async def test_expiring_a_run_read_by_a_dead_worker_clears_its_pending_entry(
    queue: RunQueue,
) -> None:
    await queue.submit(REQUEST)
    await _read_and_die(queue, "dead")
    await _queued_long_ago(queue, "run-1")

    assert [info.run_id for info in await queue.expire_queued(30)] == ["run-1"]
    assert await _pending(queue) == 0
    assert await queue.claim("live", block_ms=10, reclaim_idle_ms=0) is None


async def test_a_worker_drops_an_entry_whose_run_was_expired_meanwhile(queue: RunQueue) -> None:
    await queue.submit(REQUEST)
    # The gateway's claim landed, its removal of the entry not yet.
    await queue.redis.hset(f"{queue.prefix}:run:run-1", "state", EXPIRED)

    assert await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS) is None
    info = await queue.info("run-1")
    assert info is not None
    assert (info.state, info.worker) == (EXPIRED, None)
    assert await queue.redis.hlen(f"{queue.prefix}:active") == 0
    assert await queue.redis.xlen(queue.stream) == 0
    assert await _pending(queue) == 0


async def test_a_taken_run_never_expires(queue: RunQueue) -> None:
    await queue.submit(REQUEST)
    await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS)
    await _queued_long_ago(queue, "run-1")  # even if its score lingered
    assert await queue.expire_queued(30) == []
    assert await queue.redis.zcard(f"{queue.prefix}:queued") == 0


async def test_an_expired_run_its_claimer_never_ended_is_handed_out_again(
    queue: RunQueue,
) -> None:
    await queue.submit(REQUEST)
    await _queued_long_ago(queue, "run-1")
    assert len(await queue.expire_queued(30)) == 1
    assert await queue.expire_queued(30) == []  # the claimer has REAPED_TTL_SECONDS
    await _queued_long_ago(queue, "run-1")  # ... which passed: it died
    assert [info.run_id for info in await queue.expire_queued(30)] == ["run-1"]


def test_the_outcome_of_an_expired_run_is_no_worker() -> None:
    expired = RunInfo("run-1", "alice", "thread-1", "demo", EXPIRED, None)
    lost = RunInfo("run-2", "alice", "thread-1", "demo", "running", "w1")
    assert lost_run_outcome(expired).error_code == AgentErrorCode.NO_WORKER.value
    assert lost_run_outcome(lost).error_code == AgentErrorCode.WORKER_LOST.value
    for info in (expired, lost):
        outcome = lost_run_outcome(info)
        assert (outcome.status, outcome.retryable) == ("error", True)


async def test_gateway_reapers_end_a_run_no_worker_took_once_with_no_worker(
    redis_url: str, prefix: str, redis_admin: Redis
) -> None:
    """Two gateway nodes' reapers: one ``no_worker`` error, one stored end, slot freed."""
    published: list[tuple[str, ServerMessage]] = []
    ended: list[RunInfo] = []
    done = asyncio.Event()

    async def publish(user_id: str, message: ServerMessage) -> int:
        published.append((user_id, message))
        done.set()
        return len(published)

    async def on_lost(info: RunInfo) -> None:
        ended.append(info)

    nodes = [
        QueueExecutor(redis_url, prefix, publish, on_lost, reap_interval=0.01, queue_timeout=0.01)
        for _ in range(2)
    ]
    for node in nodes:
        await node.start()
    try:
        await nodes[0].launch(REQUEST)
        await asyncio.wait_for(done.wait(), 10)
        # Let both reapers go round a few more times: nothing more happens.
        for _ in range(10):
            await asyncio.sleep(0.02)
    finally:
        for node in nodes:
            await node.close()
    assert [info.run_id for info in ended] == ["run-1"]
    [(user_id, message)] = published
    assert user_id == "alice"
    assert isinstance(message, AgentError)
    assert (message.run_id, message.code, message.retryable) == ("run-1", "no_worker", True)
    assert await redis_admin.scard(f"{prefix}:user-runs:alice") == 0
    assert not await redis_admin.exists(f"{prefix}:run:run-1")


YES = Resolution("answered", approved=True, answered_by="conn-1")
NO = Resolution("answered", approved=False, reason="no", answered_by="conn-1")


async def test_wake_reaches_only_a_pause_a_worker_waits_for(
    redis_url: str, prefix: str, redis_admin: Redis
) -> None:
    """Unknown run or call, another user's, or a run no longer held: False; a pause a live
    worker waits at: a typed command."""

    async def publish(user_id: str, message: ServerMessage) -> int:
        return 0

    async def on_lost(info: RunInfo) -> None:
        return None

    node = QueueExecutor(redis_url, prefix, publish, on_lost)
    await node.start()
    try:
        async with redis_admin.pubsub() as pubsub:
            await pubsub.subscribe(node.queue.channel)
            await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
            assert not await node.wake("alice", "run-1", "run-1", "call-1", YES)
            await node.queue.submit(RunRequest("run-1", "alice", "thread-1", "demo", "hi"))
            assert await node.queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS)
            await node.queue.approval_opened("run-1", "call-1", "alice", ttl_seconds=60)
            assert not await node.wake("bob", "run-1", "run-1", "call-1", YES)
            assert not await node.wake("alice", "run-1", "run-1", "call-2", YES)
            assert await node.wake("alice", "run-1", "run-1", "call-1", NO)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            await node.queue.approval_closed("run-1", "call-1")
            assert not await node.wake("alice", "run-1", "run-1", "call-1", YES)
            # A run no longer held (reaped while paused): its process is gone, whatever lingers.
            await node.queue.approval_opened("run-1", "call-1", "alice", ttl_seconds=60)
            await node.queue.finished("run-1", "alice")
            assert not await node.wake("alice", "run-1", "run-1", "call-1", YES)
    finally:
        await node.close()
    assert message is not None
    command = parse_command(message["data"])
    assert isinstance(command, Resolve)
    assert (command.run_id, command.user_id, command.interrupt_id) == ("run-1", "alice", "call-1")
    assert command.resolution() == NO


async def test_a_queue_whose_group_vanished_makes_it_again_and_claims_later_runs(
    queue: RunQueue,
) -> None:
    # What a Redis restarted without persistence leaves: no stream, no consumer group.
    await queue.redis.delete(queue.stream)
    assert await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS) is None

    await queue.submit(REQUEST)
    assert await queue.claim("w1", block_ms=10, reclaim_idle_ms=HOUR_MS) == REQUEST


async def test__reserve__concurrent_callers__at_most_the_limit_get_a_slot(queue: RunQueue) -> None:
    await queue.submit(REQUEST)  # one run already counts against the limit of 3
    granted = await asyncio.gather(
        *(queue.reserve("alice", f"slot-{n}", 3, ttl_seconds=60) for n in range(10))
    )
    assert granted.count(True) == 2
    winner = f"slot-{granted.index(True)}"

    # A slot that becomes a run is counted once; one given back frees its place.
    await queue.submit(RunRequest("run-2", "alice", "thread-1", "demo", "hi"), winner)
    assert await queue.running_count("alice") == 2
    assert not await queue.reserve("alice", "late", 3, ttl_seconds=60)
    other = next(f"slot-{n}" for n, ok in enumerate(granted) if ok and f"slot-{n}" != winner)
    await queue.unreserve("alice", other)
    assert await queue.reserve("alice", "late", 3, ttl_seconds=60)
    assert await queue.reserve("bob", "bobs", 1, ttl_seconds=60)  # per user


async def test__reserve__a_slot_whose_node_died__lapses(queue: RunQueue) -> None:
    assert await queue.reserve("alice", "orphan", 1, ttl_seconds=60)
    assert not await queue.reserve("alice", "next", 1, ttl_seconds=60)
    # Lapsed (its node never started the run): scored in the past.
    await queue.redis.zadd(f"{queue.prefix}:user-slots:alice", {"orphan": 0})
    assert await queue.reserve("alice", "next", 1, ttl_seconds=60)
    # A local run held by a gateway node takes its slot the same way.
    await queue.hold(RunRequest("run-9", "alice", "t", "demo", "p"), "gateway:n1:1:x", "next")
    assert await queue.redis.zcard(f"{queue.prefix}:user-slots:alice") == 0
    assert await queue.running_count("alice") == 1
