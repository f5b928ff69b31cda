"""Connections of one user on every node, counted in Redis with leases.

Each open connection holds a member of ``{p}:conns:{user_id}``, a sorted set
scored by when its lease lapses (Redis time, ms). Taking one is one script
(lapsed members dropped, the rest counted against the limit, the new one
added), so concurrent handshakes on several nodes never exceed the limit. A
node renews the leases of its open connections every third of the TTL in one
round trip; a dead node's connections lapse after the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("agentsocket.delivery")

#: Leases renewed per script call (bounds the time Redis spends in one script).
_BATCH = 500

# KEYS: the user's set. ARGV: connection id, limit, TTL (ms). 1 if the lease is taken.
_ACQUIRE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: one user's set per lease. ARGV: TTL (ms), then the connection id of each key.
_RENEW = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', until_ms, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
"""


class ConnectionLeases:
    """This node's leases on its users' connections (see the module docstring)."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: float) -> None:
        self.redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, str] = {}  # connection id -> user id
        self._task: asyncio.Task[None] | None = None

    async def acquire(self, user_id: str, connection_id: str, limit: int) -> bool:
        """Take a lease if the user has fewer than ``limit`` on all nodes.

        Raises:
            RedisError, OSError: Redis cannot be reached.
        """
        args: list[str | int] = [connection_id, limit, self._ttl_ms]
        if not await self._acquire(keys=[self._key(user_id)], args=args):
            return False
        self._held[connection_id] = user_id
        if self._task is None:
            self._task = asyncio.create_task(self._keep(), name="agentsocket-connection-leases")
        return True

    async def release(self, user_id: str, connection_id: str) -> None:
        """Give a closed connection's lease back (it lapses anyway if Redis is away)."""
        self._held.pop(connection_id, None)
        if not self._held and self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.redis.zrem(self._key(user_id), connection_id)
        except (RedisError, OSError) as exc:
            log.warning("could not release a connection lease: %s", exc)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            held = list(self._held.items())
            try:
                for start in range(0, len(held), _BATCH):
                    batch = held[start : start + _BATCH]
                    await self._renew(
                        keys=[self._key(user) for _, user in batch],
                        args=[self._ttl_ms, *(conn for conn, _ in batch)],
                    )
            except (RedisError, OSError) as exc:
                log.warning("could not renew connection leases: %s", exc)

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}:conns:{user_id}"
