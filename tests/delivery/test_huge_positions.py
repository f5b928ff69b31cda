"""A resume position far beyond any stream is a normal read on every backend, never a crash.

Issue 12, bug 9: in Redis mode ``?last_seq=`` 10**23 reached the read script,
whose doubles could not write the stream id: ``ResponseError`` and close 1006.
"""

from __future__ import annotations

import pytest

from agentsocket.delivery import Entry, Position
from tests.delivery.helpers import BrokerFactory, take


@pytest.mark.parametrize("after_seq", [10**23, 2**63, 2**53, -5])
async def test__read__far_or_negative_after_seq__answers(
    make_broker: BrokerFactory, after_seq: int
) -> None:
    broker = await make_broker()
    await broker.publish("alice", b"{}")
    read = await broker.read("alice", after_seq, 10)
    expected = [Entry(1, b"{}")] if after_seq < 0 else []
    assert (read.last_seq, read.entries) == (1, expected)


async def test__subscribe__position_beyond_head__then_live_entries(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker()
    first = await broker.position("alice")
    subscription = await broker.subscribe("alice", Position(first.epoch, 10**23))
    await broker.publish("alice", b"{}")
    items = await take(subscription, 1)
    await subscription.close()
    assert items
