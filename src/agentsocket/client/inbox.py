"""The messages waiting for the application, read in order or selectively.

Everything that is not the answer to a request lands here, in arrival order.
``take()`` removes the oldest message; ``take(match)`` removes the oldest one
that matches and leaves the others in place, so ``events(run_id)`` can follow
one run while the general iterator still gets everything else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from agentsocket.protocol import ServerEnvelope

Match = Callable[[ServerEnvelope], bool]


def _anything(_: ServerEnvelope) -> bool:
    return True


class Inbox:
    """An unbounded mailbox of server envelopes with selective receive."""

    def __init__(self) -> None:
        self._items: deque[ServerEnvelope] = deque()
        self._arrived = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, envelope: ServerEnvelope) -> None:
        """Append a message; ignored once the inbox has ended."""
        if not self._ended:
            self._items.append(envelope)
            self._arrived.set()

    def end(self, error: BaseException | None = None) -> None:
        """No more messages will come: readers get the buffered ones, then ``error`` or the end."""
        if not self._ended:
            self._ended = True
            self._error = error
            self._arrived.set()

    async def take(self, match: Match = _anything) -> ServerEnvelope | None:
        """Remove and return the oldest message that ``match`` accepts.

        Returns:
            ``None`` once the inbox has ended normally and nothing buffered matches.

        Raises:
            BaseException: the error the inbox ended with, after the buffered matches.
        """
        while True:
            # No await between the scan and clear(): a put cannot slip in unseen.
            for index, envelope in enumerate(self._items):
                if match(envelope):
                    del self._items[index]
                    return envelope
            if self._ended:
                if self._error is not None:
                    raise self._error
                return None
            self._arrived.clear()
            await self._arrived.wait()
