"""What only the Redis broker does: several nodes, Redis faults, the key layout.

Faults are made without disturbing other users of the shared Redis: we kill
only this test's own connections (found by client name) or delete only this
test's keys (unique prefix).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from agentsocket.delivery import (
    BrokerNotRunning,
    BrokerUnavailable,
    Entry,
    Gap,
    Position,
    RedisBroker,
)
from tests.delivery.helpers import (
    TIMEOUT,
    FakeClock,
    next_gap,
    seqs,
    take,
    take_entries,
    wait_for,
)
from tests.delivery.proxy import TcpProxy

pytestmark = pytest.mark.redis

USER = "user-1"

NodeFactory = Callable[..., Awaitable[RedisBroker]]


@pytest.fixture
async def make_node(
    redis_url: str, prefix: str, clock: FakeClock, redis_admin: Redis
) -> AsyncIterator[NodeFactory]:
    """Start gateway nodes: RedisBrokers sharing this test's prefix."""
    nodes: list[RedisBroker] = []

    async def factory(url: str = redis_url, **options: Any) -> RedisBroker:
        options.setdefault("clock", clock)
        options.setdefault("reconnect_delay", (0.05, 0.2))
        node = RedisBroker(url, prefix=prefix, **options)
        await node.start()
        nodes.append(node)
        return node

    yield factory
    for node in nodes:
        await node.close()


async def kill_connections(admin: Redis, node: RedisBroker) -> int:
    """Close every Redis connection of ``node`` (found by its client name)."""
    names = {node.client_name, f"{node.client_name}-pubsub"}
    victims = [client["id"] for client in await admin.client_list() if client["name"] in names]
    for client_id in victims:
        await admin.client_kill_filter(_id=client_id)
    return len(victims)


async def test__start_and_close__emit_no_warnings(redis_url: str, prefix: str) -> None:
    # redis-py warns (UserWarning) when its asyncio client gets a synchronous Retry.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        node = RedisBroker(redis_url, prefix=prefix)
        await node.start()
        await node.close()

    assert [str(w.message) for w in caught] == []


async def test__two_nodes__subscriber_on_b__gets_what_a_publishes(make_node: NodeFactory) -> None:
    node_a, node_b = await make_node(), await make_node()
    on_a, on_b = await node_a.subscribe(USER), await node_b.subscribe(USER)
    for i in range(10):
        await (node_a if i % 2 else node_b).publish(USER, str(i).encode())
    received_b = await take_entries(on_b, 10)
    assert seqs(received_b) == list(range(1, 11))
    assert await take_entries(on_a, 10) == received_b


async def test__node_killed__client_resumes_on_another_node(make_node: NodeFactory) -> None:
    node_a, node_b = await make_node(), await make_node()
    on_a = await node_a.subscribe(USER)
    for i in range(5):
        await node_b.publish(USER, str(i).encode())
    await take_entries(on_a, 3)
    last_seen = on_a.position
    await node_a.close()  # the node dies with two entries undelivered
    for i in range(5, 8):
        await node_b.publish(USER, str(i).encode())
    resumed = await node_b.subscribe(USER, last_seen)
    assert seqs(await take_entries(resumed, 5)) == [4, 5, 6, 7, 8]


async def test__start__redis_unreachable__raises_broker_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", socket_timeout=1)
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        await broker.start()
    assert not broker.healthy
    with pytest.raises(BrokerNotRunning):
        await broker.publish(USER, b"x")
    await broker.close()


