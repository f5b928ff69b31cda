"""AG-UI runs over HTTP: a ``RunAgentInput`` in, an SSE stream or a typed refusal out.

A request starts a run of the caller's agent and streams its AG-UI events
(:class:`~agentsocket.protocol.ag_ui.RunConverter`) as ``text/event-stream``
until ``RUN_FINISHED`` / ``RUN_ERROR``. The events come from the user's stream
(the same log every WebSocket connection of the user reads), so each SSE event
carries an ``id:`` naming its place there::

    id: <run id>/<epoch>:<start seq>:<seq>.<index>

``start seq`` is where the run's replay begins, ``seq`` the stream entry the
event came from and ``index`` its place among that entry's events. A client
that reconnects with ``Last-Event-ID`` (same body) gets exactly the events
after it, on any node sharing the log, or a ``CUSTOM`` ``agentsocket.stream_gap``
event where the log no longer holds them. Closing the request does not cancel
the run; ``stop_agent`` over the WebSocket does. ``docs/ag-ui.md`` has the whole
contract; refusals are JSON ``{"error": code, "message": text, "errors": [...]}``.
"""

from __future__ import annotations

import logging

from ag_ui.core import RunAgentInput
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from agentsocket.delivery import BrokerUnavailable, Position, Subscription
from agentsocket.protocol import ErrorCode, ProtocolError, ServerMessage
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import RunConverter
from agentsocket.protocol.ag_ui_input import (
    Answer,
    AnswerInterrupts,
    InputRefused,
    QuestionReply,
    StartRun,
    parse_input,
    payload_issues,
    read_input,
    user_message,
)
from agentsocket.runs.interrupts import AnswerRefused
from agentsocket.server.ag_ui_stream import EventId, sse_response
from agentsocket.server.auth import AuthenticationFailed
from agentsocket.server.context import Request as HandlerRequest
from agentsocket.server.gateway import Gateway
from agentsocket.server.logs import ContextLogger
from agentsocket.store import NotFound

log = logging.getLogger("agentsocket.ag_ui")

_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.TOO_MANY_RUNS: 429,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
}


class RefusalError(Exception):
    """A request the endpoint refuses: an HTTP status and a typed JSON body."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def response(self) -> Response:
        body = {"error": self.code, "message": self.message, "errors": self.errors}
        return JSONResponse(body, status_code=self.status)


async def serve(request: Request, gateway: Gateway) -> Response:
    """Answer one ``POST`` of a ``RunAgentInput``: an SSE stream, or a typed JSON refusal."""
    try:
        return await _serve(request, gateway)
    except RefusalError as refused:
        return refused.response()


async def _serve(request: Request, gateway: Gateway) -> Response:
    user_id = await _authenticate(request, gateway)
    body = await _read_input(request, gateway.settings.ag_ui_max_body)
    last = request.headers.get("last-event-id")
    if last:
        event_id = EventId.parse(last)
        if event_id is None:
            raise RefusalError(
                400, "invalid_last_event_id", "Last-Event-ID is not an event id of ours"
            )
        return await _resume(gateway, user_id, body, event_id)
    try:
        wanted = read_input(body)
    except InputRefused as refused:
        raise _refusal(refused) from None
    if isinstance(wanted, AnswerInterrupts):
        return await _answer_interrupts(gateway, user_id, wanted)
    return await _start(gateway, user_id, wanted)


# --- the request --------------------------------------------------------------------


async def _authenticate(request: Request, gateway: Gateway) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RefusalError(401, "missing_token", "send Authorization: Bearer <token>")
    try:
        principal = await gateway.verifier.verify(token.strip())
    except AuthenticationFailed as failed:
        raise RefusalError(401, failed.failure.value, "the token was refused") from None
    return principal.user_id


async def _read_input(request: Request, limit: int) -> RunAgentInput:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RefusalError(413, ErrorCode.TOO_LARGE, f"the body is over {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RefusalError(413, ErrorCode.TOO_LARGE, f"the body is over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise RefusalError(400, "client_disconnected", "the body was cut off") from None
    try:
        return parse_input(b"".join(chunks))
    except InputRefused as refused:
        raise _refusal(refused) from None


def _refusal(refused: InputRefused) -> RefusalError:
    """An input refusal as HTTP: 422 (``validation_failed``, ``unknown_tool``)."""
    errors = [{"path": path, "reason": reason} for path, reason in refused.issues]
    return RefusalError(422, refused.code, refused.message, errors)


# --- the three ways in ------------------------------------------------------------------


async def _start(gateway: Gateway, user_id: str, start_run: StartRun) -> Response:
    """Start a run for the body's prompt and stream it from the entry after now."""
    thread_id = await _thread(gateway, user_id, start_run.thread_id)
    try:
        message = user_message(start_run, thread_id)
    except InputRefused as refused:
        raise _refusal(refused) from None
    subscription = await _subscribe(gateway, user_id, None)
    start = subscription.position
    try:
        received = await _submit(gateway, user_id, message)
    except BaseException:
        await subscription.close()
        raise
    if received.duplicate:
        await subscription.close()
        raise RefusalError(
            409,
            ErrorCode.CONFLICT,
            f"run {start_run.run_id!r} was already started; reconnect with Last-Event-ID",
        )
    converter = RunConverter(received.run_id, agui_run_id=start_run.run_id)
    skip = EventId.before(received.run_id, start.epoch, start.seq)
    return sse_response(subscription, converter, skip)


