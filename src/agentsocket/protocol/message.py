"""Base classes of every message model.

A message model is the ``data`` of one message type; its class variable
``TYPE`` is the wire tag (``type`` in v2/v3, ``event`` in v1). Envelope fields
(seq, timestamp, ...) live in :mod:`agentsocket.protocol.envelope`, never in a
message, so a message can be converted and encoded without knowing who gets it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

#: Names a message field may never take: they belong to the envelope in some version.
ENVELOPE_NAMES = frozenset(
    {"type", "event", "data", "payload", "timestamp", "server_id", "correlation_id", "seq"}
)


class Message(BaseModel):
    """Common base: immutable, validated, one wire tag per class."""

    TYPE: ClassVar[str]
    model_config = ConfigDict(frozen=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clash = ENVELOPE_NAMES & set(cls.__annotations__)
        if clash:
            raise TypeError(f"{cls.__name__} uses envelope names as fields: {sorted(clash)}")


class ClientMessage(Message):
    """A message a client sends: strictly typed, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ServerMessage(Message):
    """A message the server sends.

    ``STREAM`` messages belong to the user's stream: they get a ``seq`` and are
    delivered to every connection of that user and replayed on resume. The
    others answer one connection. Clients ignore unknown fields
    (forward-compatible outbound).
    """

    STREAM: ClassVar[bool] = False
    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )
