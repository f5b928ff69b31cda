"""Accept a connection only when the process can hold it (issue 12, bug 4).

uvloop's server (libuv) accepts every pending connection in one go, before any
protocol runs; when the file limit is hit mid-way, libuv accepts and closes
the rest unread (its spare-fd trick), and asyncio stops accepting for a
second. Either way a health probe queued behind a flood of silent sockets is
dropped, though the silent sockets are what should go. This listener accepts
itself, one connection at a time, and keeps the number of client sockets at
or below the ceiling (``server/admission.py``):

- at the ceiling it first makes room: the oldest connection still waiting for
  its request head after :data:`~agentsocket.server.admission.PRESSURE_GRACE`
  is closed (nginx does the same with its "reusable" connections, those
  waiting for a request, when it runs out: ``ngx_drain_connections``);
- when nothing can go yet, it stops accepting until something can: the new
  connections wait in the kernel's listen backlog, none is closed unread;
- an ``EMFILE`` (files used by something else) pauses it briefly (nginx too
  stops accepting on ``EMFILE`` rather than dropping connections).

Accepted sockets go to the loop with ``connect_accepted_socket``, so the
protocol and transports are uvicorn's usual ones.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Collection, Sequence

logger = logging.getLogger("agentsocket.listener")

#: Connections accepted per wake-up: the loop reads the accepted ones between bursts.
BURST = 64
#: Seconds before accepting again after an ``EMFILE``, or when every held connection is busy.
RETRY_DELAY = 0.05
#: Shortest pause, so that a pause due in microseconds does not spin.
MIN_PAUSE = 0.005
#: Seconds between two warnings about pressure.
WARN_EVERY = 10.0

#: accept(2) errors about the one pending connection, to be retried at once (see its man page).
_PEER_GONE = frozenset(
    {
        errno.ECONNABORTED,
        errno.EPROTO,
        errno.EPERM,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENONET,
        errno.ENOPROTOOPT,
        errno.EOPNOTSUPP,
    }
)


def bind(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening, non-blocking sockets for ``host``:``port`` (one per address it resolves to)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # One socket per family, as asyncio's create_server does.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Listener:
    """Accepts on ``sockets`` while fewer than ``ceiling`` client sockets are held.

    Args:
        sockets: listening, non-blocking sockets (:func:`bind`).
        protocol_factory: makes the protocol of each accepted connection.
        connections: the open connections (uvicorn's ``server_state.connections``).
        ceiling: client sockets held at most; None: no limit.
        make_room: closes one connection to free a file descriptor; returns None
            when it did, else the seconds until it could.
    """

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        protocol_factory: Callable[[], asyncio.Protocol],
        connections: Collection[object],
        ceiling: int | None,
        make_room: Callable[[float], float | None],
    ) -> None:
        self.sockets = list(sockets)
        self._factory = protocol_factory
        self._connections = connections
        self._ceiling = ceiling
        self._make_room = make_room
        self._loop = asyncio.get_running_loop()
        #: Accepted, but the loop has not made their connection yet.
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        self._warned = -WARN_EVERY
        #: Connections closed to make room, and pauses, since the start (for logs and tests).
        self.evicted = 0
        self.paused = 0

    @property
    def held(self) -> int:
        """Client sockets open or being opened."""
        return len(self._connections) + self._pending

    def start(self) -> None:
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (uvicorn's shutdown calls it)."""
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        if self._resume is not None:
            self._resume.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        """Nothing to wait for: connections are uvicorn's to drain."""

    def _accept(self, sock: socket.socket) -> None:
        if self._resume is not None:  # paused while another socket's turn ran
            return
        for _ in range(min(self._room(), BURST)):
            try:
                conn, _address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _PEER_GONE:
                    continue  # that connection is gone; the next one may be fine
                # Out of files (held by something else), or worse: wait, never drop.
                self._warn(f"accept failed ({errno.errorcode.get(error.errno or 0, error)})")
                self._pause(RETRY_DELAY)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending += 1
            task = self._loop.create_task(self._adopt(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _room(self) -> int:
        """How many sockets may be accepted now; at the ceiling, room is made for the next turn.

        A closed connection's file descriptor is released on the loop's next
        turn, not at once: accepting in its place now could still hit the file
        limit. So at the ceiling this turn closes one connection and accepts
        nothing (the listening socket stays readable: the next turn accepts),
        or, when none may be closed yet, pauses until one may.
        """
        if self._ceiling is None:
            return BURST
        free = self._ceiling - self.held
        if free > 0:
            return free
        wait = self._make_room(self._loop.time())
        if wait is None:
            self.evicted += 1
            self._warn("at the connection ceiling: closing connections without a request")
        else:
            self._pause(max(wait, MIN_PAUSE))
        return 0

    async def _adopt(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:  # the peer went away before the loop took it
            conn.close()
        except Exception:
            conn.close()
            logger.exception("could not set up an accepted connection")
        finally:
            self._pending -= 1

    def _pause(self, seconds: float) -> None:
        self.paused += 1
        self._stop_reading()
        if self._resume is not None:
            self._resume.cancel()
        self._resume = self._loop.call_later(seconds, self._restart)

    def _restart(self) -> None:
        self._resume = None
        if not self._closed:
            self.start()

    def _stop_reading(self) -> None:
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock.fileno())

    def _warn(self, what: str) -> None:
        now = self._loop.time()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            logger.warning(
                "%s (%d held, ceiling %s, %d closed to make room so far)",
                what,
                self.held,
                self._ceiling,
                self.evicted,
            )