async def _resume(gateway: Gateway, user_id: str, body: RunAgentInput, last: EventId) -> Response:
    """Replay the run from its start, sending only the events after ``last``."""
    try:
        await gateway.store.get_run(user_id, last.run_id)
    except NotFound:
        # Another user's run id reads exactly like one that does not exist.
        raise RefusalError(404, ErrorCode.NOT_FOUND, "no such run") from None
    current = await _position(gateway, user_id)
    if current.epoch != last.epoch or current.seq < last.seq:
        raise RefusalError(
            410, "stream_lost", "the stream this event id belongs to is gone; start a new run"
        )
    subscription = await _subscribe(gateway, user_id, Position(last.epoch, last.start))
    return sse_response(subscription, RunConverter(last.run_id, agui_run_id=body.run_id), last)


async def _answer_interrupts(gateway: Gateway, user_id: str, request: AnswerInterrupts) -> Response:
    """Answer approval and question interrupts; stream the run's continuation as the body's run."""
    run_id = request.root_run_id
    subscription = await _subscribe(gateway, user_id, None)
    start = subscription.position
    try:
        for answer in request.answers:
            await _answer(gateway, user_id, answer)
    except BaseException:
        await subscription.close()
        raise
    converter = RunConverter(run_id, agui_run_id=request.run_id)
    return sse_response(subscription, converter, EventId.before(run_id, start.epoch, start.seq))


async def _answer(gateway: Gateway, user_id: str, answer: Answer | QuestionReply) -> None:
    """One resume entry, answered as a WebSocket ``tool_approval`` / ``question_answer`` is.

    Raises:
        RefusalError: 404 ``not_found``, 409 ``conflict`` (answered already or
            expired), 422 ``validation_failed`` (the answer fails the question's
            schema: ``errors`` name ``$.resume[<i>].payload...``).
    """
    try:
        if isinstance(answer, Answer):
            pause = answer.tool_call_id
            await gateway.runs.interrupts.answer(
                user_id,
                "ag-ui-http",
                answer.run_id,
                pause,
                "approval",
                approved=answer.approved,
                reason=answer.reason,
            )
        else:
            pause = answer.question_id
            # The bounds a WebSocket question_answer has (how deep an answer may nest).
            reply = _question_answer(answer)
            await gateway.runs.interrupts.answer(
                user_id, "ag-ui-http", reply.run_id, pause, "question", answer=reply.answer
            )
    except AnswerRefused as exc:
        status = {ErrorCode.NOT_FOUND: 404, ErrorCode.VALIDATION_FAILED: 422}.get(exc.code, 409)
        issues = []
        if isinstance(answer, QuestionReply):  # "answer.rating" is the entry's "payload.rating"
            found = payload_issues(answer, exc.issues)
            issues = [{"path": path, "reason": reason} for path, reason in found]
        message = f"{exc.message}: {answer.run_id}:{pause}"
        raise RefusalError(status, exc.code, message, issues) from None


def _question_answer(reply: QuestionReply) -> c.QuestionAnswer:
    try:
        return c.QuestionAnswer(
            run_id=reply.run_id, question_id=reply.question_id, answer=reply.answer
        )
    except ValidationError as exc:
        at = f"$.resume[{reply.index}].payload"
        issues = [{"path": at, "reason": str(e["msg"])} for e in exc.errors(include_url=False)]
        raise RefusalError(
            422, ErrorCode.VALIDATION_FAILED, "cannot take this answer", issues
        ) from None


async def _thread(gateway: Gateway, user_id: str, thread_id: str) -> str | None:
    """The user's thread ``thread_id``, or None (a new thread) when it is not theirs."""
    try:
        await gateway.store.get_thread(user_id, thread_id)
    except NotFound:
        return None
    return thread_id


async def _submit(gateway: Gateway, user_id: str, message: c.UserMessage) -> s.MessageReceived:
    """Hand ``message`` to the run service as a WebSocket request would."""
    replies: list[ServerMessage] = []
    refused: list[ProtocolError] = []
    handler = HandlerRequest(
        user_id=user_id,
        connection_id="ag-ui-http",
        correlation_id=None,
        data_path="$",
        emitter=gateway.emitter,
        reply=lambda reply, _: replies.append(reply),
        error=lambda error, _: refused.append(error),
        log=ContextLogger(log, {"user_id": user_id, "transport": "ag-ui-http"}),
    )
    try:
        await gateway.runs.submit(handler, message)
    except NotFound:
        raise RefusalError(404, ErrorCode.NOT_FOUND, "no such thread") from None
    except BrokerUnavailable:
        raise RefusalError(503, ErrorCode.UNAVAILABLE, "the stream is unavailable") from None
    if refused:
        error = refused[0]
        issues = [{"path": i.path, "reason": i.reason} for i in error.issues]
        raise RefusalError(_STATUS.get(error.code, 400), error.code, error.message, issues)
    received = next((r for r in replies if isinstance(r, s.MessageReceived)), None)
    if received is None:  # submit() always answers one way or the other
        raise RefusalError(500, ErrorCode.INTERNAL, "the run was not acknowledged")
    return received


async def _position(gateway: Gateway, user_id: str) -> Position:
    try:
        return await gateway.broker.position(user_id)
    except BrokerUnavailable:
        raise RefusalError(503, ErrorCode.UNAVAILABLE, "the stream is unavailable") from None


async def _subscribe(gateway: Gateway, user_id: str, start: Position | None) -> Subscription:
    try:
        return await gateway.broker.subscribe(user_id, resume_from=start)
    except BrokerUnavailable:
        raise RefusalError(503, ErrorCode.UNAVAILABLE, "the stream is unavailable") from None


__all__ = ["RefusalError", "serve"]
