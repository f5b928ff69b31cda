"""A run's turn: message + run start in one transaction, answer + outcome in another."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import SQLAlchemyError

from agentsocket.store import NotFound, Store


async def test__start__new_thread_run_and_message_together(store: Store, alice: str) -> None:
    started = await store.start_run_with_message(
        alice, None, "demo", "hello", client_message_id="c1", title="hello", metadata={"k": 1}
    )

    assert (started.created, started.new_thread) == (True, True)
    assert started.thread is not None
    assert started.thread.title == "hello"
    assert started.run.status == "running"
    assert started.run.thread_id == started.thread.id
    assert started.message is not None
    assert (started.message.position, started.message.run_id) == (1, started.run.id)
    page = await store.history(alice, started.thread.id)
    assert [(m.role, m.content, m.metadata) for m in page.messages] == [("user", "hello", {"k": 1})]
    assert await store.get_run(alice, started.run.id) == started.run


async def test__start__existing_thread_next_position(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "t")
    await store.add_message(alice, thread.id, "user", "earlier")

    started = await store.start_run_with_message(alice, thread.id, "demo", "now")

    assert (started.created, started.new_thread, started.thread) == (True, False, None)
    assert started.message is not None
    assert started.message.position == 2
    assert (await store.get_thread(alice, thread.id)).updated_at > thread.updated_at


async def test__start__same_client_message_id__first_run_and_message(
    store: Store, alice: str
) -> None:
    first = await store.start_run_with_message(alice, None, "demo", "hi", client_message_id="c1")
    again = await store.start_run_with_message(alice, None, "demo", "hi", client_message_id="c1")

    assert not again.created
    assert (again.run, again.message, again.thread) == (first.run, first.message, None)
    assert len(await store.list_threads(alice)) == 1  # the repeat's new thread was rolled back


async def test__start__concurrent_repeats__exactly_one_created(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    results = await asyncio.gather(
        *(
            store.start_run_with_message(alice, thread.id, "demo", "hi", client_message_id="c1")
            for _ in range(5)
        )
    )

    assert sum(r.created for r in results) == 1
    assert len({r.run.id for r in results}) == 1
    assert len((await store.history(alice, thread.id)).messages) == 1


async def test__start__another_users_thread__not_found_nothing_stored(
    store: Store, alice: str, bob: str
) -> None:
    thread = await store.create_thread(bob)

    with pytest.raises(NotFound):
        await store.start_run_with_message(alice, thread.id, "demo", "hi", client_message_id="c1")

    assert await store.count_running(alice) == 0
    assert (await store.history(bob, thread.id)).messages == ()


async def test__start_fails_half_way__nothing_left_and_the_retry_runs(
    store: Store, alice: str
) -> None:
    # The message insert fails after the thread and run rows were written.
    unstorable: dict[str, Any] = {"x": object()}
    with pytest.raises((SQLAlchemyError, TypeError)):
        await store.start_run_with_message(
            alice, None, "demo", "hi", client_message_id="c1", metadata=unstorable
        )

    assert await store.list_threads(alice) == []
    assert await store.count_running(alice) == 0
    retry = await store.start_run_with_message(alice, None, "demo", "hi", client_message_id="c1")
    assert retry.created
    assert retry.message is not None


async def test__nul_in_content__stored_or_refused_whole(
    store_url: str, store: Store, alice: str
) -> None:
    # PostgreSQL text cannot hold NUL (issue 12, bug 7): the refusal must leave
    # nothing that makes the retry with the same client_message_id a duplicate.
    thread = await store.create_thread(alice)
    if store_url.startswith("postgresql"):
        with pytest.raises(SQLAlchemyError):
            await store.start_run_with_message(
                alice, thread.id, "demo", "a\x00b", client_message_id="c1"
            )
        content = "ab"
    else:
        content = "a\x00b"  # SQLite stores it as it is

    started = await store.start_run_with_message(
        alice, thread.id, "demo", content, client_message_id="c1"
    )

    assert started.created
    assert started.message is not None
    assert [m.content for m in (await store.history(alice, thread.id)).messages] == [content]


async def test__end__answer_and_outcome_once(store: Store, alice: str) -> None:
    started = await store.start_run_with_message(alice, None, "demo", "q")
    run_id, thread_id = started.run.id, started.run.thread_id

    assert await store.end_run(run_id, "completed", answer="a")
    assert not await store.end_run(run_id, "error", "agent_failed", "late", answer="b")

    run = await store.get_run(alice, run_id)
    assert (run.status, run.error_code, run.ended_at is not None) == ("completed", None, True)
    page = await store.history(alice, thread_id)
    assert [(m.role, m.content, m.run_id) for m in page.messages] == [
        ("user", "q", run_id),
        ("assistant", "a", run_id),
    ]


async def test__end__error_without_answer(store: Store, alice: str) -> None:
    started = await store.start_run_with_message(alice, None, "demo", "q")

    assert await store.end_run(started.run.id, "error", "timeout", "too slow")

    run = await store.get_run(alice, started.run.id)
    assert (run.status, run.error_code, run.error_message) == ("error", "timeout", "too slow")
    assert len((await store.history(alice, started.run.thread_id)).messages) == 1


async def test__end__unknown_run__false(store: Store) -> None:
    assert not await store.end_run("run_missing", "cancelled")
