"""Following a thread's runs in flight from its history answer. Pure.

``thread_history`` (v3, first page) carries the thread's runs in flight so far
(``events``) and the stream seq it is cut at (``stream_seq``). A client shows
the page, then those events, then only the runs' stream messages past the cut:
every event once, whenever it opened the thread (docs/delivery.md,
"Rejoining a run"). :class:`RunFollower` keeps that bookkeeping; the
connection feeds it (``Connection.follow``).
"""

from __future__ import annotations

import orjson

from agentsocket.protocol import ProtocolError, ServerEnvelope, ServerMessage, decode_server
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.server_messages import TERMINAL_EVENTS
from agentsocket.protocol.versions import Version


class RunFollower:
    """The runs in flight of one ``thread_history`` answer, followed to their ends.

    Args:
        history: the first page of the thread's history.
        version: the protocol version the connection speaks (the frames' shape).
    """

    def __init__(self, history: s.ThreadHistory, version: Version | str) -> None:
        self.cut = history.stream_seq
        self._family: set[str] = set()
        self._open: set[str] = set()
        #: The answer's events, decoded, oldest first.
        self.snapshot: list[ServerMessage] = []
        for frame in history.events:
            decoded = decode_server(orjson.dumps(frame.model_dump()), version)
            if isinstance(decoded, ProtocolError):
                continue  # a type this client does not know: skipped, as live
            self.snapshot.append(decoded.message)
            self.track(decoded.message)

    @property
    def done(self) -> bool:
        """Every run the answer had in flight has ended."""
        return not self._open

    def track(self, message: ServerMessage) -> None:
        """Note a message of the followed runs (new sub-runs, terminal events)."""
        if isinstance(message, s.UserMessageAccepted):
            self._family.add(message.run_id)
            self._open.add(message.run_id)
        elif isinstance(message, s.AgentEvent):
            if message.parent_run_id is None:
                self._open.add(message.run_id)
            self._family.add(message.run_id)
            if message.parent_run_id is None and message.TYPE in TERMINAL_EVENTS:
                self._open.discard(message.run_id)

    def concerns(self, envelope: ServerEnvelope) -> bool:
        """The envelope is a stream message of a followed run (or a ``stream_gap``)."""
        message = envelope.message
        if isinstance(message, s.StreamGap):
            return True
        if envelope.seq is None or not isinstance(message, s.AgentEvent | s.UserMessageAccepted):
            return False
        parent = message.parent_run_id if isinstance(message, s.AgentEvent) else None
        return message.run_id in self._family or parent in self._family

    def fresh(self, envelope: ServerEnvelope) -> bool:
        """Past the cut: not in the answer's events already."""
        return self.cut is None or envelope.seq is None or envelope.seq > self.cut
