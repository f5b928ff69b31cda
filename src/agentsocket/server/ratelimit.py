"""Token buckets for per-connection and per-user rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``.

    ``take()`` returns 0 when a token was taken, else the seconds until one
    will be available (the ``retry_after`` told to the client).
    """

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._stamp = self.clock()

    def take(self, now: float | None = None) -> float:
        """Take one token at ``now`` (default: the bucket's clock)."""
        if now is None:
            now = self.clock()
        tokens = self._tokens + (now - self._stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self._stamp = now
        if tokens >= 1:
            self._tokens = tokens - 1
            return 0.0
        self._tokens = tokens
        return (1 - tokens) / self.rate
