"""The one registry of live connections on this node, grouped by user in :class:`UserState`.

A user's state on the node — their connections, their rate-limit bucket and
their encoded stream frames — lives in one :class:`UserState`. It is
created with the user's first connection here. When the last one closes
the frames are dropped at once; the bucket is kept for as long as a fresh one
would still differ from it (the time it takes to refill), so reconnecting
never resets a user's rate limit, and no state outlives that bound.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from agentsocket.protocol import Version
from agentsocket.server.frames import FrameEncoder
from agentsocket.server.ratelimit import TokenBucket

if TYPE_CHECKING:
    from agentsocket.server.connection import Connection


EncoderFactory = Callable[[Callable[[], frozenset[Version]]], FrameEncoder]
"""Makes a user's frame encoder, given how to read the user's versions."""

#: Every set of versions in use, shared by all users speaking it (most speak one).
_VERSION_SETS: dict[frozenset[Version], frozenset[Version]] = {}


def _shared(versions: frozenset[Version]) -> frozenset[Version]:
    return _VERSION_SETS.setdefault(versions, versions)


class UserState:
    """One user's state on this node."""

    __slots__ = ("_new_frames", "_versions", "bucket", "connections", "frames", "user_id")

    def __init__(self, user_id: str, bucket: TokenBucket, frames: EncoderFactory) -> None:
        self.user_id = user_id
        self.bucket = bucket
        self.connections: dict[str, Connection] = {}
        self._versions: frozenset[Version] = _shared(frozenset())
        self._new_frames = frames
        self.frames = frames(self.versions)

    def drop_frames(self) -> None:
        """Forget the encoded frames (the user's last connection here closed)."""
        self.frames = self._new_frames(self.versions)

    def versions(self) -> frozenset[Version]:
        """The versions this user's connections here speak (kept up to date, not recomputed)."""
        return self._versions

    def add(self, connection: Connection) -> None:
        self.connections[connection.id] = connection
        if connection.version not in self._versions:
            self._versions = _shared(self._versions | {connection.version})

    def remove(self, connection: Connection) -> bool:
        """Forget ``connection``; False if it was not here."""
        if self.connections.pop(connection.id, None) is None:
            return False
        self._versions = _shared(frozenset(c.version for c in self.connections.values()))
        return True


class Registry:
    """Live connections keyed by user id and connection id.

    A message for a user only ever reaches ``connections_of(user_id)``: this is
    the isolation boundary, so nothing else keeps its own list of sockets.

    Args:
        bucket: makes a user's rate-limit bucket.
        frames: makes a user's frame encoder, given the user's versions.
        linger: seconds a user's state is kept after their last connection.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        bucket: Callable[[], TokenBucket],
        frames: EncoderFactory,
        *,
        linger: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket = bucket
        self._frames = frames
        self._linger = linger
        self._clock = clock
        self._users: dict[str, UserState] = {}
        # Users with no connection left, by when they left (oldest first).
        self._idle: OrderedDict[str, float] = OrderedDict()

    def user(self, user_id: str) -> UserState:
        """The state of ``user_id`` on this node, created (or kept from before) for a connection."""
        self._expire()
        state = self._users.get(user_id)
        if state is None:
            state = self._users[user_id] = UserState(user_id, self._bucket(), self._frames)
        self._idle.pop(user_id, None)
        return state

    def add(self, connection: Connection) -> UserState:
        state = self.user(connection.user_id)
        state.add(connection)
        return state

    def remove(self, connection: Connection) -> None:
        state = self._users.get(connection.user_id)
        if state is None or not state.remove(connection):
            return
        if not state.connections:
            state.drop_frames()
            self._idle[state.user_id] = self._clock()
        self._expire()

    def count_for(self, user_id: str) -> int:
        state = self._users.get(user_id)
        return len(state.connections) if state is not None else 0

    def connections_of(self, user_id: str) -> list[Connection]:
        state = self._users.get(user_id)
        return list(state.connections.values()) if state is not None else []

    def users(self) -> int:
        """Users with state on this node (connected, or left less than ``linger`` ago)."""
        self._expire()
        return len(self._users)

    def __iter__(self) -> Iterator[Connection]:
        for state in list(self._users.values()):
            yield from list(state.connections.values())

    def __len__(self) -> int:
        return sum(len(state.connections) for state in self._users.values())

    def versions(self) -> Counter[str]:
        return Counter(connection.version.name for connection in self)

    def _expire(self) -> None:
        cutoff = self._clock() - self._linger
        while self._idle:
            user_id, left = next(iter(self._idle.items()))
            if left > cutoff:
                return
            del self._idle[user_id]
            self._users.pop(user_id, None)
