"""AG-UI in and out, without I/O: the request body, event parsing, and the event mapping.

:func:`run_input` builds the ``RunAgentInput`` a run posts; :func:`parse_event`
turns one SSE ``data`` payload into an official ``ag_ui.core`` event model;
:class:`RunMapper` checks the events' order and turns each into the
:data:`Action` values an agent carries out (think, stream text, report a tool
call, ask for approvals). Nothing here touches a socket, a clock or a
:class:`~agentsocket.agents.runtime.RunContext`, so the same mapping can be
tested with literal events and reused by other transports.

=====================================================  ==============================
AG-UI event                                            action
=====================================================  ==============================
``RUN_STARTED``                                        (must come first, once)
``TEXT_MESSAGE_START`` / ``_CONTENT`` / ``_END``       open / write / close a message
``TEXT_MESSAGE_CHUNK``                                 the same, opened and closed
                                                       implicitly
``TOOL_CALL_START`` / ``_ARGS`` / ``_END``, ``_CHUNK``  :class:`StartTool` at the end,
                                                       with the arguments parsed
``TOOL_CALL_RESULT``                                   :class:`FinishTool`
``STEP_STARTED`` / ``STEP_FINISHED``                   :class:`Think`
``REASONING_MESSAGE_*`` (and ``_CHUNK``)               :class:`Think`, one per message
``RUN_FINISHED``                                       :class:`Finish`, with the
                                                       interrupts of an interrupt outcome
``RUN_ERROR``, ``RUN_FINISHED`` cancelled              :class:`Fail`
anything else                                          :class:`Skip`
=====================================================  ==============================

Order errors raise :class:`~.errors.UpstreamProtocolError`: any event before
``RUN_STARTED`` or after ``RUN_FINISHED`` / ``RUN_ERROR``, text for a message
that is not open, arguments or an end for an unknown or ended tool call, a
result for an unknown, unfinished or already answered call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    BaseEvent,
    Event,
    EventType,
    FunctionCall,
    Interrupt,
    Message,
    ReasoningMessageChunkEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ResumeEntry,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageChunkEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCall,
    ToolCallArgsEvent,
    ToolCallChunkEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    ToolMessage,
    UserMessage,
)
from pydantic import TypeAdapter, ValidationError

from agentsocket.agents.adapters.ag_ui.errors import UpstreamProtocolError

#: The AG-UI protocol version this mapping speaks (``RunAgentInput.protocolVersion``).
PROTOCOL_VERSION = "1.0"
#: The label for events whose ``type`` AG-UI 1.0 does not define.
UNKNOWN = "UNKNOWN"
#: Every label :class:`Skip` can carry: the event types, and :data:`UNKNOWN`.
EVENT_LABELS: tuple[str, ...] = (*(kind.value for kind in EventType), UNKNOWN)

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
_KNOWN = frozenset(kind.value for kind in EventType)
_ANSWER_ROLES = frozenset({None, "assistant"})


# --- the request ------------------------------------------------------------------


def message_id(thread_id: str, role: str, content: str, occurrence: int = 0) -> str:
    """A stable id for a thread message, the same in every run that sends it.

    Stateful AG-UI servers (e.g. LangGraph with a checkpointer) recognise
    messages they already have by id, so an earlier turn must keep its id
    from one run to the next; the store keeps no AG-UI ids, so the id is
    derived from the message itself (``occurrence`` tells repeats apart).
    """
    digest = hashlib.sha256(f"{thread_id}\0{role}\0{occurrence}\0{content}".encode())
    return f"msg-{digest.hexdigest()[:24]}"


def conversation(
    thread_id: str, history: Sequence[Mapping[str, str]], prompt: str
) -> list[Message]:
    """The thread's earlier turns and then ``prompt``, as AG-UI messages.

    Args:
        history: ``{"role", "content"}`` dicts, oldest first; roles other than
            ``user`` and ``assistant`` are left out.
    """
    seen: dict[tuple[str, str], int] = {}
    messages: list[Message] = []
    for turn in [*history, {"role": "user", "content": prompt}]:
        role, content = turn["role"], turn["content"]
        if role not in ("user", "assistant"):
            continue
        key = (role, content)
        ident = message_id(thread_id, role, content, seen.get(key, 0))
        seen[key] = seen.get(key, 0) + 1
        if role == "user":
            messages.append(UserMessage(id=ident, content=content))
        else:
            messages.append(AssistantMessage(id=ident, content=content))
    return messages


def run_input(
    thread_id: str,
    run_id: str,
    messages: Sequence[Message],
    *,
    resume: Sequence[ResumeEntry] | None = None,
) -> RunAgentInput:
    """The ``RunAgentInput`` for one request: no tools, empty state, context and props."""
    return RunAgentInput(
        thread_id=thread_id,
        run_id=run_id,
        protocol_version=PROTOCOL_VERSION,
        messages=list(messages),
        tools=[],
        state={},
        context=[],
        forwarded_props={},
        resume=list(resume) if resume else None,
    )


def encode_input(value: RunAgentInput) -> bytes:
    """``value`` as the JSON request body: camelCase keys, absent fields left out."""
    return value.model_dump_json(by_alias=True, exclude_none=True).encode()


def resume_entry(interrupt: Interrupt, approved: bool, reason: str | None) -> ResumeEntry:
    """The answer to a tool-approval ``interrupt``: ``{"approved", "reason"}`` as payload.

    That payload is what AG-UI's approval examples and PydanticAI's AG-UI
    server expect; servers with another schema see ``approved`` False as a denial.
    """
    payload: dict[str, Any] = {"approved": approved}
    if reason:
        payload["reason"] = reason
    return ResumeEntry(interrupt_id=interrupt.id, status="resolved", payload=payload)


# --- events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event whose ``type`` AG-UI 1.0 does not define (e.g. the retired ``THINKING_*``).

    ``type_name`` is the server's text, for logs only (truncated), never a metric label.
    """

    type_name: str


