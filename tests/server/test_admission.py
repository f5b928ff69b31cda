"""Which connection makes room at the ceiling (``AdmissionProtocol.make_room``), without a server.

The waiting room holds connections without a complete request head, oldest
first. Stand-ins take the protocol's place there: a real socket pair each,
so "bytes waiting unread" is the kernel's answer, not a flag.
"""

from __future__ import annotations

import resource
import socket
from collections.abc import Iterator

import pytest

from agentsocket.server.admission import (
    BUSY_RETRY,
    PRESSURE_GRACE,
    AdmissionProtocol,
    admission_protocol,
    connection_limits,
    file_reserve,
)


class Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> object:
        return self.sock if name == "socket" else None


class Waiting:
    """Stands in for an AdmissionProtocol in the waiting room."""

    def __init__(self, room: type[AdmissionProtocol], since: float) -> None:
        self.server, self.peer = socket.socketpair()
        self.transport = Transport(self.server)
        self.evicted = False
        self.room = room
        room.waiting[self] = since  # type: ignore[index]

    def evict(self) -> None:
        self.evicted = True
        self.room.waiting.pop(self)  # type: ignore[call-overload]

    def close(self) -> None:
        self.server.close()
        self.peer.close()


@pytest.fixture
def room() -> Iterator[type[AdmissionProtocol]]:
    protocol = admission_protocol(10.0, 100)
    yield protocol
    for waiting in list(protocol.waiting):
        waiting.close()  # type: ignore[attr-defined]


def test__oldest_silent_past_the_grace__is_the_one_closed(room: type[AdmissionProtocol]) -> None:
    oldest, newer = Waiting(room, 0.0), Waiting(room, 0.1)
    assert room.make_room(now=PRESSURE_GRACE + 0.2) is None
    assert oldest.evicted
    assert not newer.evicted
    assert list(room.waiting) == [newer]  # type: ignore[comparison-overlap]


def test__none_past_the_grace__the_wait_until_the_oldest_is(room: type[AdmissionProtocol]) -> None:
    first = Waiting(room, 1.0)
    Waiting(room, 1.2)
    assert room.make_room(now=1.1) == pytest.approx(PRESSURE_GRACE - 0.1)
    assert not first.evicted


def test__bytes_waiting_unread__spared_and_the_next_one_closed(
    room: type[AdmissionProtocol],
) -> None:
    speaking, silent = Waiting(room, 0.0), Waiting(room, 0.0)
    speaking.peer.sendall(b"GET /healthz HTTP/1.1\r\n")
    assert room.make_room(now=PRESSURE_GRACE) is None
    assert silent.evicted
    assert not speaking.evicted


def test__nobody_waiting__look_again_shortly(room: type[AdmissionProtocol]) -> None:
    assert room.make_room(now=100.0) == BUSY_RETRY
    speaking = Waiting(room, 0.0)
    speaking.peer.sendall(b"G")
    assert room.make_room(now=100.0) == BUSY_RETRY
    assert not speaking.evicted


def test__each_configured_class__has_its_own_waiting_room() -> None:
    assert admission_protocol(1.0, None).waiting is not admission_protocol(1.0, None).waiting


@pytest.mark.parametrize(("limit", "reserve"), [(128, 64), (256, 64), (1024, 128), (65536, 8192)])
def test__file_reserve__an_eighth_at_least_64(limit: int, reserve: int) -> None:
    assert file_reserve(limit) == reserve


def test__limits__cap_below_ceiling_below_the_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap, ceiling = connection_limits(None)
    if soft == resource.RLIM_INFINITY:
        assert cap is ceiling is None
        return
    assert cap is not None
    assert ceiling is not None
    assert cap == soft - file_reserve(soft)
    assert cap < ceiling == soft - file_reserve(soft) // 2 < soft
