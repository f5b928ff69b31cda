"""Runs: idempotent start (also under races), first-wins finish, lookups, counts."""

from __future__ import annotations

import asyncio

import pytest

from agentsocket.store import InvalidArgument, NotFound, Run, Store


async def test__start_run__new_running_run(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    run, created = await store.start_run(alice, thread.id, "demo", "c1")

    assert created
    assert run.id.startswith("run_")
    assert run == Run(
        id=run.id,
        thread_id=thread.id,
        user_id=alice,
        agent_name="demo",
        status="running",
        started_at=run.started_at,
        ended_at=None,
        error_code=None,
        error_message=None,
        client_message_id="c1",
    )
    assert await store.get_run(alice, run.id) == run


async def test__start_run__same_client_message_id__existing_run(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    other = await store.create_thread(alice)
    first, _ = await store.start_run(alice, thread.id, "demo", "c1")

    again, created = await store.start_run(alice, thread.id, "demo", "c1")
    elsewhere, created_elsewhere = await store.start_run(alice, other.id, "other-agent", "c1")

    assert (again, created) == (first, False)
    assert (elsewhere, created_elsewhere) == (first, False)
    assert await store.count_running(alice) == 1


async def test__start_run__same_client_message_id_concurrently__one_run(
    store: Store, alice: str
) -> None:
    thread = await store.create_thread(alice)

    results = await asyncio.gather(
        *(store.start_run(alice, thread.id, "demo", "c1") for _ in range(10))
    )

    assert sum(created for _, created in results) == 1
    assert len({run.id for run, _ in results}) == 1
    assert await store.count_running(alice) == 1


async def test__start_run__no_client_message_id__always_new(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    first, first_created = await store.start_run(alice, thread.id, "demo")
    second, second_created = await store.start_run(alice, thread.id, "demo", None)

    assert first_created
    assert second_created
    assert first.id != second.id
    assert first.client_message_id is None
    assert await store.count_running(alice) == 2


async def test__start_run__same_client_message_id_other_user__separate_runs(
    store: Store, alice: str, bob: str
) -> None:
    alices = await store.create_thread(alice)
    bobs = await store.create_thread(bob)

    alice_run, alice_created = await store.start_run(alice, alices.id, "demo", "c1")
    bob_run, bob_created = await store.start_run(bob, bobs.id, "demo", "c1")

    assert alice_created
    assert bob_created
    assert alice_run.id != bob_run.id


async def test__start_run__deleted_thread__not_found(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    await store.delete_thread(alice, thread.id)

    with pytest.raises(NotFound) as caught:
        await store.start_run(alice, thread.id, "demo", "c1")

    assert (caught.value.kind, caught.value.id) == ("thread", thread.id)


@pytest.mark.parametrize(
    ("agent_name", "client_message_id", "argument"),
    [("", None, "agent_name"), ("demo", "", "client_message_id")],
)
async def test__start_run__empty_names__invalid_argument(
    store: Store, alice: str, agent_name: str, client_message_id: str | None, argument: str
) -> None:
    thread = await store.create_thread(alice)

    with pytest.raises(InvalidArgument) as caught:
        await store.start_run(alice, thread.id, agent_name, client_message_id)

    assert caught.value.argument == argument
    assert await store.count_running(alice) == 0


async def test__finish_run__completed__status_and_end_time(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")

    finished = await store.finish_run(run.id, "completed")

    assert finished.status == "completed"
    assert finished.ended_at is not None
    assert finished.ended_at > run.started_at
    assert (finished.error_code, finished.error_message) == (None, None)
    assert await store.get_run(alice, run.id) == finished
    assert await store.count_running(alice) == 0


async def test__finish_run__error__code_and_message_kept(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")

    finished = await store.finish_run(run.id, "error", "upstream_timeout", "no answer in 60 s")

    assert (finished.status, finished.error_code, finished.error_message) == (
        "error",
        "upstream_timeout",
        "no answer in 60 s",
    )


async def test__finish_run__already_ended__first_end_wins(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")
    cancelled = await store.finish_run(run.id, "cancelled")

    late = await store.finish_run(run.id, "completed")

    assert late == cancelled
    assert late.status == "cancelled"


async def test__finish_run__concurrently__exactly_one_end(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")

    results = await asyncio.gather(
        store.finish_run(run.id, "completed"),
        store.finish_run(run.id, "cancelled"),
        store.finish_run(run.id, "error", "agent_failed"),
    )

    assert len(set(results)) == 1
    assert results[0] == await store.get_run(alice, run.id)


async def test__finish_run__unknown_run__not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.finish_run("run_missing", "completed")

    assert (caught.value.kind, caught.value.id) == ("run", "run_missing")


@pytest.mark.parametrize("status", ["running", "done", ""])
async def test__finish_run__not_an_end_status__invalid_argument(
    store: Store, alice: str, status: str
) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")

    with pytest.raises(
        InvalidArgument, match="invalid status: must be one of completed, error, cancelled"
    ):
        await store.finish_run(run.id, status)

    assert (await store.get_run(alice, run.id)).status == "running"


async def test__count_running__only_running_runs_of_that_user(
    store: Store, alice: str, bob: str
) -> None:
    alices = await store.create_thread(alice)
    bobs = await store.create_thread(bob)
    runs = [(await store.start_run(alice, alices.id, "demo"))[0] for _ in range(3)]
    await store.start_run(bob, bobs.id, "demo")
    await store.finish_run(runs[0].id, "completed")

    assert await store.count_running(alice) == 2
    assert await store.count_running(bob) == 1
    assert await store.count_running("nobody") == 0


async def test__get_run__unknown__not_found(store: Store, alice: str) -> None:
    with pytest.raises(NotFound):
        await store.get_run(alice, "run_missing")


async def test__running_run_ids__the_threads_running_runs_oldest_first(
    store: Store, alice: str, bob: str
) -> None:
    thread = await store.create_thread(alice)
    other = await store.create_thread(alice)
    first, _ = await store.start_run(alice, thread.id, "demo")
    ended, _ = await store.start_run(alice, thread.id, "demo")
    second, _ = await store.start_run(alice, thread.id, "demo")
    await store.start_run(alice, other.id, "demo")
    await store.finish_run(ended.id, "completed")

    assert await store.running_run_ids(alice, thread.id) == [first.id, second.id]
    # Another user's thread, or no such thread: none (the history lookup refuses it).
    assert await store.running_run_ids(bob, thread.id) == []
    assert await store.running_run_ids(alice, "thr_nope") == []
