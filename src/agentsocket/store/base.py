"""What the query mixins share: the engine, its transactions, the clock, and id minting."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from agentsocket.store.transactions import Transactions

Clock = Callable[[], float]
"""Returns the current time in epoch seconds, like :func:`time.time`."""


class StoreBase:
    """Holds the engine and clock; :class:`~agentsocket.store.Store` adds the queries."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._transactions = Transactions(engine)


def new_id(prefix: str) -> str:
    """Return ``prefix`` followed by 32 random hex digits, e.g. ``thr_3f2a…``."""
    return prefix + uuid.uuid4().hex
