"""Per-client rate limits for credential endpoints (``POST /auth/ticket``), as ASGI middleware.

Issuing a ticket verifies a JWT first, which costs CPU; without a limit one
client could make the gateway spend a core on it (issue 12 measured ~1,000
requests/s on one connection). :class:`KeyedRateLimiter` holds one token
bucket per client address, bounded in number; :class:`ThrottleMiddleware`
answers ``429 Too Many Requests`` with ``Retry-After`` past it::

    Starlette(routes=..., middleware=[Middleware(ThrottleMiddleware, paths={"/auth/ticket"})])
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

#: Default sustained rate per client, requests per second, and the burst above it.
DEFAULT_RATE = 2.0
DEFAULT_BURST = 10
#: Most clients tracked at once; the least recently seen are forgotten first.
DEFAULT_MAX_KEYS = 10_000


class KeyedRateLimiter:
    """A token bucket per key (a client address), with a bounded number of keys.

    Args:
        rate: tokens added per second.
        burst: bucket size: requests allowed at once after a quiet spell.
        max_keys: keys remembered; a forgotten key starts again with a full bucket.
        clock: monotonic clock; tests inject their own.
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        max_keys: int = DEFAULT_MAX_KEYS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be positive, burst and max_keys at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one token of ``key``'s bucket.

        Returns:
            0 when allowed, else the seconds until a token is available.
        """
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self._rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


class ThrottleMiddleware:
    """Answers 429 to a client over its rate on any of ``paths``; other paths pass untouched.

    Args:
        app: the wrapped ASGI app.
        paths: exact request paths to limit (e.g. ``{"/auth/ticket"}``).
        limiter: shared limiter; a new :class:`KeyedRateLimiter` by default.
    """

    def __init__(
        self, app: ASGIApp, paths: Iterable[str], limiter: KeyedRateLimiter | None = None
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.limiter = limiter or KeyedRateLimiter()

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            # Handed on, not awaited here: a WebSocket's life keeps no frame of this layer.
            return self.app(scope, receive, send)
        client = scope.get("client")
        wait = self.limiter.take(client[0] if client else "unknown")
        if wait <= 0:
            return self.app(scope, receive, send)
        return self._refuse(send, wait)

    async def _refuse(self, send: Send, wait: float) -> None:
        body = b'{"error":"rate_limited"}'
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(math.ceil(wait)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