async def test__connection_lost__subscription_stays_open_and_catches_up(
    make_node: NodeFactory, redis_admin: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentsocket.delivery")
    node_a, node_b = await make_node(), await make_node()
    on_b = await node_b.subscribe(USER)
    await node_a.publish(USER, b"1")
    assert seqs(await take_entries(on_b, 1)) == [1]

    assert await kill_connections(redis_admin, node_b) >= 1
    for i in range(2, 7):  # B's pub/sub connection is gone: these reach it via the log
        await node_a.publish(USER, str(i).encode())

    assert seqs(await take_entries(on_b, 5)) == [2, 3, 4, 5, 6]
    await wait_for(lambda: node_b.healthy)
    messages = [record.getMessage() for record in caplog.records]
    assert any("lost the Redis pub/sub connection" in m for m in messages)
    assert any("reconnected to Redis" in m for m in messages)
    await node_b.publish(USER, b"7")  # the command pool recovered too
    await node_a.publish(USER, b"8")
    assert seqs(await take_entries(on_b, 2)) == [7, 8]


async def test__redis_down_for_a_while__publish_fails_then_everything_catches_up(
    make_node: NodeFactory, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentsocket.delivery")
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    port = await proxy.start()
    try:
        direct = await make_node()
        behind_proxy = await make_node(url=f"redis://127.0.0.1:{port}{target.path}")
        sub = await behind_proxy.subscribe(USER)
        await direct.publish(USER, b"1")
        assert seqs(await take_entries(sub, 1)) == [1]

        proxy.cut()  # Redis is gone, as far as behind_proxy can tell
        await wait_for(lambda: not behind_proxy.healthy)
        with pytest.raises(BrokerUnavailable):
            await behind_proxy.publish(USER, b"lost")
        for i in range(2, 5):
            await direct.publish(USER, str(i).encode())
        await wait_for(lambda: "attempt 2 failed" in caplog.text)  # it keeps trying

        proxy.restore()
        assert seqs(await take_entries(sub, 3)) == [2, 3, 4]
        await wait_for(lambda: behind_proxy.healthy)
        await behind_proxy.publish(USER, b"5")
        assert seqs(await take_entries(sub, 1)) == [5]
    finally:
        await proxy.close()


async def test__connection_lost__subscribe_refused_until_reconnected(
    make_node: NodeFactory, redis_admin: Redis
) -> None:
    node = await make_node(reconnect_delay=(30, 30))  # stays down for this test
    sub = await node.subscribe(USER)
    await kill_connections(redis_admin, node)
    await wait_for(lambda: not node.healthy)
    with pytest.raises(BrokerUnavailable):
        await node.subscribe(USER)
    assert not sub.closed
    # Publishing needs no pub/sub connection: it works whenever Redis answers.
    assert (await node.publish(USER, b"1")).seq == 1
    await node.close()
    assert [item async for item in sub] == []


async def test__stream_state_lost__live_subscriber_gets_epoch_gap_then_new_entries(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    node = await make_node()
    sub = await node.subscribe(USER)
    await node.publish(USER, b"old")
    await take_entries(sub, 1)
    old = await node.position(USER)

    await redis_admin.delete(f"{prefix}:{{{USER}}}:meta", f"{prefix}:{{{USER}}}:log")
    await node.publish(USER, b"new")

    gap = await next_gap(sub)
    assert gap.epoch != old.epoch
    assert gap == Gap(gap.epoch, 1, 0, "epoch_changed")
    assert await take_entries(sub, 1) == [Entry(1, b"new")]
    assert await node.position(USER) == Position(gap.epoch, 1)
    stale = await node.subscribe(USER, old)
    assert await next_gap(stale) == Gap(gap.epoch, 1, 1, "epoch_changed")


async def test__stream_state_lost__orphaned_log__not_mixed_into_the_new_epoch(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    node = await make_node()
    for i in range(3):
        await node.publish(USER, str(i).encode())
    old = await node.position(USER)
    await redis_admin.delete(f"{prefix}:{{{USER}}}:meta")  # the log survives alone
    new = await node.position(USER)
    assert new.epoch != old.epoch
    assert new.seq == 0
    sub = await node.subscribe(USER, Position(new.epoch, 0))
    await node.publish(USER, b"fresh")
    assert await take_entries(sub, 1) == [Entry(1, b"fresh")]


async def test__key_layout__log_ids_are_seqs_and_the_log_expires(
    make_node: NodeFactory, redis_admin: Redis, prefix: str, clock: FakeClock
) -> None:
    node = await make_node(max_entries=3, max_age_seconds=60)
    for i in range(5):
        await node.publish(USER, f"p{i}".encode())
    log = f"{prefix}:{{{USER}}}:log"
    stored: list[tuple[bytes, dict[bytes, bytes]]] = await redis_admin.xrange(log)  # type: ignore[assignment]
    assert [entry_id for entry_id, _ in stored] == [b"3-0", b"4-0", b"5-0"]
    assert stored[0][1] == {b"t": str(round(clock() * 1000)).encode(), b"p": b"p2"}
    assert 0 < await redis_admin.pttl(log) <= 60_000
    meta: dict[bytes, bytes] = await redis_admin.hgetall(f"{prefix}:{{{USER}}}:meta")  # type: ignore[assignment]
    assert meta[b"seq"] == b"5"
    assert meta[b"epoch"].decode() == (await node.position(USER)).epoch
    clock.advance(61)
    await node.publish(USER, b"p5")
    assert await redis_admin.xlen(log) == 1  # expired entries are gone, not just hidden


async def test__key_layout__meta_expires_with_the_log_and_each_publish_renews_both(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    node = await make_node(max_age_seconds=60)
    meta, log = f"{prefix}:{{{USER}}}:meta", f"{prefix}:{{{USER}}}:log"
    await node.position(USER)  # a read creates the state: it expires too
    assert 0 < await redis_admin.pttl(meta) <= 60_000
    await node.publish(USER, b"1")
    for key in (meta, log):
        assert 0 < await redis_admin.pttl(key) <= 60_000
        await redis_admin.pexpire(key, 1_000)  # as if 59 s had passed
    await node.publish(USER, b"2")
    for key in (meta, log):
        assert await redis_admin.pttl(key) > 1_000
    await node.position(USER)  # reads of existing state do not renew it
    await redis_admin.pexpire(meta, 1_000)
    await node.read(USER, 0, 10)
    assert 0 < await redis_admin.pttl(meta) <= 1_000


async def test__key_layout__no_age_limit__nothing_expires(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    meta, log = f"{prefix}:{{{USER}}}:meta", f"{prefix}:{{{USER}}}:log"
    limited = await make_node(max_age_seconds=60)
    await limited.publish(USER, b"1")
    unlimited = await make_node(max_age_seconds=None)
    await unlimited.position("another-user")
    assert await redis_admin.pttl(f"{prefix}:{{another-user}}:meta") == -1
    await unlimited.publish(USER, b"2")  # also lifts the expiry set before
    assert await redis_admin.pttl(meta) == -1
    assert await redis_admin.pttl(log) == -1


async def test__stream_state_expires_under_a_live_subscriber__epoch_gap_then_new_entries(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    # Unlike MemoryBroker, Redis cannot see subscribers: an idle stream
    # expires under them, and they learn it at the next entry.
    node = await make_node(max_age_seconds=0.2)
    sub = await node.subscribe(USER)
    await node.publish(USER, b"old")
    await take_entries(sub, 1)
    old = sub.position
    async with asyncio.timeout(TIMEOUT):  # Redis expires the keys by its own clock
        while await redis_admin.exists(f"{prefix}:{{{USER}}}:meta"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await node.publish(USER, b"new")
    gap = await next_gap(sub)
    assert gap.epoch != old.epoch
    assert gap == Gap(gap.epoch, 1, 0, "epoch_changed")
    assert await take_entries(sub, 1) == [Entry(1, b"new")]


async def test__channel__last_subscriber_leaves__node_unsubscribes(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    node = await make_node()
    channel = f"{prefix}:{{{USER}}}:live"

    async def subscribers() -> int:
        ((_, count),) = await redis_admin.pubsub_numsub(channel)
        return int(count)

    first, second = await node.subscribe(USER), await node.subscribe(USER)
    assert await subscribers() == 1  # one pub/sub connection per node
    await first.close()
    assert await subscribers() == 1
    await second.close()
    async with asyncio.timeout(5):
        while await subscribers():  # noqa: ASYNC110 - the count lives in Redis
            await asyncio.sleep(0.01)
    again = await node.subscribe(USER)
    await node.publish(USER, b"1")
    assert seqs(await take_entries(again, 1)) == [1]


async def test__channel__malformed_message__ignored(
    make_node: NodeFactory, redis_admin: Redis, prefix: str
) -> None:
    node = await make_node()
    sub = await node.subscribe(USER)
    await redis_admin.publish(f"{prefix}:{{{USER}}}:live", b"not ours")
    await node.publish(USER, b"1")
    assert await take(sub, 1) == [Entry(1, b"1")]
    assert node.healthy


async def test__idle_connection__ping_replies_understood(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentsocket.delivery")
    node = await make_node(ping_interval=0.05)
    await asyncio.sleep(0.2)  # pings while subscribed to nothing: "PONG"
    sub = await node.subscribe(USER)
    await asyncio.sleep(0.2)  # pings while subscribed: ["pong", ""]
    await node.publish(USER, b"1")
    assert seqs(await take_entries(sub, 1)) == [1]
    assert "unexpected reply" not in caplog.text


async def test__command_connections_killed__next_publish_reconnects_quietly(
    make_node: NodeFactory, redis_admin: Redis
) -> None:
    node = await make_node()
    sub = await node.subscribe(USER)
    await node.publish(USER, b"1")
    clients = await redis_admin.client_list()
    for client in clients:
        if client["name"] == node.client_name:  # not the -pubsub one
            await redis_admin.client_kill_filter(_id=client["id"])
    await node.publish(USER, b"2")
    assert node.healthy
    assert seqs(await take_entries(sub, 2)) == [1, 2]
