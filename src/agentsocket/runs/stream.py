"""Run events into a user's stream: the bytes published, and the sink agents emit into."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson

from agentsocket.protocol import ServerEnvelope, ServerMessage, head_frame
from agentsocket.protocol.server_messages import AgentEvent

#: ``publish(user_id, message) -> seq``: append a stream message to the user's stream.
Publish = Callable[[str, ServerMessage], Awaitable[int]]


def stream_payload(
    message: ServerMessage, server_id: str | None, correlation_id: str | None = None
) -> bytes:
    """The bytes published into a user's stream: the head frame, without its seq."""
    envelope = ServerEnvelope(message, time.time(), server_id, correlation_id)
    return orjson.dumps(head_frame(envelope))


class StreamSink:
    """An agent's event sink that appends each event to its user's stream."""

    def __init__(self, publish: Publish, user_id: str) -> None:
        self._publish = publish
        self._user_id = user_id

    async def emit(self, event: AgentEvent) -> None:
        await self._publish(self._user_id, event)
