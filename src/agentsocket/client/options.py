"""What a connection is configured with, and the states it reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from agentsocket.client.backoff import Backoff
from agentsocket.protocol import Version

#: An async callable returning a fresh single-use ticket (``POST /auth/ticket``).
TicketFactory = Callable[[], Awaitable[str]]

#: Seconds between heartbeats when the welcome does not say (v1, v2).
DEFAULT_HEARTBEAT_INTERVAL = 25.0


class State(StrEnum):
    """Where a :class:`Connection` is in its life."""

    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StateChange:
    """What ``on_state`` is called with.

    Attributes:
        state: the new state.
        attempt: for ``RECONNECTING``, the attempt about to be made (1-based).
        delay: for ``RECONNECTING``, seconds until that attempt.
        error: for ``RECONNECTING``, why the last attempt or connection failed;
            for ``CLOSED``, the error that ended the connection, if any.
    """

    state: State
    attempt: int = 0
    delay: float | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Options:
    """Everything :func:`connect` accepts besides the URL; see there."""

    version: Version
    token: str | None = None
    ticket_factory: TicketFactory | None = None
    reconnect: bool = True
    max_retries: int = 8
    backoff: Backoff = Backoff()  # noqa: RUF009 - frozen, shared safely
    heartbeat: bool = True
    heartbeat_interval: float | None = None
    heartbeat_timeout: float = 10.0
    request_timeout: float = 30.0
    open_timeout: float = 10.0
    on_state: Callable[[StateChange], None] | None = None
