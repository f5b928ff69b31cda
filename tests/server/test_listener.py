"""The listener accepts only what the ceiling allows, and never closes a connection unread.

In-process, over real loopback sockets: a listener with a small ceiling, a
trivial protocol that counts itself open like uvicorn's, and ``make_room``
callbacks standing in for the admission protocol's (``server/admission.py``).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import uvloop

from agentsocket.server.listener import Listener, bind

#: Safety bound for every wait below (a failing test ends; nothing is timed).
WAIT = 10.0


Run = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Each test on asyncio's loop and on uvloop's (the one ``agentsocket serve`` runs on)."""
    if request.param == "uvloop":
        return uvloop.run
    return asyncio.run


class Held(asyncio.Protocol):
    """Counts itself open from connection_made to connection_lost, as uvicorn's protocols do."""

    def __init__(self, opened: dict[Held, asyncio.Transport], order: list[Held]) -> None:
        self.opened = opened
        self.order = order
        self.received = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.opened[self] = self.transport
        self.order.append(self)

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.opened.pop(self, None)


class Node:
    """A listener and what it holds."""

    def __init__(self, ceiling: int | None, make_room: Callable[[float], float | None]) -> None:
        self.opened: dict[Held, asyncio.Transport] = {}
        self.order: list[Held] = []
        self.sockets = bind("127.0.0.1", 0, backlog=64)
        self.listener = Listener(
            self.sockets,
            lambda: Held(self.opened, self.order),
            self.opened,
            ceiling=ceiling,
            make_room=make_room,
        )
        self.port: int = self.sockets[0].getsockname()[1]


@asynccontextmanager
async def running(node: Node) -> AsyncIterator[Node]:
    node.listener.start()
    try:
        yield node
    finally:
        node.listener.close()
        for transport in list(node.opened.values()):
            transport.abort()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connected TCP sockets (the kernel completes them; accepting is the server's)."""
    made = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock.setblocking(False)
        made.append(sock)
    return made


def still_open(sock: socket.socket) -> bool:
    """Neither closed nor reset by the server (nothing to read, no EOF)."""
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def test__at_the_ceiling__the_rest_wait_in_the_backlog_unclosed(run: Run) -> None:
    run(_at_the_ceiling__the_rest_wait_in_the_backlog_unclosed())


async def _at_the_ceiling__the_rest_wait_in_the_backlog_unclosed() -> None:
    node = Node(ceiling=3, make_room=lambda _now: 0.01)  # nothing may be closed
    async with running(node):
        peers = clients(node.port, 5)
        try:
            await until(lambda: len(node.opened) == 3)
            paused = node.listener.paused
            await until(lambda: node.listener.paused >= paused + 3)  # it looked again, thrice
            assert len(node.opened) == 3
            assert all(still_open(peer) for peer in peers)

            # A connection ends: the next one waiting is accepted, and the ceiling holds.
            node.order[0].transport.close()
            await until(lambda: len(node.order) == 4)
            assert len(node.opened) == 3
            for held in list(node.opened):
                held.transport.close()
            await until(lambda: len(node.order) == 5)
            assert still_open(peers[4])
        finally:
            for peer in peers:
                peer.close()


def test__at_the_ceiling__room_is_made_and_every_newcomer_is_accepted(run: Run) -> None:
    run(_at_the_ceiling__room_is_made_and_every_newcomer_is_accepted())


async def _at_the_ceiling__room_is_made_and_every_newcomer_is_accepted() -> None:
    evicted: list[Held] = []

    def make_room(_now: float) -> float | None:
        if not node.opened:
            return 0.01
        oldest = next(iter(node.opened))
        node.opened.pop(oldest)  # no longer counted, as AdmissionProtocol.evict does
        oldest.transport.abort()
        evicted.append(oldest)
        return None

    node = Node(ceiling=2, make_room=make_room)
    async with running(node):
        peers = clients(node.port, 6)
        try:
            await until(lambda: len(node.order) == 6)
            assert evicted == node.order[:4]
            assert node.listener.evicted == 4
            assert all(still_open(peer) for peer in peers[4:])
            assert not any(still_open(peer) for peer in peers[:4])
        finally:
            for peer in peers:
                peer.close()


def test__out_of_files__accept_pauses_and_the_connection_waits(run: Run) -> None:
    run(_out_of_files__accept_pauses_and_the_connection_waits())


async def _out_of_files__accept_pauses_and_the_connection_waits() -> None:
    """An ``EMFILE`` from accept (files held by something else) pauses; nothing is dropped."""

    class ShortOfFiles(socket.socket):
        failures = 2

        def accept(self) -> tuple[socket.socket, object]:
            if self.failures:
                self.failures -= 1
                raise OSError(errno.EMFILE, "Too many open files")
            return super().accept()

    node = Node(ceiling=None, make_room=lambda _now: None)
    original = node.sockets[0]
    short = ShortOfFiles(original.family, original.type, original.proto, original.detach())
    node.sockets[0] = node.listener.sockets[0] = short
    async with running(node):
        (peer,) = clients(node.port, 1)
        try:
            peer.sendall(b"hello")
            await until(lambda: len(node.order) == 1)
            await until(lambda: node.order[0].received == b"hello")
            assert node.listener.paused == 2
            assert still_open(peer)
        finally:
            peer.close()


def test__closed__stops_accepting(run: Run) -> None:
    run(_closed__stops_accepting())


async def _closed__stops_accepting() -> None:
    node = Node(ceiling=None, make_room=lambda _now: None)
    async with running(node):
        (peer,) = clients(node.port, 1)
        peer.close()
        await until(lambda: len(node.order) == 1)
    node.listener.close()  # twice is fine
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", node.port), timeout=WAIT)
