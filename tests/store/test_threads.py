"""Threads: create, read, list with pagination, rename, delete (with cascade)."""

from __future__ import annotations

import pytest

from agentsocket.store import InvalidArgument, NotFound, Store, Thread
from tests.store.conftest import FakeClock


async def test__create_thread__returns_prefixed_id_and_stores_it(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "Trip to Lisbon")

    assert thread.id.startswith("thr_")
    assert len(thread.id) == len("thr_") + 32
    assert thread.user_id == alice
    assert thread.title == "Trip to Lisbon"
    assert thread.created_at == thread.updated_at
    assert await store.get_thread(alice, thread.id) == thread


async def test__create_thread__without_title__title_is_none(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    assert thread.title is None
    assert (await store.get_thread(alice, thread.id)).title is None


async def test__create_thread__title_with_spaces__stored_stripped(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "  Plans  ")

    assert thread.title == "Plans"
    assert (await store.get_thread(alice, thread.id)).title == "Plans"


async def test__create_thread__title_of_200_characters__accepted(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "é" * 200)

    assert (await store.get_thread(alice, thread.id)).title == "é" * 200


async def test__get_thread__unknown_id__not_found(store: Store, alice: str) -> None:
    with pytest.raises(NotFound) as caught:
        await store.get_thread(alice, "thr_missing")

    assert (caught.value.kind, caught.value.id) == ("thread", "thr_missing")


async def test__list_threads__no_threads__empty(store: Store, alice: str) -> None:
    assert await store.list_threads(alice) == []


async def test__list_threads__after_new_message__that_thread_comes_first(
    store: Store, alice: str
) -> None:
    first = await store.create_thread(alice, "first")
    second = await store.create_thread(alice, "second")
    third = await store.create_thread(alice, "third")
    await store.add_message(alice, first.id, "user", "bump")

    listed = await store.list_threads(alice)

    assert [t.id for t in listed] == [first.id, third.id, second.id]
    assert listed[0].updated_at > first.updated_at


async def test__list_threads__paged_with_before__every_thread_once_in_order(
    store: Store, alice: str
) -> None:
    created = [await store.create_thread(alice, f"t{i}") for i in range(5)]

    pages: list[list[Thread]] = []
    before: str | None = None
    while page := await store.list_threads(alice, limit=2, before=before):
        pages.append(page)
        before = page[-1].id

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [t.id for page in pages for t in page] == [t.id for t in reversed(created)]


async def test__list_threads__equal_updated_at__paged_by_id_without_gaps(
    store_url: str, alice: str
) -> None:
    store = await Store.open(store_url, clock=FakeClock(step=0.0))
    try:
        created = {(await store.create_thread(alice)).id for _ in range(5)}
        first = await store.list_threads(alice, limit=3)
        rest = await store.list_threads(alice, limit=3, before=first[-1].id)
    finally:
        await store.close()

    ids = [t.id for t in first + rest]
    assert ids == sorted(created, reverse=True)


async def test__list_threads__unknown_before__not_found(store: Store, alice: str) -> None:
    with pytest.raises(NotFound):
        await store.list_threads(alice, before="thr_missing")


async def test__rename_thread__new_title_same_updated_at(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "old")

    renamed = await store.rename_thread(alice, thread.id, " new ")

    assert renamed == Thread(thread.id, alice, "new", thread.created_at, thread.updated_at)
    assert await store.get_thread(alice, thread.id) == renamed


async def test__delete_thread__then_get__not_found(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    kept = await store.create_thread(alice)

    await store.delete_thread(alice, thread.id)

    with pytest.raises(NotFound):
        await store.get_thread(alice, thread.id)
    assert await store.list_threads(alice) == [kept]


async def test__delete_thread__twice__not_found(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    await store.delete_thread(alice, thread.id)

    with pytest.raises(NotFound):
        await store.delete_thread(alice, thread.id)


async def test__delete_thread__its_messages_and_runs_go_too(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    other = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo", "c1")
    await store.add_message(alice, thread.id, "user", "needle one", run_id=run.id)
    kept = await store.add_message(alice, other.id, "user", "needle two")

    await store.delete_thread(alice, thread.id)

    assert await store.search_messages(alice, "needle") == [kept]
    with pytest.raises(NotFound):
        await store.get_run(alice, run.id)
    assert await store.count_running(alice) == 0
    # The idempotency key is free again once its run is gone.
    _, created = await store.start_run(alice, other.id, "demo", "c1")
    assert created


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
async def test__create_thread__bad_title__invalid_argument(
    store: Store, alice: str, title: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await store.create_thread(alice, title)

    assert caught.value.argument == "title"
    assert await store.list_threads(alice) == []


@pytest.mark.parametrize("title", ["", "x" * 201])
async def test__rename_thread__bad_title__invalid_argument_and_unchanged(
    store: Store, alice: str, title: str
) -> None:
    thread = await store.create_thread(alice, "kept")

    with pytest.raises(InvalidArgument, match="title"):
        await store.rename_thread(alice, thread.id, title)

    assert (await store.get_thread(alice, thread.id)).title == "kept"


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test__list_threads__limit_out_of_range__invalid_argument(
    store: Store, alice: str, limit: int
) -> None:
    with pytest.raises(InvalidArgument, match="invalid limit: must be between 1 and 200, got"):
        await store.list_threads(alice, limit=limit)


async def test__invalid_argument__is_a_value_error_and_store_error(
    store: Store, alice: str
) -> None:
    with pytest.raises(ValueError, match="invalid title: must not be empty"):
        await store.create_thread(alice, "")
