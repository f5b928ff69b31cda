"""The send path: written at once when idle, queued when held back, bounded, in order."""

from __future__ import annotations

import asyncio
import json

import pytest

from agentsocket.protocol import CloseCode, get_version
from agentsocket.protocol import server_messages as s
from agentsocket.server.connection import Connection
from agentsocket.server.core import ConnectionCore
from agentsocket.server.metrics import Metrics
from agentsocket.server.ratelimit import TokenBucket
from tests.server.sockets import FakeSocket


def connection(socket: FakeSocket, version: str = "v3", size: int = 5) -> Connection:
    core = ConnectionCore(
        get_version(version),
        bucket=TokenBucket(10, 10),
        user_bucket=TokenBucket(10, 10),
        max_frame_size=1024,
        abuse_threshold=5,
    )
    return Connection(
        socket,  # type: ignore[arg-type]
        core,
        connection_id="conn_t",
        user_id="u",
        server_id="node",
        queue_size=size,
        metrics=Metrics(),
        send_timeout=0.2,
        validate_outbound=True,
    )


async def test__idle_connection__frame_written_in_the_callers_call() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    conn.reply(s.Pong(server_time=1.0), "c")
    assert [json.loads(f)["correlation_id"] for f in socket.sent] == ["c"]


async def test__held_back_write__later_frames_queue_and_leave_in_order() -> None:
    socket = FakeSocket()
    conn = connection(socket, size=100)
    writer = asyncio.create_task(conn.run_writer())
    socket.gate.clear()
    for i in range(20):
        conn.reply(s.Pong(server_time=float(i)), f"c{i}")
    assert socket.sent == []
    socket.gate.set()
    conn.close(CloseCode.NORMAL, "done")
    await asyncio.wait_for(writer, 5)
    assert [json.loads(f)["correlation_id"] for f in socket.sent] == [f"c{i}" for i in range(20)]
    assert socket.closed == (1000, "done")


async def test__catch_up_put__waits_for_the_queue_instead_of_overflowing() -> None:
    socket = FakeSocket()
    socket.stall_every = 2
    conn = connection(socket, size=3)
    writer = asyncio.create_task(conn.run_writer())
    for i in range(50):
        await conn.put(conn.encode(s.Pong(server_time=float(i)), f"c{i}") or "")
    conn.close(CloseCode.NORMAL, "done")
    await asyncio.wait_for(writer, 5)
    assert len(socket.sent) == 50
    assert socket.closed == (1000, "done")


async def test__stalled_client__slow_consumer_close_then_abort() -> None:
    socket = FakeSocket()
    conn = connection(socket, size=5)
    writer = asyncio.create_task(conn.run_writer())
    socket.gate.clear()  # the peer stops reading
    for i in range(8):
        conn.reply(s.Pong(server_time=float(i)))
    assert conn.closing
    await asyncio.wait_for(writer, 5)
    assert socket.aborted
    rendered = conn._metrics.render().decode()
    assert 'agentsocket_closes_total{code="4101"} 1.0' in rendered
    assert 'agentsocket_slow_consumer_closes_total{cause="queue_full"} 1.0' in rendered
    assert 'cause="write_timeout"' not in rendered


async def test__held_back_frames__outbound_queue_gauges_read_them_at_scrape_time() -> None:
    socket = FakeSocket()
    first, second = connection(socket, size=100), connection(FakeSocket(), size=100)
    metrics = first._metrics
    metrics.watch_outbound(lambda: (c.queued for c in (first, second)))
    socket.gate.clear()
    for i in range(4):  # the first is written and held; three wait in the queue
        first.reply(s.Pong(server_time=float(i)))
    second.reply(s.Pong(server_time=0.0))  # written at once: nothing queued
    rendered = metrics.render().decode()
    assert "agentsocket_outbound_queued_frames 3.0" in rendered
    assert "agentsocket_outbound_queued_frames_max 3.0" in rendered


async def test__write_never_completes__aborted_after_send_timeout() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    writer = asyncio.create_task(conn.run_writer())
    socket.gate.clear()
    conn.reply(s.Pong(server_time=1.0))
    await asyncio.wait_for(writer, 5)
    assert socket.aborted
    rendered = conn._metrics.render().decode()
    assert 'agentsocket_slow_consumer_closes_total{cause="write_timeout"} 1.0' in rendered


async def test__message_an_old_version_cannot_express__dropped_and_counted() -> None:
    socket = FakeSocket()
    conn = connection(socket, version="v2")
    approval = s.ToolApprovalRequired(
        run_id="r",
        thread_id="t",
        agent_name="a",
        tool_call_id="c",
        tool_name="x",
        arguments={},
        timeout_seconds=1,
    )
    conn.reply(approval)
    assert not socket.sent
    metrics = conn._metrics.render().decode()
    assert (
        'agentsocket_messages_dropped_total{type="tool_approval_required",version="v2"} 1.0'
        in metrics
    )


async def test__peer_gone_mid_write__connection_closed_without_raising() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    socket.aborted = True
    conn.reply(s.Pong(server_time=1.0))
    assert conn.closing


@pytest.mark.parametrize("flush", [True, False])
async def test__close__the_first_one_wins(flush: bool) -> None:
    socket = FakeSocket()
    conn = connection(socket)
    writer = asyncio.create_task(conn.run_writer())
    conn.close(CloseCode.TOKEN_EXPIRED, "token expired", flush=flush)
    conn.close(CloseCode.NORMAL, "bye")
    await asyncio.wait_for(writer, 5)
    assert socket.closed == (4002, "token expired")
