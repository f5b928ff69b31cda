"""The AG-UI dialect on ``/ws`` (``agentsocket.ag-ui``): frames in, AG-UI events out.

A connection of the dialect has an :class:`AgUiConnection`. Outbound, the
user's stream reaches it like any connection (decoded once per entry and node
by the user's ``FrameEncoder``) and its
:class:`~agentsocket.protocol.ag_ui_dialect.StreamConverter` turns each entry
into AG-UI events; direct replies become ``CUSTOM`` ``agentsocket.<type>``
events. Inbound, :func:`receive` reads a frame with the pure
:func:`~agentsocket.protocol.ag_ui_input.read_frame` (the same reading as
``POST /ag-ui``) and hands our requests to the router, as a v3 frame would be;
a question's answer goes to the interrupts service here, so a refusal names the
field where the client put it (``$.resume[0].payload.rating``), as over HTTP.
``docs/ag-ui.md`` has the contract.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from agentsocket.protocol import ErrorCode, ServerMessage
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import encode_event
from agentsocket.protocol.ag_ui_dialect import StreamConverter, custom, error_event
from agentsocket.protocol.ag_ui_input import (
    Answer,
    AnswerInterrupts,
    InputRefused,
    QuestionReply,
    StartRun,
    StopRun,
    payload_issues,
    read_frame,
    user_message,
)
from agentsocket.protocol.message import ClientMessage
from agentsocket.runs.interrupts import AnswerRefused
from agentsocket.server.connection import Connection
from agentsocket.server.context import Request
from agentsocket.server.core import Close, Reply
from agentsocket.server.gateway import Gateway
from agentsocket.server.router import dispatch
from agentsocket.store import NotFound, is_unavailable


class AgUiConnection:
    """One AG-UI connection's conversion state: which runs it follows, and where."""

    def __init__(self) -> None:
        self.stream = StreamConverter()

    def reply(self, message: ServerMessage) -> str:
        """A direct reply (welcome, ``message_received``, ``error``, ...) as ``CUSTOM``."""
        return encode_event(custom(message))

    def entry(self, message: ServerMessage | None, epoch: str, seq: int) -> list[str]:
        """Stream entry ``seq`` as AG-UI event texts (none for an unknown message type)."""
        if message is None:
            return []
        return [encode_event(event) for event in self.stream.entry(message, epoch, seq)]


MakeRequest = Callable[[Callable[[ServerMessage, str | None], None]], Request]


async def receive(
    gateway: Gateway,
    connection: Connection,
    frame: str | bytes,
    make_request: MakeRequest,
) -> None:
    """Read and carry out one client frame of the AG-UI dialect.

    ``make_request(reply)`` gives the handler request, answering through ``reply``.
    Refused frames are answered with ``CUSTOM`` ``agentsocket.error`` and count
    towards the abuse close, like refused frames of the other versions.
    """
    agui, core = connection.agui, connection.core
    assert isinstance(agui, AgUiConnection)
    admitted = core.admit()
    if admitted is not None:
        for action in admitted:
            if isinstance(action, Reply):
                metrics = gateway.metrics
                metrics.child(metrics.errors, ErrorCode.RATE_LIMITED.value).inc()
                connection.reply(action.message, action.correlation_id)
            elif isinstance(action, Close):
                connection.start_close(action)
        return
    try:
        wanted = read_frame(frame, gateway.settings.max_frame_size)
        messages = _messages(wanted)
    except InputRefused as refused:
        _refuse(gateway, connection, refused)
        return
    core.accepted()
    if isinstance(wanted, StartRun):
        await _start(gateway, connection, wanted, make_request)
        return
    if isinstance(wanted, AnswerInterrupts):
        # The continuation is the AG-UI run this input names, as over HTTP.
        agui.stream.name_run(wanted.root_run_id, wanted.run_id)
    request = make_request(connection.reply)
    # One message per resume entry, in order; the rest (a stop) has no entries.
    entries = wanted.answers if isinstance(wanted, AnswerInterrupts) else [None] * len(messages)
    for message, entry in zip(messages, entries, strict=True):
        if isinstance(message, c.QuestionAnswer) and isinstance(entry, QuestionReply):
            await _answer(gateway, connection, message, entry)
        else:
            await dispatch(gateway, request, message)


