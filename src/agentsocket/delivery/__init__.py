"""Per-user message streams with sequence numbers, resume and fan-out.

Every server-to-client message of a user is published once into that user's
stream, gets the next ``seq``, and reaches each of the user's subscriptions,
on every node, exactly once and in order. A client that reconnects presents
its last ``Position`` and gets what it missed, or a ``Gap`` naming what the
log no longer holds. See ``docs/delivery.md`` for the guarantees.

``MemoryBroker`` serves one process; ``RedisBroker`` serves many gateway
nodes (importing it loads redis-py, so it is loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentsocket.delivery.broker import Broker
from agentsocket.delivery.errors import BrokerNotRunning, BrokerUnavailable, DeliveryError
from agentsocket.delivery.memory import MemoryBroker
from agentsocket.delivery.subscription import LogRead, StreamSource, Subscription
from agentsocket.delivery.types import Entry, Gap, GapReason, Item, Position

if TYPE_CHECKING:
    from agentsocket.delivery.redis import RedisBroker

__all__ = [
    "Broker",
    "BrokerNotRunning",
    "BrokerUnavailable",
    "DeliveryError",
    "Entry",
    "Gap",
    "GapReason",
    "Item",
    "LogRead",
    "MemoryBroker",
    "Position",
    "RedisBroker",
    "StreamSource",
    "Subscription",
]


def __getattr__(name: str) -> Any:
    if name == "RedisBroker":
        from agentsocket.delivery.redis import RedisBroker

        return RedisBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
