"""What a request handler gets: who asked, and how to answer.

A handler never sees the connection, the session or the router. It reads
``request.user_id`` and ``request.correlation_id``, answers with
``await request.send(message)`` (the emitter routes it by ``STREAM``) or
``request.error(code, text)``, and logs with ``request.log`` (which carries
the connection and correlation ids).
"""

from __future__ import annotations

from collections.abc import Callable

from agentsocket.protocol import ErrorCode, ProtocolError, ServerMessage
from agentsocket.server.emitter import Emitter, ReplyTo
from agentsocket.server.logs import ContextLogger


class Request:
    """One client request being handled."""

    __slots__ = (
        "_emitter",
        "_error",
        "_reply",
        "connection_id",
        "correlation_id",
        "log",
        "user_id",
    )

    def __init__(
        self,
        *,
        user_id: str,
        connection_id: str,
        correlation_id: str | None,
        emitter: Emitter,
        reply: ReplyTo,
        error: Callable[[ProtocolError, float | None], None],
        log: ContextLogger,
    ) -> None:
        self.user_id = user_id
        self.connection_id = connection_id
        self.correlation_id = correlation_id
        self.log = log
        self._emitter = emitter
        self._reply = reply
        self._error = error

    async def send(self, message: ServerMessage) -> None:
        """Answer with ``message``: a stream message goes to every connection of the user."""
        await self._emitter.emit(
            message, user_id=self.user_id, reply_to=self._reply, correlation_id=self.correlation_id
        )

    def error(self, code: ErrorCode, text: str, retry_after: float | None = None) -> None:
        """Answer with a typed ``error`` carrying this request's correlation id."""
        self._error(ProtocolError(code, text, (), self.correlation_id), retry_after)
