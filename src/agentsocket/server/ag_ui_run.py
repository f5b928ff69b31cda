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

import hashlib
import logging

from ag_ui.core import RunAgentInput, TextInputContent, UserMessage
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from agentsocket.delivery import BrokerUnavailable, Position, Subscription
from agentsocket.protocol import ErrorCode, ProtocolError, ServerMessage
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import RunConverter, parse_interrupt_id
from agentsocket.server.ag_ui_stream import EventId, sse_response
from agentsocket.server.auth import AuthenticationFailed
from agentsocket.server.context import Request as HandlerRequest
from agentsocket.server.gateway import Gateway
from agentsocket.server.logs import ContextLogger
from agentsocket.store import NotFound

log = logging.getLogger("agentsocket.ag_ui")

#: Where a field of the ``user_message`` built from a RunAgentInput came from.
_SOURCE = {
    "content": "$.messages",
    "agent": "$.forwardedProps.agent",
    "metadata": "$.runId",
}
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
    if body.resume:
        return await _answer_interrupts(gateway, user_id, body)
    return await _start(gateway, user_id, body)


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
        return RunAgentInput.model_validate_json(b"".join(chunks))
    except ValidationError as exc:
        raise RefusalError(
            422, ErrorCode.VALIDATION_FAILED, "the body is not a RunAgentInput", _issues(exc)
        ) from None


def _issues(exc: ValidationError) -> list[dict[str, str]]:
    """Each bad field of the body as ``{"path": "$.messages[0].role", "reason": ...}``."""
    return [
        {
            "path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
            "reason": e["msg"],
        }
        for e in exc.errors(include_url=False)
    ]


def _prompt(body: RunAgentInput) -> str:
    """The text of the last user message: the prompt of the run."""
    for message in reversed(body.messages):
        if isinstance(message, UserMessage):
            content = message.content
            if isinstance(content, str):
                text = content
            else:
                text = "\n".join(p.text for p in content if isinstance(p, TextInputContent))
            if text.strip():
                return text
            break
    raise RefusalError(
        422,
        ErrorCode.VALIDATION_FAILED,
        "the last user message has no text",
        [{"path": "$.messages", "reason": "needs a user message with text"}],
    )


def _idempotency_key(run_id: str) -> str:
    """The ``client_message_id`` of an AG-UI run: any ``runId`` fits (hashed)."""
    return "ag-ui-" + hashlib.sha256(run_id.encode()).hexdigest()[:40]


def _agent(body: RunAgentInput) -> str | None:
    props = body.forwarded_props
    agent = props.get("agent") if isinstance(props, dict) else None
    return agent if isinstance(agent, str) else None


# --- the three ways in ------------------------------------------------------------------


async def _start(gateway: Gateway, user_id: str, body: RunAgentInput) -> Response:
    """Start a run for the body's prompt and stream it from the entry after now."""
    prompt = _prompt(body)
    thread_id = await _thread(gateway, user_id, body.thread_id)
    try:
        message = c.UserMessage(
            content=prompt,
            thread_id=thread_id,
            client_message_id=_idempotency_key(body.run_id),
            agent=_agent(body),
            metadata={"ag_ui_run_id": body.run_id},
        )
    except ValidationError as exc:
        # Our message's fields, named where they came from in the RunAgentInput.
        errors = [
            {"path": _SOURCE.get(str(e["loc"][0]), "$"), "reason": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise RefusalError(
            422, ErrorCode.VALIDATION_FAILED, "cannot run this input", errors
        ) from None
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
            f"run {body.run_id!r} was already started; reconnect with Last-Event-ID",
        )
    converter = RunConverter(received.run_id, agui_run_id=body.run_id)
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


async def _answer_interrupts(gateway: Gateway, user_id: str, body: RunAgentInput) -> Response:
    """Answer approval interrupts and stream the run's continuation as the body's run."""
    answers: list[tuple[str, str, str, bool, str | None]] = []
    for i, entry in enumerate(body.resume or []):
        parsed = parse_interrupt_id(entry.interrupt_id)
        if parsed is None:
            raise RefusalError(
                422,
                ErrorCode.VALIDATION_FAILED,
                "not an interrupt of ours",
                [{"path": f"$.resume[{i}].interruptId", "reason": "unknown interrupt"}],
            )
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        approved = entry.status == "resolved" and payload.get("approved") is True
        reason = payload.get("reason")
        answers.append((*parsed, approved, reason if isinstance(reason, str) else None))
    roots = {root for root, *_ in answers}
    if len(roots) != 1:
        raise RefusalError(422, ErrorCode.VALIDATION_FAILED, "resume entries of one run at a time")
    (run_id,) = roots
    subscription = await _subscribe(gateway, user_id, None)
    start = subscription.position
    try:
        for _, run, call_id, approved, reason in answers:
            if not await gateway.runs.executor.approve(user_id, run, call_id, approved, reason):
                raise RefusalError(
                    404, ErrorCode.NOT_FOUND, f"no pending interrupt {run}:{call_id}"
                )
    except BaseException:
        await subscription.close()
        raise
    converter = RunConverter(run_id, agui_run_id=body.run_id)
    return sse_response(subscription, converter, EventId.before(run_id, start.epoch, start.seq))


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
