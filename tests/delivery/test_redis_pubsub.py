"""Replies on the subscribe-mode connection, matched to commands in order."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import Connection

from agentsocket.delivery import BrokerUnavailable
from agentsocket.delivery._redis_pubsub import PubSubSession


def session(messages: list[tuple[bytes, bytes]]) -> PubSubSession:
    # Never connected: these tests feed replies to the dispatcher directly.
    return PubSubSession(
        Connection(), lambda channel, data: messages.append((channel, data)), ping_interval=1
    )


async def test__replies__confirm_commands_in_order_and_messages_pass_through() -> None:
    messages: list[tuple[bytes, bytes]] = []
    pubsub = session(messages)
    subscribed = pubsub.subscribe([b"a", b"b"])
    ping = pubsub._command("PING", ())
    pubsub._dispatch([b"subscribe", b"a", 1])
    pubsub._dispatch([b"message", b"a", b"payload"])
    assert not subscribed.done()
    pubsub._dispatch([b"subscribe", b"b", 2])
    pubsub._dispatch([b"pong", b""])  # PING while subscribed
    await asyncio.wait_for(subscribed, 1)
    await asyncio.wait_for(ping, 1)
    assert messages == [(b"a", b"payload")]


async def test__replies__plain_pong_when_subscribed_to_nothing() -> None:
    pubsub = session([])
    ping = pubsub._command("PING", ())
    pubsub._dispatch(b"PONG")
    await asyncio.wait_for(ping, 1)


async def test__failure__pending_and_later_commands_fail() -> None:
    pubsub = session([])
    pending = pubsub.subscribe([b"a"])
    await pubsub.close()
    with pytest.raises(BrokerUnavailable):
        await pending
    with pytest.raises(BrokerUnavailable):
        await pubsub.subscribe([b"b"])
