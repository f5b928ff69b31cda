"""The store refuses U+0000 in text with InvalidArgument, on SQLite and PostgreSQL alike.

On PostgreSQL a NUL used to fail inside the driver, mid-transaction, as an
``internal`` error (issue 12, bug 7); on SQLite it was stored.
"""

from __future__ import annotations

import pytest

from agentsocket.store import InvalidArgument, Store


async def test__create_thread__nul_in_title__invalid_argument(store: Store, alice: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await store.create_thread(alice, "a\x00b")
    assert refused.value.argument == "title"
    assert await store.list_threads(alice) == []


async def test__rename_thread__nul_in_title__invalid_argument(store: Store, alice: str) -> None:
    thread = await store.create_thread(alice, "kept")
    with pytest.raises(InvalidArgument):
        await store.rename_thread(alice, thread.id, "\x00")
    assert (await store.get_thread(alice, thread.id)).title == "kept"


@pytest.mark.parametrize("role", ["user", "assistant"])
async def test__add_message__nul_in_content__invalid_argument_nothing_stored(
    store: Store, alice: str, role: str
) -> None:
    thread = await store.create_thread(alice, "t")
    with pytest.raises(InvalidArgument) as refused:
        await store.add_message(alice, thread.id, role, "an\x00swer")
    assert refused.value.argument == "content"
    assert (await store.history(alice, thread.id)).messages == ()
