"""The outbound path: order, bounded queue, slow-consumer close, declared drops."""

from __future__ import annotations

import asyncio
import json

from starlette.websockets import WebSocketState

from agentsocket.protocol import CloseCode, get_version
from agentsocket.protocol import server_messages as s
from agentsocket.server.connection import Connection
from agentsocket.server.metrics import Metrics


class BlockingSocket:
    """Stands in for Starlette's WebSocket: records frames, can stall like a slow peer."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.application_state = WebSocketState.CONNECTED
        self.gate = asyncio.Event()
        self.gate.set()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED


def _connection(socket: BlockingSocket, version: str = "v3", size: int = 5) -> Connection:
    return Connection(
        socket,  # type: ignore[arg-type]
        connection_id="conn_t",
        user_id="u",
        version=get_version(version),
        server_id="node",
        queue_size=size,
        metrics=Metrics(),
        validate_outbound=True,
    )


async def test__frames__written_in_queue_order() -> None:
    socket = BlockingSocket()
    connection = _connection(socket, size=100)
    writer = asyncio.create_task(connection.run_writer())
    for i in range(20):
        connection.reply(s.Pong(server_time=float(i)), f"c{i}")
    connection.close_soon(CloseCode.NORMAL, "done")
    await asyncio.wait_for(writer, 5)
    assert [json.loads(f)["correlation_id"] for f in socket.sent] == [f"c{i}" for i in range(20)]
    assert socket.closed == (1000, "done")


async def test__stalled_client__closed_with_slow_consumer_past_the_bound() -> None:
    socket = BlockingSocket()
    socket.gate.clear()  # the peer stops reading
    connection = _connection(socket, size=5)
    writer = asyncio.create_task(connection.run_writer())
    for i in range(7):
        connection.reply(s.Pong(server_time=float(i)))
    assert connection.closing
    socket.gate.set()
    await asyncio.wait_for(writer, 5)
    assert socket.closed is not None
    assert socket.closed[0] == CloseCode.SLOW_CONSUMER
    assert len(socket.sent) <= 1  # only the frame already being written


async def test__message_an_old_version_cannot_express__dropped_and_counted() -> None:
    socket = BlockingSocket()
    connection = _connection(socket, version="v2")
    approval = s.ToolApprovalRequired(
        run_id="r",
        thread_id="t",
        agent_name="a",
        tool_call_id="c",
        tool_name="x",
        arguments={},
        timeout_seconds=1,
    )
    connection.reply(approval)
    assert not socket.sent
    metrics = connection._metrics.render().decode()
    assert (
        'agentsocket_messages_dropped_total{type="tool_approval_required",version="v2"} 1.0'
        in metrics
    )