async def _answer(
    gateway: Gateway, connection: Connection, message: c.QuestionAnswer, entry: QuestionReply
) -> None:
    """Answer a question; a refusal is ``CUSTOM`` ``agentsocket.error`` naming the payload."""
    try:
        await gateway.runs.interrupts.answer(
            connection.user_id,
            connection.id,
            message.run_id,
            message.question_id,
            "question",
            answer=message.answer,
        )
    except AnswerRefused as exc:
        refused = InputRefused(exc.code.value, exc.message, payload_issues(entry, exc.issues))
        _refuse(gateway, connection, refused, counts=False)


def _messages(wanted: StartRun | AnswerInterrupts | StopRun) -> list[ClientMessage]:
    """Our client messages for a stop or interrupt answers (a start needs its thread first)."""
    try:
        if isinstance(wanted, StopRun):
            return [c.StopAgent(run_id=wanted.run_id)]
        if isinstance(wanted, AnswerInterrupts):
            return [
                c.ToolApproval(
                    run_id=a.run_id,
                    tool_call_id=a.tool_call_id,
                    approved=a.approved,
                    reason=a.reason,
                )
                if isinstance(a, Answer)
                else c.QuestionAnswer(run_id=a.run_id, question_id=a.question_id, answer=a.answer)
                for a in wanted.answers
            ]
    except ValidationError as exc:
        issues = [("$", str(e["msg"])) for e in exc.errors(include_url=False)]
        raise InputRefused("validation_failed", "cannot carry out this input", issues) from None
    return []


async def _start(
    gateway: Gateway, connection: Connection, wanted: StartRun, make_request: MakeRequest
) -> None:
    agui = connection.agui
    assert isinstance(agui, AgUiConnection)
    if agui.stream.busy:
        refused = InputRefused(
            ErrorCode.CONFLICT.value,
            "a run is open on this connection; wait for its end or stop it",
        )
        _refuse(gateway, connection, refused, counts=False)
        return
    try:
        thread_id = await _thread(gateway, connection.user_id, wanted.thread_id)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        unavailable = InputRefused(ErrorCode.UNAVAILABLE.value, "the store is unavailable")
        _refuse(gateway, connection, unavailable, counts=False, retry_after=1.0)
        return
    try:
        message = user_message(wanted, thread_id)
    except InputRefused as refused:
        _refuse(gateway, connection, refused, counts=False)
        return

    def reply(answer: ServerMessage, correlation_id: str | None) -> None:
        if isinstance(answer, s.MessageReceived) and not answer.duplicate:
            # Before the run's first event reaches us: submit() answers, then launches.
            agui.stream.name_run(answer.run_id, wanted.run_id)
        connection.reply(answer, correlation_id)

    await dispatch(gateway, make_request(reply), message)


async def _thread(gateway: Gateway, user_id: str, thread_id: str) -> str | None:
    """The user's thread ``thread_id``, or None (a new thread) when it is not theirs."""
    try:
        await gateway.store.get_thread(user_id, thread_id)
    except NotFound:
        return None
    return thread_id


def _refuse(
    gateway: Gateway,
    connection: Connection,
    refused: InputRefused,
    *,
    counts: bool = True,
    retry_after: float | None = None,
) -> None:
    """Answer a refused frame with ``CUSTOM`` ``agentsocket.error`` (counted like ``error``).

    ``counts``: the frame itself was bad, so it counts towards the abuse close.
    """
    metrics = gateway.metrics
    metrics.child(metrics.errors, refused.code).inc()
    event = error_event(refused.code, refused.message, refused.issues, retry_after)
    connection.push(encode_event(event))
    if counts:
        close = connection.core.refused()
        if close is not None:
            connection.start_close(close)
