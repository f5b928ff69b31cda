"""Envelopes: what travels around a message.

A :class:`ServerEnvelope` is built once per outbound message; the codec turns
it into bytes once per protocol version. A :class:`ClientEnvelope` is what
the codec returns for an inbound frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentsocket.protocol.message import ClientMessage, ServerMessage


@dataclass(frozen=True, slots=True)
class ServerEnvelope:
    """A server message with the fields every outbound frame carries.

    Attributes:
        message: the typed payload (``data`` on the wire).
        timestamp: Unix time in seconds when the server produced it.
        server_id: the node that produced it, when known.
        correlation_id: the client's correlation id this message answers.
        seq: position in the user's stream; only for stream messages.
    """

    message: ServerMessage
    timestamp: float
    server_id: str | None = None
    correlation_id: str | None = None
    seq: int | None = None

    @property
    def type(self) -> str:
        return self.message.TYPE

    def with_seq(self, seq: int) -> ServerEnvelope:
        """Return a copy placed at ``seq`` in the user's stream."""
        return replace(self, seq=seq)


@dataclass(frozen=True, slots=True)
class ClientEnvelope:
    """A decoded client message and the correlation id to echo in replies."""

    message: ClientMessage
    correlation_id: str | None = None

    @property
    def type(self) -> str:
        return self.message.TYPE
