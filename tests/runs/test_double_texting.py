"""The thread line (double-texting), one contract for the in-process and the Redis backend.

The Redis backend runs against the real Redis under a key prefix of its own,
deleted afterwards. Concurrency is tested with many admits at once on
separate connections: exactly one starts, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from agentsocket.delivery.run_queue import RunRequest
from agentsocket.runs.double_texting import (
    MemoryThreadLine,
    RedisThreadLine,
    ThreadLine,
    next_stored,
)
from agentsocket.store.errors import NotFound

LineFactory = Callable[[], Awaitable[ThreadLine]]


def req(run_id: str, thread_id: str = "thr_1", prompt: str = "hi") -> RunRequest:
    return RunRequest(run_id, "alice", thread_id, "demo", prompt)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_line(request: pytest.FixtureRequest) -> AsyncIterator[LineFactory]:
    """Lines of one backend; with Redis, every line of a test shares one prefix."""
    lines: list[ThreadLine] = []
    shared = MemoryThreadLine()
    prefix = f"test-line-{uuid.uuid4().hex}"
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    async def factory() -> ThreadLine:
        if request.param == "memory":
            return shared  # one process: one line
        line = RedisThreadLine(Redis.from_url(redis_url), prefix, run_timeout=60.0)
        lines.append(line)
        return line

    yield factory
    for line in lines:
        await line.aclose()
    if redis_url:
        admin = Redis.from_url(redis_url)
        keys = [key async for key in admin.scan_iter(match=f"{prefix}:*")]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()


async def test_a_free_thread_starts_the_run(make_line: LineFactory) -> None:
    line = await make_line()
    assert (await line.admit(req("r1"), "reject", 5)).kind == "start"
    # Other threads are independent.
    assert (await line.admit(req("r2", thread_id="thr_2"), "reject", 5)).kind == "start"


async def test_reject_names_the_running_run_and_leaves_the_line_alone(
    make_line: LineFactory,
) -> None:
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 5)
    busy = await line.admit(req("r2"), "reject", 5)
    assert (busy.kind, busy.active) == ("busy", "r1")
    assert await line.done("thr_1", "r1") is None  # nothing was waiting
    assert (await line.admit(req("r3"), "reject", 5)).kind == "start"


async def test_enqueue_hands_the_thread_on_in_order(make_line: LineFactory) -> None:
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 5)
    for run_id in ("r2", "r3"):
        admitted = await line.admit(req(run_id, prompt=f"to {run_id}"), "enqueue", 5)
        assert (admitted.kind, admitted.active, admitted.interrupt) == ("queued", "r1", None)
    assert await line.done("thr_1", "r1") == req("r2", prompt="to r2")
    # A repeated or stale release changes nothing.
    assert await line.done("thr_1", "r1") is None
    assert (await line.admit(req("r4"), "reject", 5)).active == "r2"
    assert await line.done("thr_1", "r2") == req("r3", prompt="to r3")
    assert await line.done("thr_1", "r3") is None
    assert (await line.admit(req("r5"), "reject", 5)).kind == "start"


async def test_enqueue_refuses_past_the_depth(make_line: LineFactory) -> None:
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 2)
    assert (await line.admit(req("r2"), "enqueue", 2)).kind == "queued"
    assert (await line.admit(req("r3"), "enqueue", 2)).kind == "queued"
    full = await line.admit(req("r4"), "enqueue", 2)
    assert (full.kind, full.active) == ("full", "r1")


async def test_interrupt_goes_first_and_supersedes_the_waiting_runs(
    make_line: LineFactory,
) -> None:
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 5)
    await line.admit(req("r2"), "enqueue", 5)
    await line.admit(req("r3"), "enqueue", 5)
    admitted = await line.admit(req("r4"), "interrupt", 5)
    assert admitted.kind == "queued"
    assert admitted.interrupt == "r1"
    assert admitted.superseded == (req("r2"), req("r3"))
    assert await line.done("thr_1", "r1") == req("r4")
    assert await line.done("thr_1", "r4") is None


async def test_interrupt_of_a_free_thread_just_starts(make_line: LineFactory) -> None:
    line = await make_line()
    admitted = await line.admit(req("r1"), "interrupt", 5)
    assert (admitted.kind, admitted.interrupt, admitted.superseded) == ("start", None, ())


async def test_withdraw_takes_only_a_waiting_run_out(make_line: LineFactory) -> None:
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 5)
    await line.admit(req("r2"), "enqueue", 5)
    await line.admit(req("r3"), "enqueue", 5)
    assert await line.withdraw("thr_1", "r2") == req("r2")
    assert await line.withdraw("thr_1", "r2") is None
    assert await line.withdraw("thr_1", "r1") is None  # running: not the line's to withdraw
    assert await line.withdraw("thr_1", "nope") is None
    assert await line.done("thr_1", "r1") == req("r3")


async def test_hostile_text_is_carried_verbatim(make_line: LineFactory) -> None:
    line = await make_line()
    hostile = "'\"); redis.call('FLUSHALL') --\x00\u202e" + "é" * 1000
    await line.admit(req("r1"), "enqueue", 5)
    await line.admit(req("r2", prompt=hostile), "enqueue", 5)
    assert await line.done("thr_1", "r1") == req("r2", prompt=hostile)


async def test_concurrent_admits_start_exactly_one(make_line: LineFactory) -> None:
    lines = [await make_line() for _ in range(8)]
    answers = await asyncio.gather(
        *(line.admit(req(f"r{n}"), "reject", 5) for n, line in enumerate(lines))
    )
    kinds = sorted(answer.kind for answer in answers)
    assert kinds == ["busy"] * 7 + ["start"]
    winner = next(f"r{n}" for n, answer in enumerate(answers) if answer.kind == "start")
    assert {answer.active for answer in answers if answer.kind == "busy"} == {winner}


async def test_concurrent_enqueues_all_run_each_once(make_line: LineFactory) -> None:
    lines = [await make_line() for _ in range(6)]
    answers = await asyncio.gather(
        *(line.admit(req(f"r{n}"), "enqueue", 10) for n, line in enumerate(lines))
    )
    first = next(f"r{n}" for n, answer in enumerate(answers) if answer.kind == "start")
    ran, current = [first], first
    while (following := await lines[0].done("thr_1", current)) is not None:
        ran.append(following.run_id)
        current = following.run_id
    assert sorted(ran) == sorted(f"r{n}" for n in range(6))


class _Runs:
    """The store's get_run, for next_stored: the runs in ``stored`` exist."""

    def __init__(self, *stored: str) -> None:
        self.stored = set(stored)

    async def get_run(self, user_id: str, run_id: str) -> object:
        if run_id not in self.stored:
            raise NotFound("run", run_id)
        return run_id


async def test_next_stored_skips_a_run_whose_message_was_never_stored(
    make_line: LineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agentsocket.runs.double_texting.STORED_WAIT_SECONDS", 0.0)
    line = await make_line()
    await line.admit(req("r1"), "enqueue", 5)
    await line.admit(req("r2"), "enqueue", 5)
    await line.admit(req("r3"), "enqueue", 5)
    assert await next_stored(line, _Runs("r3"), "thr_1", "r1") == req("r3")
    assert await next_stored(line, _Runs(), "thr_1", "r3") is None
    assert (await line.admit(req("r4"), "reject", 5)).kind == "start"
