"""Reconnect delays: exponential backoff with full jitter. Pure.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads
the reconnects of many clients dropped at once, e.g. by a restarting node,
instead of bringing them back in synchronised waves.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays before reconnect attempts.

    Args:
        base: the ceiling of the first delay, in seconds.
        cap: the largest ceiling, in seconds.
        uniform: draws a float in [a, b]; ``random.uniform`` unless a test fixes it.
    """

    base: float = 0.5
    cap: float = 30.0
    uniform: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < self.base:
            raise ValueError(f"need 0 <= base <= cap, got base={self.base}, cap={self.cap}")

    def ceiling(self, attempt: int) -> float:
        """The most attempt ``attempt`` (0-based) may wait: ``min(cap, base * 2**attempt)``."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        # 2**attempt overflows float for huge attempts; the cap is reached long before.
        return self.cap if attempt >= 64 else min(self.cap, self.base * 2**attempt)

    def delay(self, attempt: int, floor: float = 0.0) -> float:
        """Seconds to wait before attempt ``attempt`` (0-based), at least ``floor``.

        ``floor`` is the server's ``reconnect_after`` from a ``server_shutdown``.
        """
        return max(floor, self.uniform(0.0, self.ceiling(attempt)))
