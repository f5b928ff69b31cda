"""Requests waiting for their answers, and which server message answers which. Pure.

A request is a client frame with a fresh ``correlation_id``. Its answer is
usually the reply carrying that id (``message_received``, ``thread_list``,
...); ``stop`` is answered by the run's terminal event, ``approve`` by the
tool call's next event and ``answer_question`` by the question's
``interrupt_resolved``. An ``error`` with the id refuses it.

Across a reconnect a request either is resent as is (``resend``: a
``user_message`` with its ``client_message_id``, which the server
deduplicates, and the read-only requests), or, when the server may already
have acted on it, fails as interrupted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agentsocket.client.errors import RequestError
from agentsocket.protocol import TERMINAL_EVENTS, ClientEnvelope, ServerEnvelope, ServerMessage
from agentsocket.protocol.server_messages import (
    AgentEvent,
    Error,
    InterruptResolved,
    ToolCompleted,
    ToolExecuting,
)

#: Whether a server message (with its correlation id) answers a request.
Completes = Callable[[ServerMessage, "str | None"], bool]


def reply(kind: type[ServerMessage], correlation_id: str) -> Completes:
    """Answered by a ``kind`` message carrying ``correlation_id``."""
    return lambda message, cid: cid == correlation_id and isinstance(message, kind)


def run_end(run_id: str) -> Completes:
    """Answered by the terminal event of run ``run_id``."""
    return lambda message, _: (
        isinstance(message, AgentEvent)
        and message.run_id == run_id
        and message.TYPE in TERMINAL_EVENTS
    )


def tool_decided(run_id: str, tool_call_id: str) -> Completes:
    """Answered by the next event of a tool call: it runs, or it ends denied."""
    return lambda message, _: (
        isinstance(message, ToolExecuting | ToolCompleted)
        and message.run_id == run_id
        and message.tool_call_id == tool_call_id
    )


def resolved(run_id: str, interrupt_id: str) -> Completes:
    """Answered by the ``interrupt_resolved`` of pause ``interrupt_id`` of run ``run_id``."""
    return lambda message, _: (
        isinstance(message, InterruptResolved)
        and message.run_id == run_id
        and message.interrupt_id == interrupt_id
    )


@dataclass(eq=False, slots=True)
class Pending:
    """One request in flight.

    Attributes:
        envelope: the message and its correlation id.
        frame: the encoded frame, sent again as is on a resend.
        completes: what answers it.
        resend: safe to send again after a reconnect.
        waiter: the I/O layer's handle (a future); opaque here.
        sent_on: the connection generation it was last sent on (0: never sent).
    """

    envelope: ClientEnvelope
    frame: str
    completes: Completes
    resend: bool
    waiter: Any = None
    sent_on: int = 0

    @property
    def correlation_id(self) -> str:
        assert self.envelope.correlation_id is not None
        return self.envelope.correlation_id


Outcome = tuple[Pending, ServerMessage | RequestError]


class Requests:
    """The requests in flight, in the order they were made."""

    def __init__(self) -> None:
        self._by_id: dict[str, Pending] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Pending]:
        return iter(list(self._by_id.values()))

    def add(self, pending: Pending) -> None:
        self._by_id[pending.correlation_id] = pending

    def remove(self, pending: Pending) -> None:
        self._by_id.pop(pending.correlation_id, None)

    def route(self, envelope: ServerEnvelope) -> tuple[list[Outcome], bool]:
        """The requests ``envelope`` answers, and whether it is for them only.

        Returns:
            ``(outcomes, consumed)``: each answered request with its answer (an
            ``error`` becomes a :class:`RequestError`); ``consumed`` is true for
            a correlated message outside the user's stream (a reply, or a late
            one whose caller gave up), which the application's iterator never sees.
        """
        message, cid = envelope.message, envelope.correlation_id
        outcomes: list[Outcome] = []
        refused = self._by_id.get(cid) if cid is not None and isinstance(message, Error) else None
        if refused is not None and isinstance(message, Error):
            error = RequestError(
                message.code,
                message.message,
                tuple(message.errors),
                message.retry_after,
                message.run_id,
            )
            outcomes.append((refused, error))
        else:
            outcomes.extend((p, message) for p in self._by_id.values() if p.completes(message, cid))
        return outcomes, cid is not None and envelope.seq is None

    def unsent(self, generation: int) -> list[Pending]:
        """What to send on connection ``generation``: requests never sent, and
        resendable ones not yet sent on it, in the order they were made."""
        return [
            p
            for p in self._by_id.values()
            if p.sent_on == 0 or (p.resend and p.sent_on != generation)
        ]

    def interrupted(self, generation: int) -> list[Pending]:
        """Requests sent on connection ``generation``, which dropped, that must not be resent."""
        return [p for p in self._by_id.values() if p.sent_on == generation and not p.resend]
