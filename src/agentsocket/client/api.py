"""``connect()``: the SDK's entry point."""

from __future__ import annotations

from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any

from agentsocket.client.backoff import Backoff
from agentsocket.client.connection import Connection
from agentsocket.client.options import Options, StateChange, TicketFactory
from agentsocket.protocol import resolve


class connect:  # noqa: N801 - used like a function: ``async with connect(url) as conn``
    """Open a :class:`Connection` to ``url`` (``ws://host:port/ws``).

    Use as ``async with connect(url, token=...) as conn:`` (closed on exit),
    or ``conn = await connect(url, token=...)`` and ``await conn.close()``.

    Args:
        url: the gateway's WebSocket URL.
        token: a JWT, sent as ``Authorization: Bearer``.
        ticket_factory: instead of a token, an async callable returning a fresh
            single-use ticket; called for every connection attempt.
        version: the protocol version to speak: ``v1``, ``v2`` or ``v3``.
        reconnect: reconnect after a dropped connection or a reconnect close code.
        max_retries: failed attempts in a row before :class:`ConnectionLost`
            (the first connection gets one attempt more).
        backoff: ``(base, cap)`` seconds of the exponential backoff with full jitter.
        heartbeat: send ``ping`` every ``heartbeat_interval`` seconds (default:
            the welcome's, else 25) and drop the connection when no ``pong``
            comes within ``heartbeat_timeout``.
        request_timeout: seconds a request helper waits for its answer (wrap a call
            in ``asyncio.timeout`` for a shorter limit).
        open_timeout: seconds for one connection attempt, up to the welcome.
        on_state: called with a :class:`StateChange` on every state change.

    Raises:
        UnsupportedVersionError: ``version`` is not a protocol version.
        ValueError: both ``token`` and ``ticket_factory`` given.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ticket_factory: TicketFactory | None = None,
        version: str = "v3",
        reconnect: bool = True,
        max_retries: int = 8,
        backoff: tuple[float, float] = (0.5, 30.0),
        heartbeat: bool = True,
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float = 10.0,
        request_timeout: float = 30.0,
        open_timeout: float = 10.0,
        on_state: Callable[[StateChange], None] | None = None,
    ) -> None:
        if token is not None and ticket_factory is not None:
            raise ValueError("give a token or a ticket_factory, not both")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        options = Options(
            version=resolve(version),
            token=token,
            ticket_factory=ticket_factory,
            reconnect=reconnect,
            max_retries=max_retries,
            backoff=Backoff(*backoff),
            heartbeat=heartbeat,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            request_timeout=request_timeout,
            open_timeout=open_timeout,
            on_state=on_state,
        )
        self.connection = Connection(url, options)

    async def __aenter__(self) -> Connection:
        await self.connection.open()
        return self.connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.connection.close()

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._open().__await__()

    async def _open(self) -> Connection:
        await self.connection.open()
        return self.connection