def parse_event(data: str) -> BaseEvent | UnknownEvent:
    """Validate one SSE ``data`` payload as an AG-UI event.

    Returns:
        The ``ag_ui.core`` event model, or :class:`UnknownEvent` for a
        well-formed object whose ``type`` is not an AG-UI 1.0 event type.

    Raises:
        UpstreamProtocolError: not JSON, not an object with a string ``type``,
            or a known type whose fields are invalid.
    """
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise UpstreamProtocolError(f"an event is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise UpstreamProtocolError('an event is not a JSON object with a string "type"')
    kind: str = raw["type"]
    if kind not in _KNOWN:
        return UnknownEvent(kind[:64])
    try:
        event: BaseEvent = _EVENT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "(event)"
        raise UpstreamProtocolError(f"invalid {kind} event: {where}: {first['msg']}") from exc
    return event


# --- actions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Think:
    """Show ``text`` as the agent's thinking."""

    text: str


@dataclass(frozen=True, slots=True)
class OpenMessage:
    """An answer message starts."""

    message_id: str


@dataclass(frozen=True, slots=True)
class WriteMessage:
    """The next piece of an open answer message."""

    message_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class CloseMessage:
    """An answer message is complete."""

    message_id: str


@dataclass(frozen=True, slots=True)
class StartTool:
    """The server's agent calls a tool (its arguments are complete)."""

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FinishTool:
    """A tool call's result: text, or JSON-compatible content parts."""

    call_id: str
    result: Any


@dataclass(frozen=True, slots=True)
class Finish:
    """The server's run ended; non-empty ``interrupts`` wait for answers."""

    interrupts: tuple[Interrupt, ...] = ()


@dataclass(frozen=True, slots=True)
class Fail:
    """The server's run failed (``RUN_ERROR``) or was cancelled on its side."""

    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """An event with no counterpart; ``event_type`` is one of :data:`EVENT_LABELS`."""

    event_type: str


Action = (
    Think
    | OpenMessage
    | WriteMessage
    | CloseMessage
    | StartTool
    | FinishTool
    | Finish
    | Fail
    | Skip
)


@dataclass(slots=True)
class _Text:
    answer: bool  # an assistant message, streamed as the answer
    parts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Call:
    name: str
    parent_message_id: str | None
    args: list[str] = field(default_factory=list)
    ended: bool = False
    answered: bool = False

    @property
    def arguments_text(self) -> str:
        return "".join(self.args)


def parse_arguments(text: str) -> dict[str, Any]:
    """A tool call's streamed argument text as a dict.

    Empty text is no arguments; text that is not a JSON object (models do
    write broken JSON) is kept whole under ``"arguments"`` rather than failing the run.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"arguments": text}
    return value if isinstance(value, dict) else {"arguments": value}


class RunMapper:
    """Checks one run's AG-UI events and maps each to :data:`Action` values.

    One mapper serves a whole run of ours, across the requests that resume
    it: call :meth:`next_request` before each request after the first, so
    results for tool calls made before an interrupt are still recognised.
    """

    def __init__(self) -> None:
        self._started = False
        self._ended: str | None = None
        self._texts: dict[str, _Text] = {}
        self._text_chunk: str | None = None  # the message TEXT_MESSAGE_CHUNK opened
        self._reasoning: dict[str, list[str]] = {}
        self._reasoning_chunk: str | None = None
        self._calls: dict[str, _Call] = {}
        self._call_chunk: str | None = None
        self._transcript: list[Message] = []

    @property
    def finished(self) -> bool:
        """Whether the current request's run has ended (``RUN_FINISHED`` or ``RUN_ERROR``)."""
        return self._ended is not None

    @property
    def transcript(self) -> list[Message]:
        """What the server's agent said so far in this run, as AG-UI messages.

        Sent back after the conversation when resuming, so stateless servers
        see the tool calls they are resuming.
        """
        return list(self._transcript)

    def tool_call(self, call_id: str) -> tuple[str, dict[str, Any]] | None:
        """The name and arguments of a tool call of this run, if there is one."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        return call.name, parse_arguments(call.arguments_text)

    def next_request(self) -> None:
        """Expect a new ``RUN_STARTED``: the run is resumed by a new request."""
        self._started = False
        self._ended = None
        self._texts.clear()
        self._reasoning.clear()
        self._text_chunk = self._reasoning_chunk = self._call_chunk = None

    def feed(self, event: BaseEvent | UnknownEvent) -> list[Action]:
        """Map one event.

        Raises:
            UpstreamProtocolError: the event breaks AG-UI's order rules.
        """
        if self._ended is not None:
            name = event.type_name if isinstance(event, UnknownEvent) else event.type.value
            raise UpstreamProtocolError(f"{name} after {self._ended}")
        if isinstance(event, UnknownEvent):
            return [Skip(UNKNOWN)]
        kind = event.type
        if not self._started and kind is not EventType.RUN_STARTED:
            raise UpstreamProtocolError(f"{kind.value} before RUN_STARTED")
        actions: list[Action] = []
        # A run of *_CHUNK events ends at the first event that does not continue it.
        if kind is not EventType.TEXT_MESSAGE_CHUNK:
            actions += self._end_text_chunk()
        if kind is not EventType.TOOL_CALL_CHUNK:
            actions += self._end_call_chunk()
        if kind is not EventType.REASONING_MESSAGE_CHUNK:
            actions += self._end_reasoning_chunk()
        actions += self._map(event)
        return actions

    # --- one event ----------------------------------------------------------------

    def _map(self, event: BaseEvent) -> list[Action]:
        match event:
            case RunStartedEvent():
                if self._started:
                    raise UpstreamProtocolError("a second RUN_STARTED in one run")
                self._started = True
                return []
            case RunFinishedEvent():
                return self._finish(event)
            case RunErrorEvent():
                self._ended = "RUN_ERROR"
                return [Fail(event.message, event.code)]
            case TextMessageStartEvent():
                return self._open_text(event.message_id, event.role)
            case TextMessageContentEvent():
                return self._write_text(event.message_id, event.delta, event.type)
            case TextMessageEndEvent():
                return self._close_text(event.message_id, event.type)
            case TextMessageChunkEvent():
                return self._text_chunk_event(event)
            case ToolCallStartEvent():
                self._start_call(event.tool_call_id, event.tool_call_name, event.parent_message_id)
                return []
            case ToolCallArgsEvent():
                self._open_call(event.tool_call_id, event.type).args.append(event.delta)
                return []
            case ToolCallEndEvent():
                return self._end_call(event.tool_call_id, event.type)
            case ToolCallChunkEvent():
                return self._call_chunk_event(event)
            case ToolCallResultEvent():
                return self._result(event)
            case StepStartedEvent():
                return [Think(f"Started step: {event.step_name}")]
            case StepFinishedEvent():
                return [Think(f"Finished step: {event.step_name}")]
            case ReasoningMessageStartEvent():
                if event.message_id in self._reasoning:
                    raise UpstreamProtocolError("REASONING_MESSAGE_START for an open message")
                self._reasoning[event.message_id] = []
                return []
            case ReasoningMessageContentEvent():
                self._open_reasoning(event.message_id, event.type).append(event.delta)
                return []
            case ReasoningMessageEndEvent():
                self._open_reasoning(event.message_id, event.type)
                return self._close_reasoning(event.message_id)
            case ReasoningMessageChunkEvent():
                return self._reasoning_chunk_event(event)
        if event.type in (EventType.REASONING_START, EventType.REASONING_END):
            return []  # brackets around reasoning messages; the messages carry the text
        return [Skip(event.type.value)]

    def _finish(self, event: RunFinishedEvent) -> list[Action]:
        self._ended = "RUN_FINISHED"
        # Close what the server left open: its answer is complete all the same.
        actions: list[Action] = []
        for ident in list(self._texts):
            actions += self._close_text(ident, event.type)
        for ident in list(self._reasoning):
            actions += self._close_reasoning(ident)
        outcome = event.outcome
        if isinstance(outcome, RunFinishedInterruptOutcome):
            actions.append(Finish(tuple(outcome.interrupts)))
        elif isinstance(outcome, RunFinishedCancelledOutcome):
            actions.append(Fail("the agent server cancelled the run", "cancelled"))
        else:
            actions.append(Finish())
        return actions

    # --- text -----------------------------------------------------------------------

    def _open_text(self, ident: str, role: str | None) -> list[Action]:
        if ident in self._texts:
            raise UpstreamProtocolError(f"TEXT_MESSAGE_START for open message {ident!r}")
        answer = role in _ANSWER_ROLES
        self._texts[ident] = _Text(answer)
        return [OpenMessage(ident)] if answer else [Skip(EventType.TEXT_MESSAGE_START.value)]

    def _write_text(self, ident: str, delta: str, kind: EventType) -> list[Action]:
        text = self._texts.get(ident)
        if text is None:
            raise UpstreamProtocolError(f"{kind.value} for message {ident!r}, which is not open")
        if not delta:
            return []
        text.parts.append(delta)
        return [WriteMessage(ident, delta)] if text.answer else []

    def _close_text(self, ident: str, kind: EventType) -> list[Action]:
        text = self._texts.pop(ident, None)
        if text is None:
            raise UpstreamProtocolError(f"{kind.value} for message {ident!r}, which is not open")
        if self._text_chunk == ident:
            self._text_chunk = None
        if not text.answer:
            return []
        self._transcript.append(AssistantMessage(id=ident, content="".join(text.parts)))
        return [CloseMessage(ident)]

    def _text_chunk_event(self, event: TextMessageChunkEvent) -> list[Action]:
        ident = event.message_id or self._text_chunk
        if ident is None:
            raise UpstreamProtocolError("a first TEXT_MESSAGE_CHUNK without messageId")
        actions: list[Action] = []
        if self._text_chunk is not None and ident != self._text_chunk:
            actions += self._end_text_chunk()
        if ident not in self._texts:
            actions += self._open_text(ident, event.role)
            self._text_chunk = ident
        actions += self._write_text(ident, event.delta or "", event.type)
        return actions

    def _end_text_chunk(self) -> list[Action]:
        if self._text_chunk is None:
            return []
        return self._close_text(self._text_chunk, EventType.TEXT_MESSAGE_CHUNK)

    # --- reasoning ------------------------------------------------------------------

    def _open_reasoning(self, ident: str, kind: EventType) -> list[str]:
        parts = self._reasoning.get(ident)
        if parts is None:
            raise UpstreamProtocolError(f"{kind.value} for reasoning {ident!r}, which is not open")
        return parts

    def _close_reasoning(self, ident: str) -> list[Action]:
        text = "".join(self._reasoning.pop(ident, [])).strip()
        if self._reasoning_chunk == ident:
            self._reasoning_chunk = None
        return [Think(text)] if text else []

    def _reasoning_chunk_event(self, event: ReasoningMessageChunkEvent) -> list[Action]:
        ident = event.message_id or self._reasoning_chunk
        if ident is None:
            raise UpstreamProtocolError("a first REASONING_MESSAGE_CHUNK without messageId")
        actions: list[Action] = []
        if self._reasoning_chunk is not None and ident != self._reasoning_chunk:
            actions += self._end_reasoning_chunk()
        if ident not in self._reasoning:
            self._reasoning[ident] = []
            self._reasoning_chunk = ident
        self._reasoning[ident].append(event.delta or "")
        return actions

    def _end_reasoning_chunk(self) -> list[Action]:
        if self._reasoning_chunk is None:
            return []
        return self._close_reasoning(self._reasoning_chunk)

    # --- tool calls -----------------------------------------------------------------

    def _start_call(self, ident: str, name: str, parent: str | None) -> _Call:
        if ident in self._calls:
            raise UpstreamProtocolError(f"TOOL_CALL_START for tool call {ident!r} again")
        call = self._calls[ident] = _Call(name, parent)
        return call

    def _open_call(self, ident: str, kind: EventType) -> _Call:
        call = self._calls.get(ident)
        if call is None:
            raise UpstreamProtocolError(f"{kind.value} for unknown tool call {ident!r}")
        if call.ended:
            raise UpstreamProtocolError(f"{kind.value} for tool call {ident!r} after its end")
        return call

    def _end_call(self, ident: str, kind: EventType) -> list[Action]:
        call = self._open_call(ident, kind)
        call.ended = True
        if self._call_chunk == ident:
            self._call_chunk = None
        tool_call = ToolCall(
            id=ident, function=FunctionCall(name=call.name, arguments=call.arguments_text or "{}")
        )
        last = self._transcript[-1] if self._transcript else None
        if (
            isinstance(last, AssistantMessage)
            and call.parent_message_id is not None
            and last.id == call.parent_message_id
        ):
            last.tool_calls = [*(last.tool_calls or []), tool_call]
        else:
            self._transcript.append(
                AssistantMessage(
                    id=call.parent_message_id or f"{ident}-call", tool_calls=[tool_call]
                )
            )
        return [StartTool(ident, call.name, parse_arguments(call.arguments_text))]

    def _call_chunk_event(self, event: ToolCallChunkEvent) -> list[Action]:
        ident = event.tool_call_id or self._call_chunk
        if ident is None:
            raise UpstreamProtocolError("a first TOOL_CALL_CHUNK without toolCallId")
        actions: list[Action] = []
        if self._call_chunk is not None and ident != self._call_chunk:
            actions += self._end_call_chunk()
        if ident not in self._calls:
            if not event.tool_call_name:
                raise UpstreamProtocolError("a first TOOL_CALL_CHUNK without toolCallName")
            self._start_call(ident, event.tool_call_name, event.parent_message_id)
            self._call_chunk = ident
        self._open_call(ident, event.type).args.append(event.delta or "")
        return actions

    def _end_call_chunk(self) -> list[Action]:
        if self._call_chunk is None:
            return []
        return self._end_call(self._call_chunk, EventType.TOOL_CALL_CHUNK)

    def _result(self, event: ToolCallResultEvent) -> list[Action]:
        ident = event.tool_call_id
        call = self._calls.get(ident)
        if call is None:
            raise UpstreamProtocolError(f"TOOL_CALL_RESULT for unknown tool call {ident!r}")
        if not call.ended:
            raise UpstreamProtocolError(f"TOOL_CALL_RESULT for tool call {ident!r} before its end")
        if call.answered:
            raise UpstreamProtocolError(f"a second TOOL_CALL_RESULT for tool call {ident!r}")
        call.answered = True
        self._transcript.append(
            ToolMessage(id=event.message_id, tool_call_id=ident, content=event.content)
        )
        return [FinishTool(ident, result_value(event.content))]


def result_value(content: str | Iterable[Any]) -> Any:
    """A tool result's content: the text, or the text parts joined, else the parts as JSON."""
    if isinstance(content, str):
        return content
    parts = list(content)
    texts = [getattr(part, "text", None) for part in parts]
    if all(isinstance(text, str) for text in texts):
        return "".join(str(text) for text in texts)
    return [part.model_dump(mode="json", by_alias=True, exclude_none=True) for part in parts]
