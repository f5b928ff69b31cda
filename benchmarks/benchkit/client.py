"""The load client: picows connections that speak just enough of each server's protocol.

picows parses frames in C and calls :meth:`Conn.on_ws_frame` once per frame,
so the client spends about a microsecond per frame and is not what limits a
run (the benchmarks print its CPU use to show it). Replies to pings are sent
from inside that callback: no task hop on the client side either.

Dialects (``Server.kind``):

* ``agentsocket``: subprotocol ``agentsocket.<version>``, a Bearer token, the
  welcome frame means ready; stream events are recognised by their type tag
  near the start of the frame, a run ends with ``agent_completed``;
* ``bare``: the ``hello`` frame means ready; every later frame is a payload;
* ``socketio``: Engine.IO v4 / Socket.IO v5 over the WebSocket transport:
  ``0{...}`` (open) → send ``40{"user": U}`` → ``40{...}`` means ready;
  ``2`` (ping) is answered ``3``; payloads are ``42["delta",...]``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from collections.abc import Iterable, Sequence

import jwt
import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from benchkit.servers import SECRET, Server

#: Source addresses for outgoing connections, so 10,000s of them (and their
#: TIME_WAIT leftovers) never exhaust one address's ephemeral ports.
_SOURCES = itertools.cycle([f"127.0.0.{i}" for i in range(2, 250)])
#: Where a frame's type tag must appear (the envelope starts with it).
_TAG_WINDOW = 48
#: Type tags of the streamed payload events, per protocol version.
PAYLOAD_TAGS = {
    "v3": b'"agent_message_delta"',
    "v2": b'"partial_result"',
    "v1": b'"agent_thinking"',
}
_END_TAG = b'"agent_completed"'
_FAIL_TAGS = (b'"agent_error"', b'"error"', b'"agent_cancelled"')


class BenchError(RuntimeError):
    """The run did not do what the benchmark asked: never reported as a figure."""


@functools.cache
def token(user: str) -> str:
    """An HS256 token the benchmark gateway accepts for ``user`` (cached: signing is not timed)."""
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


def ping_frame(kind: str, reply_size: int) -> bytes:
    """The ping a client sends; socket.io's is padded so that its echo is ``reply_size`` bytes."""
    if kind == "socketio":
        pad = max(0, reply_size - len('42["pong",{"correlation_id":"c1","pad":""}]'))
        return b'42["ping",{"correlation_id":"c1","pad":"' + b"x" * pad + b'"}]'
    return b'{"type":"ping","correlation_id":"c1"}'


