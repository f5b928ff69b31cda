"""Messages: append, history pages, search."""

from __future__ import annotations

import asyncio

import pytest

from agentsocket.store import InvalidArgument, Message, NotFound, Store


async def _add(store: Store, user: str, thread_id: str, *contents: str) -> list[Message]:
    return [await store.add_message(user, thread_id, "user", text) for text in contents]


async def test__add_message__fields_stored_and_thread_bumped(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo")
    metadata = {"tokens": 12, "tools": [{"name": "search", "ok": True}], "note": None}

    message = await store.add_message(
        alice, thread.id, "assistant", "Hello, Ärger", run_id=run.id, metadata=metadata
    )

    assert message.id.startswith("msg_")
    assert (message.thread_id, message.user_id, message.role) == (thread.id, alice, "assistant")
    assert (message.content, message.run_id, message.metadata) == ("Hello, Ärger", run.id, metadata)
    assert message.position == 1
    assert (await store.history(alice, thread.id)).messages == (message,)
    assert (await store.get_thread(alice, thread.id)).updated_at == message.created_at


async def test__add_message__no_metadata__empty_object(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    message = await store.add_message(alice, thread.id, "user", "hi")

    assert message.metadata == {}
    assert (await store.history(alice, thread.id)).messages[0].metadata == {}


async def test__add_message__positions_count_per_thread(store: Store, alice: str) -> None:
    one = await store.create_thread(alice)
    two = await store.create_thread(alice)

    added = await _add(store, alice, one.id, "a", "b")
    added += await _add(store, alice, two.id, "c")
    added += await _add(store, alice, one.id, "d")

    assert [m.position for m in added] == [1, 2, 1, 3]


async def test__add_message__concurrently__distinct_consecutive_positions(
    store: Store, alice: str
) -> None:
    thread = await store.create_thread(alice)

    added = await asyncio.gather(
        *(store.add_message(alice, thread.id, "user", f"m{i}") for i in range(20))
    )

    assert sorted(m.position for m in added) == list(range(1, 21))
    history = await store.history(alice, thread.id, limit=200)
    assert [m.position for m in history.messages] == list(range(1, 21))


async def test__add_message__run_of_another_thread__not_found(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    other = await store.create_thread(alice)
    run, _ = await store.start_run(alice, other.id, "demo")

    with pytest.raises(NotFound) as caught:
        await store.add_message(alice, thread.id, "assistant", "hi", run_id=run.id)

    assert caught.value.kind == "run"
    assert (await store.history(alice, thread.id)).messages == ()


async def test__add_message__bad_role__invalid_argument(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    with pytest.raises(
        InvalidArgument, match="invalid role: must be one of user, assistant, got 'system'"
    ):
        await store.add_message(alice, thread.id, "system", "hi")

    assert (await store.history(alice, thread.id)).messages == ()


async def test__history__empty_thread__empty_page(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)

    page = await store.history(alice, thread.id)

    assert (page.messages, page.has_more, page.cursor) == ((), False, None)


async def test__history__paged_backwards__chronological_pages(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    added = await _add(store, alice, thread.id, "1", "2", "3", "4", "5")

    newest = await store.history(alice, thread.id, limit=2)
    middle = await store.history(alice, thread.id, limit=2, before=newest.cursor)
    oldest = await store.history(alice, thread.id, limit=2, before=middle.cursor)

    assert [m.content for m in newest.messages] == ["4", "5"]
    assert [m.content for m in middle.messages] == ["2", "3"]
    assert [m.content for m in oldest.messages] == ["1"]
    assert (newest.has_more, middle.has_more, oldest.has_more) == (True, True, False)
    assert (newest.cursor, middle.cursor, oldest.cursor) == (added[3].id, added[1].id, None)


async def test__history__page_exactly_full__no_more(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    await _add(store, alice, thread.id, "1", "2")

    page = await store.history(alice, thread.id, limit=2)

    assert [m.content for m in page.messages] == ["1", "2"]
    assert (page.has_more, page.cursor) == (False, None)


async def test__history__before_from_another_thread__not_found(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    other = await store.create_thread(alice)
    [foreign] = await _add(store, alice, other.id, "elsewhere")

    with pytest.raises(NotFound) as caught:
        await store.history(alice, thread.id, before=foreign.id)

    assert caught.value.kind == "message"


@pytest.mark.parametrize("limit", [0, 201])
async def test__history__limit_out_of_range__invalid_argument(
    store: Store, alice: str, limit: int
) -> None:
    thread = await store.create_thread(alice)

    with pytest.raises(InvalidArgument, match="limit"):
        await store.history(alice, thread.id, limit=limit)


async def test__search_messages__ignores_case_newest_first(store: Store, alice: str) -> None:
    one = await store.create_thread(alice)
    two = await store.create_thread(alice)
    old = await store.add_message(alice, one.id, "user", "Book a FLIGHT to Lisbon")
    await store.add_message(alice, one.id, "assistant", "Done.")
    new = await store.add_message(alice, two.id, "assistant", "Your flight leaves at 9")

    assert await store.search_messages(alice, "Flight") == [new, old]
    assert await store.search_messages(alice, "flight", limit=1) == [new]


async def test__search_messages__non_ascii__ignores_case(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    message = await store.add_message(alice, thread.id, "user", "ÄRGER mit dem Zug")

    assert await store.search_messages(alice, "ärger") == [message]


async def test__search_messages__wildcards__match_literally(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice)
    percent = await store.add_message(alice, thread.id, "user", "100% sure")
    underscore = await store.add_message(alice, thread.id, "user", "snake_case")
    await store.add_message(alice, thread.id, "user", "1000 x sure and snakeXcase")

    assert await store.search_messages(alice, "0%") == [percent]
    assert await store.search_messages(alice, "e_c") == [underscore]


async def test__search_messages__only_the_users_own(store: Store, alice: str, bob: str) -> None:
    alices = await store.create_thread(alice)
    bobs = await store.create_thread(bob)
    mine = await store.add_message(alice, alices.id, "user", "secret plan")
    theirs = await store.add_message(bob, bobs.id, "user", "secret plan")

    assert await store.search_messages(alice, "secret") == [mine]
    assert await store.search_messages(bob, "secret") == [theirs]


async def test__search_messages__empty_query__invalid_argument(store: Store, alice: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid query: must not be empty"):
        await store.search_messages(alice, "")


@pytest.mark.parametrize("limit", [0, 201])
async def test__search_messages__limit_out_of_range__invalid_argument(
    store: Store, alice: str, limit: int
) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        await store.search_messages(alice, "x", limit=limit)


async def test__find_run_message__the_user_message_of_a_run_only_for_its_owner(
    store: Store, alice: str, bob: str
) -> None:
    thread = await store.create_thread(alice)
    run, _ = await store.start_run(alice, thread.id, "demo", "cm-1")
    asked = await store.add_message(alice, thread.id, "user", "question", run_id=run.id)
    await store.add_message(alice, thread.id, "assistant", "answer", run_id=run.id)

    assert await store.find_run_message(alice, run.id) == asked
    assert await store.find_run_message(bob, run.id) is None
    assert await store.find_run_message(alice, "run_missing") is None
