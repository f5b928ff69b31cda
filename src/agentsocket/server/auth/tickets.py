"""Single-use tickets: how a browser, which cannot set headers, authenticates.

The page obtains a ticket over authenticated HTTP, then opens
``/ws?ticket=...`` within ``ticket_ttl_seconds``. A ticket works once: a copy
leaked through a proxy log is worthless after the page has used it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import orjson
from redis.asyncio import Redis

from agentsocket.server.auth.errors import AuthenticationFailed, AuthFailure
from agentsocket.server.auth.principal import Principal

DEFAULT_TICKET_TTL_SECONDS = 30.0
_TICKET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class TicketStore(Protocol):
    """Issues and redeems single-use tickets."""

    async def issue(self, principal: Principal) -> str:
        """Return a new unguessable ticket that stands for ``principal``."""
        ...

    async def redeem(self, ticket: str) -> Principal:
        """Consume the ticket and return its principal.

        Raises:
            AuthenticationFailed: ``invalid_ticket`` when the ticket is unknown,
                expired or was already redeemed.
        """
        ...


def new_ticket() -> str:
    """An unguessable ticket: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _invalid() -> AuthenticationFailed:
    return AuthenticationFailed(
        AuthFailure.INVALID_TICKET, "the ticket is unknown, expired or already used"
    )


def _check_ttl(ttl_seconds: float) -> None:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")


class MemoryTicketStore:
    """Tickets held in this process: for a single gateway node and for tests.

    Args:
        ttl_seconds: Lifetime of a ticket.
        clock: Monotonic clock; tests inject their own.
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TICKET_TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_ttl(ttl_seconds)
        self._ttl = ttl_seconds
        self._clock = clock
        self._tickets: dict[str, tuple[Principal, float]] = {}

    async def issue(self, principal: Principal) -> str:
        """Return a new ticket for ``principal``, valid for ``ttl_seconds``.

        O(1) amortised: every ticket lives the same ``ttl_seconds``, so the
        dict's insertion order is expiry order and pruning stops at the first
        ticket still valid (it used to scan every ticket on every request).
        """
        now = self._clock()
        # Issuing is the only growth point, so pruning here bounds the memory.
        tickets = self._tickets
        while tickets:
            oldest = next(iter(tickets))
            if tickets[oldest][1] > now:
                break
            del tickets[oldest]
        ticket = new_ticket()
        tickets[ticket] = (principal, now + self._ttl)
        return ticket

    async def redeem(self, ticket: str) -> Principal:
        """Consume the ticket; see `TicketStore.redeem`."""
        entry = self._tickets.pop(ticket, None)
        if entry is None or entry[1] <= self._clock():
            raise _invalid()
        return entry[0]


class RedisTicketStore:
    """Tickets in Redis, so that any gateway node can redeem them exactly once.

    ``SET ... PX ... NX`` stores a ticket with its expiry, ``GETDEL`` (Redis
    6.2+) reads and deletes it in one atomic step: two nodes racing on the same
    ticket cannot both win. Keys hold a SHA-256 of the ticket, not the ticket,
    so a Redis dump yields nothing usable.

    Args:
        redis: Client; its ``decode_responses`` setting does not matter.
        prefix: Prepended to every key, e.g. ``"agentsocket:ticket:"``.
        ttl_seconds: Lifetime of a ticket.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str = "agentsocket:ticket:",
        ttl_seconds: float = DEFAULT_TICKET_TTL_SECONDS,
    ) -> None:
        _check_ttl(ttl_seconds)
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_seconds * 1000))

    async def issue(self, principal: Principal) -> str:
        """Return a new ticket for ``principal``, valid for ``ttl_seconds``."""
        value = orjson.dumps(
            {
                "user_id": principal.user_id,
                "expires_at": principal.expires_at,
                "claims": dict(principal.claims),
            }
        )
        ticket = new_ticket()
        # NX: a collision of 256-bit tickets will not happen, but must never overwrite.
        if not await self._redis.set(self._key(ticket), value, px=self._ttl_ms, nx=True):
            raise RuntimeError("ticket collision in Redis")
        return ticket

    async def redeem(self, ticket: str) -> Principal:
        """Consume the ticket; see `TicketStore.redeem`."""
        if not _TICKET_SHAPE.fullmatch(ticket):
            raise _invalid()
        value = await self._redis.getdel(self._key(ticket))
        if value is None:
            raise _invalid()
        data = orjson.loads(value)
        return Principal(
            user_id=data["user_id"], expires_at=data["expires_at"], claims=data["claims"]
        )

    def _key(self, ticket: str) -> str:
        return self._prefix + hashlib.sha256(ticket.encode()).hexdigest()