class Conn(WSListener):
    """One client connection and what it has received."""

    def __init__(self, kind: str, user: str, version: str = "v3") -> None:
        super().__init__()
        loop = asyncio.get_running_loop()
        self.kind, self.user, self.version = kind, user, version
        self.payload_tag = PAYLOAD_TAGS.get(version, b"")
        self.ready: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.transport: WSTransport | None = None
        self.payloads = 0
        self.payload_bytes = 0
        self.frames = 0
        #: Payloads before done (bare, socketio); agentsocket ends on its terminal event.
        self.expect = 0
        self.ended_at = 0.0
        self.pings_left = 0
        self.ping_bytes = b""
        self.reply_bytes = 0
        self.sent_at = 0
        self.latencies_ns: list[int] = []

    # --- picows callbacks ----------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._fail(BenchError(f"{self.kind} connection of {self.user} closed by the server"))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            code = frame.get_close_code()
            reason = frame.get_close_message()
            self._fail(BenchError(f"{self.kind} server closed {self.user}: {code} {reason!r}"))
            return
        if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return
        data = frame.get_payload_as_bytes()
        self.frames += 1
        if not self.ready.done():
            self._before_ready(transport, data)
        elif self.pings_left:
            self._reply(transport, data)
        elif self.kind == "agentsocket":
            self._gateway_frame(data)
        elif self.kind == "socketio":
            if data == b"2":
                transport.send(WSMsgType.TEXT, b"3")
            elif data.startswith(b'42["delta"'):
                self._payload(data)
        else:
            self._payload(data)

    # --- internals -------------------------------------------------------------------

    def _before_ready(self, transport: WSTransport, data: bytes) -> None:
        if self.kind != "socketio":
            self.ready.set_result(None)  # the welcome (gateway) or hello (bare)
        elif data.startswith(b"0{"):
            transport.send(WSMsgType.TEXT, b"40" + orjson.dumps({"user": self.user}))
        elif data.startswith(b"40"):
            self.ready.set_result(None)
        elif data.startswith(b"44"):
            self._fail(BenchError(f"socket.io refused the connection: {data[:200]!r}"))

    def _payload(self, data: bytes) -> None:
        self.payloads += 1
        self.payload_bytes += len(data)
        if self.payloads == self.expect and not self.done.done():
            self.ended_at = time.perf_counter()
            self.done.set_result(None)

    def _gateway_frame(self, data: bytes) -> None:
        head = data[:_TAG_WINDOW]
        if self.payload_tag in head:
            self.payloads += 1
            self.payload_bytes += len(data)
        elif _END_TAG in head:
            if not self.done.done():
                self.ended_at = time.perf_counter()
                self.done.set_result(None)
        elif any(tag in head for tag in _FAIL_TAGS):
            self._fail(BenchError(f"the run failed: {data[:300]!r}"))

    def _reply(self, transport: WSTransport, data: bytes) -> None:
        if self.kind == "socketio":
            if data == b"2":
                transport.send(WSMsgType.TEXT, b"3")
                return
            if not data.startswith(b'42["pong"'):
                return
        elif self.kind == "agentsocket" and b'"pong"' not in data[:_TAG_WINDOW]:
            return  # not the answer (the gateway sends nothing else unasked here)
        now = time.perf_counter_ns()
        self.latencies_ns.append(now - self.sent_at)
        self.reply_bytes += len(data)
        self.pings_left -= 1
        if self.pings_left:
            self.sent_at = now
            transport.send(WSMsgType.TEXT, self.ping_bytes)
        elif not self.done.done():
            self.ended_at = time.perf_counter()
            self.done.set_result(None)

    def start_pings(self, count: int, reply_size: int = 0) -> None:
        """Send ``count`` pings one after another, each when the last one is answered."""
        assert self.transport is not None
        self.ping_bytes = ping_frame(self.kind, reply_size)
        self.pings_left = count
        self.sent_at = time.perf_counter_ns()
        self.transport.send(WSMsgType.TEXT, self.ping_bytes)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, data)

    def _fail(self, error: BenchError) -> None:
        for future in (self.ready, self.done):
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        if self.transport is None:
            return
        if not self.done.done():
            self.done.cancel()
        if not self.ready.done():
            self.ready.cancel()
        self.done = self.ready = asyncio.get_running_loop().create_future()
        self.done.set_result(None)  # a server close after this is expected, not a failure
        self.transport.send_close()
        self.transport.disconnect()
        await self.transport.wait_disconnected()


async def open_one(server: Server, user: str, version: str = "v3", query: str = "") -> Conn:
    """Connect, and wait until the server says the connection is ready."""
    headers: dict[str, str] = {}
    if server.kind == "agentsocket":
        headers = {
            "Authorization": f"Bearer {token(user)}",
            "Sec-WebSocket-Protocol": f"agentsocket.{version}",
        }
    elif server.kind == "bare":
        query = f"user={user}" + (f"&{query}" if query else "")
    _, conn = await ws_connect(
        lambda: Conn(server.kind, user, version),
        server.ws_url(query),
        extra_headers=headers,
        local_addr=(next(_SOURCES), 0),
        websocket_handshake_timeout=30,
    )
    assert isinstance(conn, Conn)
    await asyncio.wait_for(conn.ready, 30)
    return conn


async def open_many(
    server: Server,
    users: Iterable[str],
    *,
    version: str = "v3",
    query: str = "",
    concurrency: int = 64,
) -> list[Conn]:
    """Open one connection per entry of ``users`` (repeat a name for a fan-out), in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(user: str) -> Conn:
        async with gate:
            return await open_one(server, user, version, query)

    return list(await asyncio.gather(*(one(user) for user in users)))


async def close_all(conns: Sequence[Conn]) -> None:
    await asyncio.gather(*(conn.close() for conn in conns), return_exceptions=True)


def user_message(version: str, prompt: str) -> bytes:
    """A ``user_message`` frame for the gateway, encoded by the gateway's own codec."""
    from agentsocket.protocol import ClientEnvelope, encode_client
    from agentsocket.protocol.client_messages import UserMessage

    message = UserMessage(content=prompt, client_message_id=f"cm-{uuid.uuid4().hex}")
    return encode_client(ClientEnvelope(message, f"req-{uuid.uuid4().hex[:8]}"), version)
