"""What a request handler gets: who asked, and how to answer.

A handler never sees the connection, the session or the router. It reads
``request.user_id`` and ``request.correlation_id``, answers with
``await request.send(message)`` (the emitter routes it by ``STREAM``) or
``request.error(code, text)``, and logs with ``request.log`` (which carries
the connection and correlation ids).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agentsocket.protocol import ErrorCode, FieldIssue, ProtocolError, ServerMessage
from agentsocket.server.emitter import Emitter, ReplyTo
from agentsocket.server.logs import ContextLogger


class Request:
    """One client request being handled.

    ``log`` may be a plain logger: the connection and correlation ids are added
    when the request first logs (most never do, so most never build the adapter).
    """

    __slots__ = (
        "_emitter",
        "_error",
        "_log",
        "_reply",
        "answerable",
        "connection_id",
        "correlation_id",
        "data_path",
        "user_id",
    )

    def __init__(
        self,
        *,
        user_id: str,
        connection_id: str,
        correlation_id: str | None,
        data_path: str,
        emitter: Emitter,
        reply: ReplyTo,
        error: Callable[[ProtocolError, float | None], None],
        log: ContextLogger | logging.Logger,
        answerable: bool = True,
    ) -> None:
        self.user_id = user_id
        #: Whether the client can answer approvals and questions (v1 and v2 cannot).
        self.answerable = answerable
        self.connection_id = connection_id
        self.correlation_id = correlation_id
        #: Where the message's fields sit in this connection's version (``$.data``
        #: or ``$``), for field paths in errors.
        self.data_path = data_path
        self._log = log
        self._emitter = emitter
        self._reply = reply
        self._error = error

    @property
    def log(self) -> ContextLogger:
        """This request's logger: it carries the connection and correlation ids."""
        log = self._log
        if not isinstance(log, ContextLogger):
            context = {"connection_id": self.connection_id, "correlation_id": self.correlation_id}
            log = self._log = ContextLogger(log, context)
        return log

    async def send(self, message: ServerMessage) -> None:
        """Answer with ``message``: a stream message goes to every connection of the user."""
        await self._emitter.emit(
            message, user_id=self.user_id, reply_to=self._reply, correlation_id=self.correlation_id
        )

    def error(
        self,
        code: ErrorCode,
        text: str,
        retry_after: float | None = None,
        *,
        issues: tuple[FieldIssue, ...] = (),
        run_id: str | None = None,
    ) -> None:
        """Answer with a typed ``error`` carrying this request's correlation id.

        Args:
            issues: the fields at fault, with paths under :attr:`data_path`.
            run_id: the run the refusal is about.
        """
        error = ProtocolError(code, text, issues, self.correlation_id, run_id=run_id)
        self._error(error, retry_after)
