"""The one registry of live connections on this node, by user and by id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentsocket.server.connection import Connection


class Registry:
    """Live connections keyed by user id and connection id.

    A message for a user only ever reaches ``connections_of(user_id)``: this is
    the isolation boundary, so nothing else keeps its own list of sockets.
    """

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, Connection]] = {}

    def add(self, connection: Connection) -> None:
        self._by_user.setdefault(connection.user_id, {})[connection.id] = connection

    def remove(self, connection: Connection) -> None:
        connections = self._by_user.get(connection.user_id)
        if connections is None:
            return
        connections.pop(connection.id, None)
        if not connections:
            del self._by_user[connection.user_id]

    def count_for(self, user_id: str) -> int:
        return len(self._by_user.get(user_id, ()))

    def connections_of(self, user_id: str) -> list[Connection]:
        return list(self._by_user.get(user_id, {}).values())

    def __iter__(self) -> Iterator[Connection]:
        for connections in list(self._by_user.values()):
            yield from list(connections.values())

    def __len__(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def versions(self) -> Counter[str]:
        return Counter(connection.version.name for connection in self)
