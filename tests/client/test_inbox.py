"""The application's mailbox: order, selective receive, and its end."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentsocket.client.inbox import Inbox
from agentsocket.protocol import ServerEnvelope
from agentsocket.protocol import server_messages as s


def env(seq: int) -> ServerEnvelope:
    return ServerEnvelope(s.ThreadDeleted(thread_id=f"t{seq}"), time.time(), seq=seq)


async def test__take__oldest_first_and_selective_leaves_the_rest() -> None:
    inbox = Inbox()
    for seq in (1, 2, 3):
        inbox.put(env(seq))
    taken = await inbox.take(lambda e: e.seq == 2)
    assert taken is not None
    assert taken.seq == 2
    first, last = await inbox.take(), await inbox.take()
    assert (first and first.seq, last and last.seq) == (1, 3)
    assert len(inbox) == 0


async def test__take__waits_for_a_matching_arrival() -> None:
    inbox = Inbox()
    waiting = asyncio.create_task(inbox.take(lambda e: e.seq == 2))
    await asyncio.sleep(0)
    inbox.put(env(1))
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put(env(2))
    got = await asyncio.wait_for(waiting, 10)
    assert got is not None
    assert got.seq == 2
    assert len(inbox) == 1


async def test__end__buffered_first_then_none_or_the_error() -> None:
    inbox = Inbox()
    inbox.put(env(1))
    inbox.end()
    inbox.put(env(2))  # too late: ignored
    assert (await inbox.take()) is not None
    assert await inbox.take() is None

    failed = Inbox()
    failed.put(env(1))
    failed.end(RuntimeError("lost"))
    assert await failed.take() is not None
    with pytest.raises(RuntimeError, match="lost"):
        await failed.take()


async def test__end__wakes_a_waiting_reader() -> None:
    inbox = Inbox()
    waiting = asyncio.create_task(inbox.take())
    await asyncio.sleep(0)
    inbox.end()
    assert await asyncio.wait_for(waiting, 10) is None
