"""The one emitter: a message goes where its class says, by ``STREAM``.

Stream messages (``type(message).STREAM``) get the next seq of the user's
stream and go to the log, so every connection of the user, on every node,
receives them and can resume them. Every other message is a reply to the one
connection that asked. Handlers call :meth:`Emitter.emit` (through their
:class:`~agentsocket.server.context.Request`) and cannot pick the wrong path.
"""

from __future__ import annotations

from collections.abc import Callable

from agentsocket.delivery import Broker
from agentsocket.protocol import ServerMessage
from agentsocket.runs.stream import stream_payload

ReplyTo = Callable[[ServerMessage, str | None], None]
"""Sends a reply to one connection: (message, correlation id)."""


class Emitter:
    """Routes outbound messages to the user's stream or to one connection."""

    def __init__(self, broker: Broker, server_id: str | None) -> None:
        self._broker = broker
        self._server_id = server_id

    async def publish(
        self, user_id: str, message: ServerMessage, correlation_id: str | None = None
    ) -> int:
        """Append a stream message to the user's stream.

        Returns:
            The message's seq.

        Raises:
            TypeError: ``message`` is not a stream message (a bug of ours).
            BrokerUnavailable: the stream cannot be reached.
        """
        if not type(message).STREAM:
            raise TypeError(f"{message.TYPE} is a reply, not a stream message")
        payload = stream_payload(message, self._server_id, correlation_id)
        entry = await self._broker.publish(user_id, payload)
        return entry.seq

    async def emit(
        self,
        message: ServerMessage,
        *,
        user_id: str,
        reply_to: ReplyTo,
        correlation_id: str | None = None,
    ) -> None:
        """Send ``message``: a stream message into the user's stream, else to ``reply_to``."""
        if type(message).STREAM:
            await self.publish(user_id, message, correlation_id)
        else:
            reply_to(message, correlation_id)
