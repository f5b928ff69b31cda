"""The ``Broker`` protocol: one ordered, resumable stream of messages per user."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from agentsocket.delivery.subscription import LogRead, Subscription
from agentsocket.delivery.types import Entry, Position


class Broker(Protocol):
    """Publishes messages into per-user streams and delivers them to every subscriber.

    Each ``publish()`` appends to the user's log under the next ``seq`` (1, 2,
    3, ... within an epoch) and reaches every subscription of that user, on
    every node, exactly once and in order. The log keeps a bounded number of
    recent entries so a reconnecting client can resume from its last
    ``Position``. Implementations: ``MemoryBroker`` (one process) and
    ``RedisBroker`` (many gateway nodes). Use ``async with broker:`` or call
    ``start()`` and ``close()``.
    """

    @property
    def healthy(self) -> bool:
        """True while the broker can publish and deliver (for readiness probes)."""
        ...

    async def start(self) -> None:
        """Connect; raises ``BrokerUnavailable`` when the backing store is unreachable."""
        ...

    async def close(self) -> None:
        """End every subscription and release connections. Idempotent."""
        ...

    async def publish(self, user_id: str, payload: bytes) -> Entry:
        """Append ``payload`` to the user's stream under the next seq and fan it out.

        Raises:
            BrokerUnavailable: the log cannot be reached; the entry may or may
                not have been appended if the connection broke mid-call.
        """
        ...

    async def position(self, user_id: str) -> Position:
        """The stream's epoch and newest seq (0 for a new stream)."""
        ...

    async def read(self, user_id: str, after_seq: int, limit: int) -> LogRead:
        """One atomic read of the log: the epoch, the newest seq and up to ``limit``
        retained entries with ``seq > after_seq``, oldest first.

        Raises:
            BrokerUnavailable: the log cannot be reached.
        """
        ...

    async def subscribe(self, user_id: str, resume_from: Position | None = None) -> Subscription:
        """Start delivering the user's stream.

        With ``resume_from=None``: entries published after this call. With a
        position: first every retained entry after it (a ``Gap`` for what the
        log no longer holds, or ``Gap(reason="epoch_changed")`` when the
        position belongs to another history), then live entries.
        """
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
