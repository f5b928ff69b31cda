"""AG-UI client input without I/O: a ``RunAgentInput`` read as what it asks of us.

Both AG-UI transports (``POST /ag-ui`` and the ``agentsocket.ag-ui`` WebSocket
dialect) take a ``RunAgentInput`` and mean the same by it; this module says
what, so they cannot drift apart::

    match read_input(body):
        case StartRun() as start:          # a user_message for start.prompt
            ...
        case AnswerInterrupts() as answers:  # tool_approval / question_answer answers
            ...

:func:`read_input` raises :class:`InputRefused` (a typed refusal: ``code``,
``message``, ``issues``) for input that cannot be run. Over WebSocket a client
may also stop a run with the ``CUSTOM`` frame :data:`STOP_NAME`
(:func:`read_frame`). Needs the ``ag-ui`` extra.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
from ag_ui.core import RunAgentInput, TextInputContent, ToolMessage, UserMessage
from pydantic import BaseModel, Field, ValidationError

from agentsocket.protocol import client_messages as c
from agentsocket.protocol.ag_ui import CUSTOM_PREFIX, parse_interrupt_id, question_of

#: The ``CUSTOM`` client frame that stops a run over WebSocket:
#: ``{"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": "..."}}``.
STOP_NAME: Final = CUSTOM_PREFIX + "stop_agent"
#: Refusal codes beyond :class:`~agentsocket.protocol.ErrorCode`'s (both transports).
UNKNOWN_TOOL: Final = "unknown_tool"


class InputRefused(Exception):  # noqa: N818 - an outcome of reading input, like ProtocolError
    """Input the gateway will not run: a typed refusal.

    Attributes:
        code: ``validation_failed``, ``unknown_tool``, ``too_large`` or ``invalid_json``.
        message: a human sentence.
        issues: ``(path, reason)`` for each bad field, paths in the body's camelCase.
    """

    def __init__(self, code: str, message: str, issues: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.code, self.message, self.issues = code, message, issues or []


@dataclass(frozen=True, slots=True)
class StartRun:
    """Run the agent on ``prompt``: a ``user_message`` of ours.

    Attributes:
        prompt: the text of the last user message (the thread keeps its own history).
        thread_id: the client's ``threadId``; the transport continues it only if it
            is one of the caller's threads.
        agent: ``forwardedProps.agent``, if a string.
        run_id: the client's ``runId`` (echoed in ``RUN_STARTED``/``RUN_FINISHED``).
        client_message_id: the idempotency key derived from ``run_id``.
    """

    prompt: str
    thread_id: str
    agent: str | None
    run_id: str
    client_message_id: str


@dataclass(frozen=True, slots=True)
class Answer:
    """One approval interrupt answered: (root run, run, tool call) and the decision."""

    root_run_id: str
    run_id: str
    tool_call_id: str
    approved: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class QuestionReply:
    """One question interrupt answered: (root run, run, question) and the answer.

    Attributes:
        index: the answer's entry in ``resume`` (errors name ``$.resume[<index>].payload``).
    """

    root_run_id: str
    run_id: str
    question_id: str
    answer: Any
    index: int


def payload_issues(
    reply: QuestionReply, issues: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """An answer's problems (``("answer.rating", reason)``) where the client put them:
    ``$.resume[<index>].payload.rating``."""
    at = f"$.resume[{reply.index}].payload"
    return [(at + path.removeprefix("answer"), reason) for path, reason in issues]


@dataclass(frozen=True, slots=True)
class AnswerInterrupts:
    """``resume`` entries answering approval and question interrupts of one run."""

    root_run_id: str
    run_id: str
    answers: tuple[Answer | QuestionReply, ...]


@dataclass(frozen=True, slots=True)
class StopRun:
    """Stop our run ``run_id`` (the WebSocket's ``agentsocket.stop_agent`` frame)."""

    run_id: str


AgUiRequest = StartRun | AnswerInterrupts | StopRun


class StopValue(BaseModel):
    """The ``value`` of the stop frame: our run id (``message_received.run_id``)."""

    run_id: str = Field(alias="runId", min_length=1, max_length=128)


class StopFrame(BaseModel):
    """The WebSocket client frame that stops a run (AG-UI has none of its own)."""

    type: Literal["CUSTOM"]
    name: Literal["agentsocket.stop_agent"]
    value: StopValue


#: Where a field of the ``user_message`` built from a RunAgentInput came from.
SOURCE: Final = {
    "content": "$.messages",
    "thread_id": "$.threadId",
    "client_message_id": "$.runId",
    "agent": "$.forwardedProps.agent",
    "metadata": "$.runId",
}


def parse_input(raw: str | bytes) -> RunAgentInput:
    """A ``RunAgentInput`` from JSON text.

    Raises:
        InputRefused: ``validation_failed``, naming each bad field (``$.threadId``).
    """
    try:
        return RunAgentInput.model_validate_json(raw)
    except ValidationError as exc:
        raise InputRefused(
            "validation_failed", "the input is not a RunAgentInput", issues(exc)
        ) from None


def read_input(body: RunAgentInput) -> StartRun | AnswerInterrupts:
    """What a ``RunAgentInput`` asks: answer interrupts (``resume``) or start a run.

    Raises:
        InputRefused: ``unknown_tool`` for a tool result the agent never asked the
            client for; ``validation_failed`` for no user text, or a ``resume``
            entry that is not one of our interrupts.
    """
    if body.resume:
        return _answers(body)
    _no_client_tool_results(body)
    return StartRun(
        prompt=_prompt(body),
        thread_id=body.thread_id,
        agent=_agent(body),
        run_id=body.run_id,
        client_message_id=idempotency_key(body.run_id),
    )


def read_frame(raw: str | bytes, max_size: int) -> AgUiRequest:
    """One WebSocket client frame of the AG-UI dialect.

    A ``RunAgentInput``, or the ``CUSTOM`` frame :data:`STOP_NAME` with
    ``value.runId``.

    Raises:
        InputRefused: ``too_large``, ``invalid_json``, ``validation_failed`` or
            ``unknown_tool``.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "replace"))
    if size > max_size:
        raise InputRefused("too_large", f"the frame is over {max_size} bytes")
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputRefused("invalid_json", "the frame is not JSON") from None
    if isinstance(frame, dict) and frame.get("type") == "CUSTOM":
        return _stop(frame)
    return read_input(parse_input(raw))


def user_message(start: StartRun, thread_id: str | None) -> c.UserMessage:
    """Our ``user_message`` for ``start``, in ``thread_id`` (None: a new thread).

    Raises:
        InputRefused: ``validation_failed``, each field named where it came from
            in the ``RunAgentInput`` (``$.messages`` for the prompt).
    """
    try:
        return c.UserMessage(
            content=start.prompt,
            thread_id=thread_id,
            client_message_id=start.client_message_id,
            agent=start.agent,
            metadata={"ag_ui_run_id": start.run_id},
        )
    except ValidationError as exc:
        found = [(SOURCE.get(str(e["loc"][0]), "$"), e["msg"]) for e in exc.errors()]
        raise InputRefused("validation_failed", "cannot run this input", found) from None


def idempotency_key(run_id: str) -> str:
    """The ``client_message_id`` of an AG-UI run: any ``runId`` fits (hashed)."""
    return "ag-ui-" + hashlib.sha256(run_id.encode()).hexdigest()[:40]


def issues(exc: ValidationError) -> list[tuple[str, str]]:
    """Each bad field as ``("$.messages[0].role", reason)``."""
    return [
        ("$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]), e["msg"])
        for e in exc.errors(include_url=False)
    ]


def _stop(frame: dict[str, Any]) -> StopRun:
    try:
        return StopRun(StopFrame.model_validate(frame).value.run_id)
    except ValidationError as exc:
        raise InputRefused(
            "validation_failed", f"the only CUSTOM client frame is {STOP_NAME!r}", issues(exc)
        ) from None


def _no_client_tool_results(body: RunAgentInput) -> None:
    """Refuse a trailing tool message: our agents never wait for a client tool.

    In AG-UI a client answers a *frontend* tool call (one of ``tools``) with a
    new run whose last message is the tool's result. Our agents run their own
    tools on the server and are not offered ``tools``, so such a result answers
    no call of ours. Tool messages earlier in the history (a client replaying
    the conversation, our own calls included) are fine: the thread keeps its
    history and they are not read.
    """
    if body.messages and isinstance(body.messages[-1], ToolMessage):
        last = body.messages[-1]
        index = len(body.messages) - 1
        raise InputRefused(
            UNKNOWN_TOOL,
            f"no tool call {last.tool_call_id!r} of this agent waits for a client result",
            [(f"$.messages[{index}].toolCallId", "unknown tool call")],
        )


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
    raise InputRefused(
        "validation_failed",
        "the last user message has no text",
        [("$.messages", "needs a user message with text")],
    )


def _agent(body: RunAgentInput) -> str | None:
    props = body.forwarded_props
    agent = props.get("agent") if isinstance(props, dict) else None
    return agent if isinstance(agent, str) else None


def _answers(body: RunAgentInput) -> AnswerInterrupts:
    answers: list[Answer | QuestionReply] = []
    for i, entry in enumerate(body.resume or []):
        parsed = parse_interrupt_id(entry.interrupt_id)
        if parsed is None:
            raise InputRefused(
                "validation_failed",
                "not an interrupt of ours",
                [(f"$.resume[{i}].interruptId", "unknown interrupt")],
            )
        question_id = question_of(parsed[2])
        if question_id is not None:
            # A question has no "no": it is answered, or left to expire to its default.
            if entry.status != "resolved":
                raise InputRefused(
                    "validation_failed",
                    "a question is answered (status resolved) or left to expire",
                    [(f"$.resume[{i}].status", "a question cannot be cancelled")],
                )
            answers.append(QuestionReply(parsed[0], parsed[1], question_id, entry.payload, i))
            continue
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        approved = entry.status == "resolved" and payload.get("approved") is True
        reason = payload.get("reason")
        answers.append(Answer(*parsed, approved, reason if isinstance(reason, str) else None))
    roots = {answer.root_run_id for answer in answers}
    if len(roots) != 1:
        raise InputRefused("validation_failed", "resume entries of one run at a time")
    (root,) = roots
    return AnswerInterrupts(root, body.run_id, tuple(answers))
