"""What goes wrong reading an AG-UI server's stream.

::

    UpstreamProtocolError        the stream breaks SSE or AG-UI rules
    └── EventTooLargeError       one event, or the whole stream, is over its byte cap

Both are the server's mistakes, raised by the pure parts (:mod:`.sse`,
:mod:`.mapping`) and turned into ``agent_error`` codes by :mod:`.agent`.
"""

from __future__ import annotations


class UpstreamProtocolError(ValueError):
    """The AG-UI server sent malformed SSE, an invalid event, or events out of order."""


class EventTooLargeError(UpstreamProtocolError):
    """An event (or the stream in total) is larger than its cap.

    Attributes:
        limit: the cap in bytes that was passed.
        scope: ``"event"`` or ``"stream"``.
    """

    def __init__(self, limit: int, scope: str) -> None:
        what = "an event" if scope == "event" else "the stream"
        super().__init__(f"{what} is larger than {limit} bytes")
        self.limit = limit
        self.scope = scope
