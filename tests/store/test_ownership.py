"""Every method, used by Bob on Alice's records, raises NotFound and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from agentsocket.store import Message, NotFound, Run, Store, Thread


@dataclass(frozen=True)
class Alices:
    """What Alice owns; Bob has a thread of his own to aim at."""

    user: str
    thread: Thread
    message: Message
    run: Run
    bob: str
    bobs_thread: Thread


Attempt = Callable[[Store, Alices], Awaitable[object]]

ATTEMPTS: dict[str, Attempt] = {
    "get_thread": lambda s, a: s.get_thread(a.bob, a.thread.id),
    "rename_thread": lambda s, a: s.rename_thread(a.bob, a.thread.id, "mine now"),
    "delete_thread": lambda s, a: s.delete_thread(a.bob, a.thread.id),
    "list_threads before": lambda s, a: s.list_threads(a.bob, before=a.thread.id),
    "add_message": lambda s, a: s.add_message(a.bob, a.thread.id, "user", "hi"),
    "add_message with run": lambda s, a: s.add_message(
        a.bob, a.bobs_thread.id, "user", "hi", run_id=a.run.id
    ),
    "history": lambda s, a: s.history(a.bob, a.thread.id),
    "history before": lambda s, a: s.history(a.bob, a.bobs_thread.id, before=a.message.id),
    "start_run": lambda s, a: s.start_run(a.bob, a.thread.id, "demo", "c2"),
    "get_run": lambda s, a: s.get_run(a.bob, a.run.id),
}


@pytest.fixture
async def alices(store: Store, alice: str, bob: str) -> Alices:
    thread = await store.create_thread(alice, "private")
    run, _ = await store.start_run(alice, thread.id, "demo", "c1")
    message = await store.add_message(alice, thread.id, "user", "my secret", run_id=run.id)
    bobs_thread = await store.create_thread(bob, "bob's")
    thread = await store.get_thread(alice, thread.id)  # as the message left it
    return Alices(alice, thread, message, run, bob, bobs_thread)


@pytest.mark.parametrize("name", ATTEMPTS)
async def test__bob_on_alices_records__not_found_and_nothing_changes(
    store: Store, alices: Alices, name: str
) -> None:
    with pytest.raises(NotFound):
        await ATTEMPTS[name](store, alices)

    a = alices
    assert await store.get_thread(a.user, a.thread.id) == a.thread
    assert (await store.history(a.user, a.thread.id)).messages == (a.message,)
    assert await store.get_run(a.user, a.run.id) == a.run
    assert (await store.history(a.bob, a.bobs_thread.id)).messages == ()
    assert await store.count_running(a.bob) == 0


async def test__not_found__same_error_for_missing_and_foreign(store: Store, alices: Alices) -> None:
    with pytest.raises(NotFound) as foreign:
        await store.get_thread(alices.bob, alices.thread.id)
    with pytest.raises(NotFound) as missing:
        await store.get_thread(alices.bob, "thr_missing")

    assert type(foreign.value) is type(missing.value)
    assert str(foreign.value) == f"thread {alices.thread.id!r} not found"
    assert str(missing.value) == "thread 'thr_missing' not found"


async def test__lists_and_counts__show_only_own_records(store: Store, alices: Alices) -> None:
    a = alices

    assert await store.list_threads(a.bob) == [a.bobs_thread]
    assert await store.list_threads(a.user) == [a.thread]
    assert await store.search_messages(a.bob, "secret") == []
    assert await store.count_running(a.bob) == 0
    assert await store.count_running(a.user) == 1


async def test__bob_reuses_alices_client_message_id__gets_his_own_run(
    store: Store, alices: Alices
) -> None:
    run, created = await store.start_run(alices.bob, alices.bobs_thread.id, "demo", "c1")

    assert created
    assert run.id != alices.run.id
    assert run.user_id == alices.bob
