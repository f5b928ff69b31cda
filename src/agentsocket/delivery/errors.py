"""Errors raised by the delivery brokers.

::

    DeliveryError
    ├── BrokerUnavailable   (also a ConnectionError) the backing store cannot be reached
    └── BrokerNotRunning    (also a RuntimeError)    used before start() or after close()
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class of every error raised by ``agentsocket.delivery``."""


class BrokerUnavailable(DeliveryError, ConnectionError):  # noqa: N818 - reads as a state
    """The broker's backing store (Redis) cannot be reached.

    Raised by ``start()`` when Redis does not answer, and by ``publish()``,
    ``position()`` and ``subscribe()`` while the connection is down. Open
    subscriptions do not raise it: they wait and catch up.
    """


class BrokerNotRunning(DeliveryError, RuntimeError):  # noqa: N818 - reads as a state
    """The broker was used before ``start()`` or after ``close()`` (a caller bug)."""
