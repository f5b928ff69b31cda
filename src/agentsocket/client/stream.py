"""Where the client stands in the user's stream: resume point and duplicate filter. Pure.

Every stream message carries ``seq``, increasing within an ``epoch``. The
cursor remembers the last one the application was given; after a reconnect it
names that position in the handshake, and it drops anything at or before it,
so the application never sees a message twice. A ``stream_gap`` moves the
cursor to where the server goes on (a new epoch starts again from its seq).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentsocket.protocol import ServerEnvelope
from agentsocket.protocol.server_messages import ConnectionEstablished, StreamGap


@dataclass(slots=True)
class StreamCursor:
    """The last stream position handed to the application.

    Attributes:
        epoch: the stream's epoch; only v3 welcomes and ``stream_gap`` messages name it.
        last_seq: the last ``seq`` delivered; ``None`` until one is known (a v1
            or v2 client learns it from the first stream message).
    """

    epoch: str | None = None
    last_seq: int | None = None

    def welcome(self, welcome: ConnectionEstablished) -> None:
        """Adopt the welcome's stream position, unless one is known already.

        On a reconnect the welcome gives the stream's newest seq, not what this
        client saw: keeping the older position is what makes the resume whole.
        """
        if self.last_seq is None and welcome.stream is not None:
            self.epoch = welcome.stream.epoch
            self.last_seq = welcome.stream.seq

    def accept(self, envelope: ServerEnvelope) -> bool:
        """Whether to deliver ``envelope``; advances the cursor past it.

        Returns:
            False for a stream message at or before the cursor (a duplicate).
        """
        message = envelope.message
        if isinstance(message, StreamGap):
            self.epoch = message.epoch
            self.last_seq = message.to_seq
            return True
        seq = envelope.seq
        if seq is None:
            return True
        if self.last_seq is not None and seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True

    def resume_query(self) -> dict[str, str]:
        """Handshake query parameters that resume after the cursor (empty if unknown)."""
        if self.last_seq is None:
            return {}
        query = {"last_seq": str(self.last_seq)}
        if self.epoch is not None:
            query["epoch"] = self.epoch
        return query
