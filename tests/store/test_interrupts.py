"""Pauses in the store: answered or expired exactly once, also under races; lookups."""

from __future__ import annotations

import asyncio

import pytest

from agentsocket.store import AlreadyResolved, Interrupt, NotFound, Store

#: Far after, and before, the store fixture's fake clock (it starts at 1.7e9 and ticks 1 s).
LATER, EARLIER = 1_900_000_000.0, 1_600_000_000.0


async def _pause(store: Store, user: str, *, expires_at: float = LATER) -> Interrupt:
    started = await store.start_run_with_message(user, None, "demo", "approve it")
    run = started.run
    record = Interrupt(
        run_id=run.id,
        ordinal=0,
        user_id=user,
        thread_id=run.thread_id,
        node_run_id=run.id,
        interrupt_id="call_1",
        kind="approval",
        status="pending",
        request={"tool_name": "announce", "default": False},
        continuation={"run_id": run.id, "user_id": user, "thread_id": run.thread_id},
        resolution=None,
        answered_by=None,
        answered_node=None,
        created_at=EARLIER,
        expires_at=expires_at,
        resolved_at=None,
    )
    await store.add_interrupt(record)
    return record


async def test__concurrent_answers__exactly_one_wins(store: Store, alice: str) -> None:
    pause = await _pause(store, alice)

    results = await asyncio.gather(
        *(
            store.resolve_interrupt(
                pause,
                "answered",
                {"resolution": "answered", "approved": n % 2 == 0},
                answered_by=f"conn_{n}",
                answered_node="node-a",
            )
            for n in range(8)
        ),
        store.resolve_interrupt(pause, "expired", {"resolution": "expired", "approved": False}),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, Interrupt)]
    lost = [r for r in results if isinstance(r, AlreadyResolved)]
    assert (len(won), len(lost)) == (1, 8)
    stored = await store.find_interrupt(alice, pause.node_run_id, "call_1")
    assert stored == won[0]
    assert {e.interrupt.status for e in lost} == {stored.status}


async def test__answer_after_expiry__refused_though_not_yet_expired(
    store: Store, alice: str
) -> None:
    pause = await _pause(store, alice, expires_at=EARLIER)

    with pytest.raises(AlreadyResolved) as refused:
        await store.resolve_interrupt(pause, "answered", {"resolution": "answered"})
    assert refused.value.interrupt.status == "pending"
    assert pause.run_id in [p.run_id for p in await store.due_interrupts(limit=1000)]

    expired = await store.resolve_interrupt(pause, "expired", {"resolution": "expired"})
    assert expired.status == "expired"
    assert pause.run_id not in [p.run_id for p in await store.due_interrupts(limit=1000)]


async def test__lookups__only_the_owner__in_order__paused_runs_survive_a_restart_sweep(
    store: Store, alice: str, bob: str
) -> None:
    pause = await _pause(store, alice)

    assert await store.find_interrupt(bob, pause.node_run_id, "call_1") is None
    assert [p.ordinal for p in await store.run_interrupts(pause.run_id)] == [0]
    assert pause.run_id in await store.paused_runs()
    other = await store.start_run_with_message(alice, None, "demo", "hi")

    ended = [r.id for r in await store.end_running_runs("gateway_lost", "gateway lost")]

    assert other.run.id in ended
    assert pause.run_id not in ended  # the paused one waits for its answer
    assert (await store.get_run(alice, pause.run_id)).status == "running"


async def test__thread_deleted__its_pauses_go_with_it(store: Store, alice: str) -> None:
    pause = await _pause(store, alice)
    await store.delete_thread(alice, pause.thread_id)

    assert await store.run_interrupts(pause.run_id) == []
    with pytest.raises(NotFound):
        await store.resolve_interrupt(pause, "answered", {"resolution": "answered"})


async def test__claim_continuation__only_once_resolved__exactly_one_caller(
    store: Store, alice: str
) -> None:
    pause = await _pause(store, alice)
    assert not await store.claim_continuation(pause)  # pending: nothing to continue yet
    answered = await store.resolve_interrupt(pause, "answered", {"resolution": "answered"})

    claims = await asyncio.gather(*(store.claim_continuation(answered) for _ in range(6)))

    assert claims.count(True) == 1
    (stored,) = await store.run_interrupts(pause.run_id)
    assert stored.continued_at is not None
