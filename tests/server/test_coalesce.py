"""Coalesced writes, over a real socket pair: at once when quiet, joined when busy, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.frames import OP_TEXT, Frame

from agentsocket.server.coalesce import (
    FLUSH_BYTES,
    FLUSH_DELAY,
    FLUSH_TICKS,
    CoalescingTransport,
    CoalescingWebSocketProtocol,
    text_frame,
)


class Peer:
    """The far end of the pair: what has arrived so far, read without waiting."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)
        self.got = b""
        self.eof = False

    def read(self) -> bytes:
        """Everything that arrived since the last read."""
        new = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            except ConnectionResetError:
                self.eof = True
                break
            if not chunk:
                self.eof = True
                break
            new += chunk
        self.got += new
        return new

    async def until_eof(self) -> bytes:
        for _ in range(200):
            self.read()
            if self.eof:
                return self.got
            await asyncio.sleep(0.005)
        raise AssertionError("the connection never closed")


@contextlib.asynccontextmanager
async def pair() -> AsyncIterator[tuple[CoalescingTransport, Peer]]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    coalescing = CoalescingTransport(transport, loop)
    try:
        yield coalescing, Peer(theirs)
    finally:
        transport.abort()
        theirs.close()


async def iterations(n: int) -> None:
    """Let ``n`` loop iterations go by (the ticker runs once in each)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test__quiet_connection__write_leaves_in_the_callers_call() -> None:
    async with pair() as (transport, peer):
        transport.write(b"reply")
        assert peer.read() == b"reply"


async def test__writes_of_the_next_iterations__held_then_joined_in_order() -> None:
    async with pair() as (transport, peer):
        transport.write(b"a")
        assert peer.read() == b"a"
        await iterations(1)
        transport.write(b"b")
        await iterations(1)
        transport.write(b"c")
        assert peer.read() == b""
        assert transport.held_bytes == 2
        await iterations(FLUSH_TICKS)
        assert peer.read() == b"bc"
        assert transport.held_bytes == 0
        assert peer.got == b"abc"


async def test__writes_in_the_same_iteration__joined() -> None:
    async with pair() as (transport, peer):
        transport.write(b"first")
        for i in range(50):
            transport.write(b"%d," % i)
        assert peer.read() == b"first"
        await iterations(FLUSH_TICKS + 1)
        assert peer.read() == b"".join(b"%d," % i for i in range(50))


async def test__peer_spoke__next_write_leaves_at_once_after_the_held_ones() -> None:
    async with pair() as (transport, peer):
        transport.write(b"a")
        assert peer.read() == b"a"
        await iterations(1)
        transport.write(b"b")
        transport.peer_spoke()  # a request came in: its answer is not held
        transport.write(b"answer")
        assert peer.read() == b"banswer"
        transport.write(b"c")  # the stream goes on: held again
        assert peer.read() == b""
        await iterations(FLUSH_TICKS + 1)
        assert peer.read() == b"c"
        assert peer.got == b"abanswerc"


async def test__peer_spoke_then_quiet__a_later_stream_is_held_again() -> None:
    async with pair() as (transport, peer):
        transport.write(b"a")
        transport.peer_spoke()  # answered by nothing: the connection goes quiet
        await iterations(3)
        transport.write(b"b")  # quiet: at once
        await iterations(1)
        transport.write(b"c")  # a stream again: held
        assert peer.read() == b"ab"
        await iterations(FLUSH_TICKS + 1)
        assert peer.read() == b"c"


async def test__flush_bytes_held__written_without_waiting_for_the_ticks() -> None:
    async with pair() as (transport, peer):
        transport.write(b"a")
        big = b"x" * (FLUSH_BYTES // 2)
        transport.write(big)
        assert peer.read() == b"a"
        transport.write(big)
        await asyncio.sleep(0.01)  # the socket transport's own buffer drains
        assert peer.read() == big + big
        assert transport.held_bytes == 0


async def test__a_whole_quiet_iteration__next_write_leaves_at_once() -> None:
    async with pair() as (transport, peer):
        transport.write(b"a")
        await iterations(3)  # one to see the write, one without any: quiet
        transport.write(b"b")
        assert peer.read() == b"ab"


async def test__close__held_writes_leave_before_the_end_of_stream() -> None:
    async with pair() as (transport, peer):
        transport.write(b"data")
        await iterations(1)
        transport.write(b"close-frame")
        transport.close()
        assert transport.is_closing()
        assert await peer.until_eof() == b"dataclose-frame"
        transport.write(b"late")  # after close: ignored, as by any transport
        assert transport.held_bytes == 0


async def test__abort__drops_the_connection_and_stops_writing() -> None:
    async with pair() as (transport, peer):
        transport.write(b"data")
        await iterations(1)
        transport.write(b"more")
        transport.abort()
        assert transport.is_closing()
        transport.write(b"late")
        got = await peer.until_eof()
        assert b"late" not in got
        assert got.startswith(b"data")


async def test__connection_lost__held_writes_dropped() -> None:
    async with pair() as (transport, peer):
        transport.write(b"data")
        await iterations(1)
        transport.write(b"held")
        transport.connection_lost()
        assert transport.held_bytes == 0
        await iterations(FLUSH_TICKS + 1)
        assert peer.read() == b"data"


async def test__one_connection_failing_to_write__others_still_flushed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with pair() as (broken, broken_peer), pair() as (healthy, healthy_peer):
        for transport in (broken, healthy):
            transport.write(b"first")
            await iterations(1)
            transport.write(b"held")
        # The socket transport refuses every write after write_eof: the next flush raises.
        broken._transport.write_eof()
        with caplog.at_level(logging.ERROR, logger="agentsocket.coalesce"):
            await iterations(FLUSH_TICKS + 1)
        assert healthy_peer.read() == b"firstheld"
        assert "coalesced write failed" in caplog.text
        assert broken.held_bytes == 0
        assert broken.is_closing()
        assert b"held" not in await broken_peer.until_eof()


def test__docs_state_the_flush_limits() -> None:
    gateway = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text()
    limits = (
        f"after {FLUSH_TICKS} iterations or {round(FLUSH_DELAY * 1000)} ms, whichever comes"
        f" first, at once at {FLUSH_BYTES // 1024} KiB"
    )
    assert limits in " ".join(gateway.split())  # the prose may wrap anywhere


async def test__slow_iterations__held_write_leaves_after_the_delay_not_the_ticks() -> None:
    """Iterations of milliseconds (many busy connections) do not hold a frame for 16 of them."""
    async with pair() as (transport, peer):
        transport.write(b"a")
        await iterations(1)
        transport.write(b"b")
        assert peer.read() == b"a"
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < FLUSH_DELAY * 1.5:  # one iteration longer than the delay
            pass
        await iterations(2)
        assert peer.read() == b"b"


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test__protocol__handshake_not_kept__text_written_directly_only_when_send_would(
    compression: str | None,
) -> None:
    """The handshake's request and response are dropped; ``write_text`` writes like ``send``.

    Without an extension the frame is written by :func:`text_frame`; with
    permessage-deflate negotiated, websockets frames (and compresses) it.
    """
    kept: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        protocol = send.__self__
        await send({"type": "websocket.accept"})
        kept.append(hasattr(protocol, "request") or hasattr(protocol, "response"))
        assert protocol.write_text("direct")  # written in the call, no send
        protocol.writable.clear()  # the transport pushes back: send must wait instead
        assert not protocol.write_text("held")
        protocol.writable.set()
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message["text"]})
        await receive()  # the client's close
        assert not protocol.write_text("after close")

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, ws=CoalescingWebSocketProtocol, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):  # bounded: a server that never starts fails the test
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with connect(f"ws://127.0.0.1:{port}/", compression=compression) as client:
            await client.send("hi")
            assert await asyncio.wait_for(client.recv(), 5) == "direct"
            assert await asyncio.wait_for(client.recv(), 5) == "echo hi"
        assert kept == [False]
    finally:
        server.should_exit = True
        await serving


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test__text_frame__same_bytes_as_websockets_framing(length: int) -> None:
    data = ("é" * length).encode()[:length]
    assert text_frame(data) == Frame(OP_TEXT, data).serialize(mask=False)


async def test__after_a_quiet_spell__a_held_write_waits_its_iterations_not_a_stale_delay() -> None:
    """The ticker's clock restarts with the first busy connection, so a write held in the
    first iteration is not taken for one that waited since the last busy spell."""
    async with pair() as (transport, peer):
        transport.write(b"a")
        await iterations(3)  # a whole iteration without writes: quiet, the ticker stops
        await asyncio.sleep(FLUSH_DELAY * 2)  # longer than the delay, with nothing held
        transport.write(b"b")  # quiet: at once; busy again
        transport.write(b"c")  # held
        await iterations(2)
        assert peer.read() == b"ab"  # c waits for more iterations
        await iterations(FLUSH_TICKS)
        assert peer.read() == b"c"
