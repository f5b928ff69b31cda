"""Store.thread_page: the documented maximum page (200) works, and it says whether more follow.

Issue 12, bug 10: the gateway asked the store for ``limit + 1`` threads to
learn whether another page exists, so ``limit: 200`` was refused as "got 201".
"""

from __future__ import annotations

from agentsocket.store import Store, ThreadPage


async def test__thread_page__full_page_of_200__accepted_with_more(store: Store, alice: str) -> None:
    created = [await store.create_thread(alice, f"t{i}") for i in range(201)]

    page = await store.thread_page(alice, limit=200)
    rest = await store.thread_page(alice, limit=200, before=page.cursor)

    assert (len(page.threads), page.has_more, page.cursor) == (200, True, page.threads[-1].id)
    assert rest == ThreadPage((created[0],), False, None)


async def test__thread_page__exactly_limit__no_more(store: Store, alice: str) -> None:
    created = [await store.create_thread(alice, f"t{i}") for i in range(2)]

    page = await store.thread_page(alice, limit=2)

    assert page == ThreadPage(tuple(reversed(created)), False, None)


async def test__list_threads__same_threads_as_thread_page(store: Store, alice: str) -> None:
    for i in range(3):
        await store.create_thread(alice, f"t{i}")

    assert await store.list_threads(alice, limit=2) == list(
        (await store.thread_page(alice, limit=2)).threads
    )
