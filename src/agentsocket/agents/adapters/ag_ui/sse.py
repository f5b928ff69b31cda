"""An incremental Server-Sent Events parser: bytes in, events out, no I/O.

Follows the WHATWG HTML standard's "event stream" interpretation
(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):
lines end in CRLF, LF or CR (a CRLF split across two reads is still one line
end); ``data:`` lines of one event are joined with ``\\n``; lines starting with
``:`` are comments; an empty line dispatches the event; a leading UTF-8 BOM is
dropped. Unknown fields are ignored, as the standard says.

Two caps keep a misbehaving server from filling memory: ``max_event_bytes``
bounds one event (its lines, and a line still waiting for its end), and
``max_stream_bytes`` bounds everything fed. Passing either raises
:class:`~.errors.EventTooLargeError`; bytes that are not UTF-8 raise
:class:`~.errors.UpstreamProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentsocket.agents.adapters.ag_ui.errors import EventTooLargeError, UpstreamProtocolError

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its type (``message`` unless named), data and last id."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed it the response body as it arrives; it returns each complete event.

    Args:
        max_event_bytes: most bytes one event may take on the wire.
        max_stream_bytes: most bytes the whole stream may take.
    """

    def __init__(self, *, max_event_bytes: int, max_stream_bytes: int) -> None:
        if max_event_bytes < 1 or max_stream_bytes < 1:
            raise ValueError("the SSE byte caps must be positive")
        self._max_event = max_event_bytes
        self._max_stream = max_stream_bytes
        self._pending = bytearray()  # the start of a line whose end has not come yet
        self._skip_lf = False  # the last read ended in CR: a LF right after it is the same end
        self._first_line = True
        self._fed = 0
        self._event_bytes = 0
        self._data: list[str] = []
        self._type = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Parse ``chunk``, the next bytes of the body; return the events it completed.

        Raises:
            EventTooLargeError: an event or the stream passed its cap.
            UpstreamProtocolError: a line is not UTF-8.
        """
        if not chunk:
            return []
        self._fed += len(chunk)
        if self._fed > self._max_stream:
            raise EventTooLargeError(self._max_stream, "stream")
        events: list[ServerSentEvent] = []
        start = 0
        if self._skip_lf and chunk[:1] == b"\n":
            start = 1
        self._skip_lf = False
        while True:
            cr = chunk.find(b"\r", start)
            lf = chunk.find(b"\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            self._pending += chunk[start:end]
            self._count(len(self._pending) + 1)
            line = bytes(self._pending)
            self._pending.clear()
            if chunk[end : end + 1] == b"\r":
                if end + 1 == len(chunk):
                    self._skip_lf = True
                elif chunk[end + 1 : end + 2] == b"\n":
                    end += 1
            start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._pending += chunk[start:]
        if self._event_bytes + len(self._pending) > self._max_event:
            raise EventTooLargeError(self._max_event, "event")
        return events

    @property
    def last_event_id(self) -> str | None:
        """The last ``id:`` the stream set, for reconnecting with ``Last-Event-ID``."""
        return self._last_id

    # --- internals -------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._event_bytes += size
        if self._event_bytes > self._max_event:
            raise EventTooLargeError(self._max_event, "event")

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UpstreamProtocolError(f"the event stream is not UTF-8: {exc.reason}") from exc
        if self._first_line:
            self._first_line = False
            line = line.removeprefix(_BOM)
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, often a keep-alive
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._type = value
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._event_bytes = 0
        data, self._data = self._data, []
        kind, self._type = self._type or "message", ""
        if not data:
            return None
        return ServerSentEvent("\n".join(data), kind, self._last_id, self._retry)
