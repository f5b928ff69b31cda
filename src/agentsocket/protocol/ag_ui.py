"""The AG-UI dialect: head server messages in, AG-UI 1.0 events out, without I/O.

A :class:`RunConverter` follows one run of a user's stream and turns each head
message (``agent_started``, ``tool_executing``, ...) into the AG-UI events
(official ``ag_ui.core`` models) a front end expects, in an order AG-UI
accepts: ``RUN_STARTED`` first, text only inside its message, tool arguments
only inside their call, nothing after ``RUN_FINISHED`` / ``RUN_ERROR``. One
head message may become several events, so the converter keeps per-run
state; messages of other runs give nothing::

    converter = RunConverter(run_id, agui_run_id=body.run_id)
    for message in head_messages:
        for event in converter.convert(message):
            send(encode_event(event))
        if converter.finished:
            break

The full table, head message → AG-UI event(s), and what has no counterpart,
is data: :data:`MAPPING` and :data:`NO_COUNTERPART` below (the converter's
tests check them against its real output; ``agentsocket generate`` writes
them to ``docs/protocol/ag-ui-mapping.md``).

Events of a sub-run carry ``subagentRunId`` (= its head ``run_id``). Text
messages still open when the run ends are closed first. A converter that joins
a run mid-way (a WebSocket connection that came late or resumed) restates what
it missed the start of: ``RUN_STARTED``, ``SUBAGENT_STARTED``, a message's
``TEXT_MESSAGE_START``, a tool call's ``START``/``ARGS``/``END``. This module needs the
``ag-ui`` extra (``ag-ui-protocol``, pure pydantic); ``agentsocket.protocol``
does not import it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    SubagentErrorEvent,
    SubagentFinishedEvent,
    SubagentStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from agentsocket.protocol import server_messages as s
from agentsocket.protocol.message import ServerMessage

#: The AG-UI protocol version the dialect speaks (``RUN_STARTED.protocolVersion``).
PROTOCOL_VERSION: Final = "1.0"
#: Prefix of the ``CUSTOM`` event names for messages AG-UI has no event for.
CUSTOM_PREFIX: Final = "agentsocket."
#: ``Interrupt.reason`` of a tool approval; answer it with a resume entry
#: whose payload is ``{"approved": bool, "reason": str | None}``.
APPROVAL_REASON: Final = "tool_approval"
#: What an approval interrupt expects as its answer.
APPROVAL_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["approved"],
}

#: ``Interrupt.reason`` of an agent's question (``agent_question``); answer it with a
#: resume entry whose payload is the answer, which must satisfy the interrupt's
#: ``responseSchema`` (the question's ``answer_schema``).
QUESTION_REASON: Final = CUSTOM_PREFIX + "question"
#: Marks a question among interrupt ids (``?`` never occurs in an ``Identifier``).
_QUESTION_MARK: Final = "?"

#: Head messages that are no run's own but are passed on as ``CUSTOM`` events.
_CUSTOM_TYPES = frozenset(
    {
        s.ThreadCreated.TYPE,
        s.ThreadRenamed.TYPE,
        s.ThreadDeleted.TYPE,
        s.StreamGap.TYPE,
    }
)


def interrupt_id(root_run_id: str, run_id: str, tool_call_id: str) -> str:
    """The id of the approval interrupt for ``tool_call_id`` of ``run_id`` (under ``root_run_id``).

    Run ids never contain ``:`` (they are a prefix and hex digits), so
    :func:`parse_interrupt_id` splits it back whatever the tool call id is.
    """
    return f"{root_run_id}:{run_id}:{tool_call_id}"


def question_interrupt_id(root_run_id: str, run_id: str, question_id: str) -> str:
    """The id of the interrupt for question ``question_id`` of ``run_id``.

    Like :func:`interrupt_id`, with ``?`` before the question id: an answer
    then says by its id alone whether it answers a question or an approval.
    """
    return interrupt_id(root_run_id, run_id, _QUESTION_MARK + question_id)


def parse_interrupt_id(text: str) -> tuple[str, str, str] | None:
    """(root run id, run id, tool call or question id) of an interrupt id; None if not one.

    A question's id keeps its ``?`` mark (:func:`question_of` strips it).
    """
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def question_of(pause_id: str) -> str | None:
    """The question id in the last part of an interrupt id; None for a tool call id."""
    if pause_id.startswith(_QUESTION_MARK) and len(pause_id) > len(_QUESTION_MARK):
        return pause_id.removeprefix(_QUESTION_MARK)
    return None


def encode_event(event: BaseEvent) -> str:
    """``event`` as AG-UI wire JSON: camelCase keys, no null fields."""
    return event.model_dump_json(by_alias=True, exclude_none=True)


class RunConverter:
    """Converts the head messages of one run (and its sub-runs) into AG-UI events.

    Args:
        run_id: the head run to follow.
        agui_run_id: the ``runId`` its AG-UI events carry (a client's
            ``RunAgentInput.runId``); defaults to ``run_id``.
        thread_id: the ``threadId`` for ``RUN_STARTED`` when the first message
            seen carries none (it normally comes from the messages).
        next_run_id: the ``runId`` of the AG-UI run that continues after an
            interrupt, given the segment number (1, 2, ...); default
            ``f"{agui_run_id}.{n}"``.

    Attributes:
        finished: True once the run's last event (``RUN_FINISHED`` /
            ``RUN_ERROR``) was produced; later calls return nothing.
        interrupted: True while the AG-UI run ended with an interrupt outcome
            and the head run waits for an answer.
    """

    def __init__(
        self,
        run_id: str,
        *,
        agui_run_id: str | None = None,
        thread_id: str | None = None,
        next_run_id: Callable[[int], str] | None = None,
    ) -> None:
        self.run_id = run_id
        self.agui_run_id = agui_run_id or run_id
        self.thread_id = thread_id
        self.finished = False
        self.interrupted = False
        self._next_run_id = next_run_id or (lambda n: f"{self.agui_run_id}.{n}")
        self._segment = 0
        self._current = self.agui_run_id
        self._open = False  # an AG-UI run is open (RUN_STARTED sent, no end yet)
        self._subruns: set[str] = set()  # sub-runs (any depth) of this run, still going
        self._texts: dict[str, str | None] = {}  # open text messages -> subagentRunId
        self._calls: set[str] = set()  # tool calls whose START..END this AG-UI run sent
        self._tools: dict[str, tuple[str, dict[str, Any]]] = {}  # every call: name, args
        self._answered: set[str] = set()  # tool calls whose RESULT was sent
        self._thoughts = 0

    @property
    def open(self) -> bool:
        """True while an AG-UI run is open (``RUN_STARTED`` sent, its end not yet)."""
        return self._open

    def continue_as(self, agui_run_id: str) -> None:
        """Name the AG-UI run that continues after the current interrupt ``agui_run_id``.

        The ``runId`` of a ``RunAgentInput`` that answers the interrupt, as AG-UI has it.
        """
        self._next_run_id = lambda _: agui_run_id

    def convert(self, message: ServerMessage) -> list[BaseEvent]:
        """The AG-UI events for ``message`` (none for another run's, or once finished)."""
        if self.finished:
            return []
        if message.TYPE in _CUSTOM_TYPES:
            if not self._open:
                return []
            name = CUSTOM_PREFIX + message.TYPE
            return [CustomEvent(name=name, value=message.model_dump(mode="json"))]
        if not isinstance(message, s.AgentEvent):
            return []
        if message.run_id == self.run_id:
            return self._own(message)
        parent = message.parent_run_id
        if message.run_id in self._subruns or parent == self.run_id or parent in self._subruns:
            return self._sub(message)
        return []

    # --- the run itself --------------------------------------------------------

    def _own(self, event: s.AgentEvent) -> list[BaseEvent]:
        self.thread_id = event.thread_id
        out = self._start() if not self._open else []
        if isinstance(event, s.AgentStarted):
            return out
        if isinstance(event, s.ToolApprovalRequired):
            out += self._call(event.tool_call_id, event.tool_name, event.arguments, None)
            out += self._close_texts()
            interrupt = Interrupt(
                id=interrupt_id(self.run_id, event.run_id, event.tool_call_id),
                reason=APPROVAL_REASON,
                message=f"Allow {event.tool_name}?",
                tool_call_id=event.tool_call_id,
                response_schema=APPROVAL_SCHEMA,
            )
            out.append(self._finished(RunFinishedInterruptOutcome(interrupts=[interrupt])))
            self.interrupted = True
            return out
        if isinstance(event, s.AgentQuestion):
            return out + self._question(event, None)
        if isinstance(event, s.AgentCompleted):
            return out + self._close_texts() + [self._finished(None, event.usage)]
        if isinstance(event, s.AgentCancelled):
            return out + self._close_texts() + [self._finished(RunFinishedCancelledOutcome())]
        if isinstance(event, s.AgentError):
            out += self._close_texts()
            out.append(RunErrorEvent(message=event.message, code=event.code))
            self._open, self.finished = False, True
            return out
        return out + self._content(event, None)

    def _start(self) -> list[BaseEvent]:
        # The first AG-UI run is the client's; each interrupt's continuation is a new one
        # (a resumed converter's first run is the continuation itself).
        run_id = self._next_run_id(self._segment) if self._segment else self.agui_run_id
        self._segment += 1
        self._current = run_id
        # AG-UI tool calls are run-scoped: a continuation restates a call before its result.
        self._calls.clear()
        self._open, self.interrupted = True, False
        assert self.thread_id is not None  # set from the message before
        return [
            RunStartedEvent(
                thread_id=self.thread_id,
                run_id=run_id,
                protocol_version=PROTOCOL_VERSION,
            )
        ]

    def _finished(
        self,
        outcome: RunFinishedInterruptOutcome | RunFinishedCancelledOutcome | None,
        usage: s.Usage | None = None,
    ) -> BaseEvent:
        self._open = False
        # An interrupt ends this AG-UI run only: the head run goes on once answered.
        self.finished = not isinstance(outcome, RunFinishedInterruptOutcome)
        tokens = None
        if usage is not None:
            # AG-UI's list has one entry per provider and model; ours is the run's sum.
            tokens = [
                TokenUsage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    total_tokens=usage.total_tokens,
                )
            ]
        return RunFinishedEvent(
            thread_id=self.thread_id or "", run_id=self._current, outcome=outcome, usage=tokens
        )

    # --- sub-runs -----------------------------------------------------------------

    def _sub(self, event: s.AgentEvent) -> list[BaseEvent]:
        self.thread_id = event.thread_id
        if not self._open:
            # A sub-run event with no open AG-UI run (say, its parent's run
            # was just interrupted) opens the continuation.
            out: list[BaseEvent] = self._start()
        else:
            out = []
        sub = event.run_id
        if isinstance(event, s.AgentStarted) or sub not in self._subruns:
            # A sub-run first seen mid-way (a connection that joined late) is restated.
            self._subruns.add(sub)
            parent = event.parent_run_id if event.parent_run_id != self.run_id else None
            out.append(
                SubagentStartedEvent(
                    subagent_run_id=sub, name=event.agent_name, parent_subagent_run_id=parent
                )
            )
            if isinstance(event, s.AgentStarted):
                return out
        if isinstance(event, s.AgentCompleted):
            self._subruns.discard(sub)
            return out + self._close_texts(sub) + [SubagentFinishedEvent(subagent_run_id=sub)]
        if isinstance(event, (s.AgentError, s.AgentCancelled)):
            self._subruns.discard(sub)
            if isinstance(event, s.AgentError):
                text, code = event.message, event.code
            else:
                text, code = f"cancelled: {event.reason}", "cancelled"
            failed = SubagentErrorEvent(subagent_run_id=sub, message=text, code=code)
            return out + self._close_texts(sub) + [failed]
        if isinstance(event, s.ToolApprovalRequired):
            # AG-UI ends the whole run with the interrupt, attributed to the sub-run.
            out += self._call(event.tool_call_id, event.tool_name, event.arguments, sub)
            out += self._close_texts()
            interrupt = Interrupt(
                id=interrupt_id(self.run_id, sub, event.tool_call_id),
                reason=APPROVAL_REASON,
                message=f"Allow {event.tool_name}?",
                tool_call_id=event.tool_call_id,
                response_schema=APPROVAL_SCHEMA,
                subagent_run_id=sub,
            )
            out.append(self._finished(RunFinishedInterruptOutcome(interrupts=[interrupt])))
            self.interrupted = True
            return out
        if isinstance(event, s.AgentQuestion):
            return out + self._question(event, sub)
        return out + self._content(event, sub)

    def _question(self, event: s.AgentQuestion, sub: str | None) -> list[BaseEvent]:
        """An agent's question ends the AG-UI run with an interrupt, as an approval does."""
        interrupt = Interrupt(
            id=question_interrupt_id(self.run_id, event.run_id, event.question_id),
            reason=QUESTION_REASON,
            message=event.prompt,
            response_schema=event.answer_schema,
            expires_at=datetime.fromtimestamp(event.expires_at, UTC).isoformat(),
            subagent_run_id=sub,
        )
        out = self._close_texts()
        out.append(self._finished(RunFinishedInterruptOutcome(interrupts=[interrupt])))
        self.interrupted = True
        return out

    # --- content shared by the run and its sub-runs -----------------------------------

    def _content(self, event: s.AgentEvent, sub: str | None) -> list[BaseEvent]:
        if isinstance(event, s.AgentThinking):
            return self._thinking(event.content, sub)
        if isinstance(event, s.AgentMessageDelta):
            out = self._open_text(event.message_id, sub)
            if event.content:
                out.append(
                    TextMessageContentEvent(
                        message_id=event.message_id, delta=event.content, subagent_run_id=sub
                    )
                )
            return out
        if isinstance(event, s.AgentMessage):
            if event.message_id in self._texts:
                self._texts.pop(event.message_id)
                return [TextMessageEndEvent(message_id=event.message_id, subagent_run_id=sub)]
            out = self._open_text(event.message_id, sub)
            if event.content:
                out.append(
                    TextMessageContentEvent(
                        message_id=event.message_id, delta=event.content, subagent_run_id=sub
                    )
                )
            self._texts.pop(event.message_id)
            out.append(TextMessageEndEvent(message_id=event.message_id, subagent_run_id=sub))
            return out
        if isinstance(event, s.ToolExecuting):
            return self._call(event.tool_call_id, event.tool_name, event.arguments, sub)
        if isinstance(event, s.ToolCompleted):
            out = self._call(event.tool_call_id, event.tool_name, {}, sub)
            if event.tool_call_id in self._answered:
                return out
            self._answered.add(event.tool_call_id)
            out.append(
                ToolCallResultEvent(
                    message_id=f"{event.tool_call_id}-result",
                    tool_call_id=event.tool_call_id,
                    content=_result_text(event),
                    role="tool",
                    subagent_run_id=sub,
                )
            )
            return out
        return []

    def _thinking(self, content: str, sub: str | None) -> list[BaseEvent]:
        self._thoughts += 1
        # Unique across the AG-UI runs of one head run (a continuation counts afresh).
        mid = f"{self._current}-thinking-{self._thoughts}"
        out: list[BaseEvent] = [
            ReasoningStartEvent(message_id=mid, subagent_run_id=sub),
            ReasoningMessageStartEvent(message_id=mid, subagent_run_id=sub),
        ]
        if content:
            out.append(
                ReasoningMessageContentEvent(message_id=mid, delta=content, subagent_run_id=sub)
            )
        out += [
            ReasoningMessageEndEvent(message_id=mid, subagent_run_id=sub),
            ReasoningEndEvent(message_id=mid, subagent_run_id=sub),
        ]
        return out

    def _open_text(self, message_id: str, sub: str | None) -> list[BaseEvent]:
        if message_id in self._texts:
            return []
        self._texts[message_id] = sub
        return [TextMessageStartEvent(message_id=message_id, role="assistant", subagent_run_id=sub)]

    def _close_texts(self, sub: str | None = None) -> list[BaseEvent]:
        """End the open text messages (of sub-run ``sub`` only, when given)."""
        ending = [mid for mid, owner in self._texts.items() if sub is None or owner == sub]
        out: list[BaseEvent] = []
        for mid in ending:
            out.append(TextMessageEndEvent(message_id=mid, subagent_run_id=self._texts.pop(mid)))
        return out

    def _call(
        self, call_id: str, name: str, arguments: dict[str, Any], sub: str | None
    ) -> list[BaseEvent]:
        if call_id in self._calls:
            return []
        self._calls.add(call_id)
        name, arguments = self._tools.setdefault(call_id, (name, arguments))
        return [
            ToolCallStartEvent(tool_call_id=call_id, tool_call_name=name, subagent_run_id=sub),
            ToolCallArgsEvent(
                tool_call_id=call_id, delta=json.dumps(arguments), subagent_run_id=sub
            ),
            ToolCallEndEvent(tool_call_id=call_id, subagent_run_id=sub),
        ]


def _result_text(event: s.ToolCompleted) -> str:
    """A tool result as the text of AG-UI's tool message."""
    if event.status == "success":
        result = event.result
        return result if isinstance(result, str) else json.dumps(result)
    return json.dumps({"status": event.status, "error": event.error})


# --- the mapping as data: the docs' table, checked against the converter by its tests ---


@dataclass(frozen=True, slots=True)
class HeadMapping:
    """What :class:`RunConverter` makes of one head message type.

    Attributes:
        head: the head message type (``tool_executing``).
        events: the AG-UI event types it may give for the run itself, in the
            order sent. Which of them are sent depends on the run so far
            (``note``); a ``TEXT_MESSAGE_END`` repeats per text message it closes.
        sub_events: the same for a message of a sub-run (every such event
            carries ``subagentRunId``); empty when the message has no sub-run form.
        outcome: ``RUN_FINISHED.outcome.type`` when the message ends the AG-UI
            run with an outcome.
        carried: head field → where its value goes in the AG-UI events.
        note: when each event is sent, in the docs' words.
    """

    head: str
    events: tuple[str, ...]
    sub_events: tuple[str, ...]
    carried: tuple[tuple[str, str], ...]
    note: str
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Unmapped:
    """Something with no counterpart on the other side, and what happens to it.

    Attributes:
        kind: ``message`` (a head message type), ``field`` (``<type>.<field>``
            of a head message), ``event`` (an AG-UI event type we never send)
            or ``input`` (a ``RunAgentInput`` field of ``POST /ag-ui``).
        name: what it is called.
        fate: what happens to it.
    """

    kind: Literal["message", "field", "event", "input"]
    name: str
    fate: str


#: Fields of every agent event, and where they go (beside each type's own ``carried``).
AGENT_EVENT_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("thread_id", "`threadId` of `RUN_STARTED` / `RUN_FINISHED`"),
    (
        "run_id",
        "a sub-run's: `subagentRunId`; the run's own: the SSE event id and the interrupt "
        "id (`runId` is the client's)",
    ),
    ("parent_run_id", "`parentSubagentRunId` of a nested sub-run's `SUBAGENT_STARTED`"),
    ("agent_name", "`name` of a sub-run's `SUBAGENT_STARTED`"),
)

_TEXT_END = "TEXT_MESSAGE_END"
_CALL = ("TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END")
_REASONING = (
    "REASONING_START",
    "REASONING_MESSAGE_START",
    "REASONING_MESSAGE_CONTENT",
    "REASONING_MESSAGE_END",
    "REASONING_END",
)
_CUSTOM_NOTE = (
    "`name` `agentsocket.{type}`, `value` = the message's fields; over SSE only while the "
    "AG-UI run is open (nothing before `RUN_STARTED` or after its end), over WebSocket "
    "between runs too"
)

#: Head message → AG-UI event(s). Any message of the run (or a sub-run) that
#: arrives while no AG-UI run is open (the first one seen, or the first after an
#: interrupt) is preceded by ``RUN_STARTED``.
MAPPING: Final[tuple[HeadMapping, ...]] = (
    HeadMapping(
        s.AgentStarted.TYPE,
        ("RUN_STARTED",),
        ("SUBAGENT_STARTED",),
        (),
        "`RUN_STARTED`: `threadId`, `runId` = the client's `RunAgentInput.runId`, "
        f"`protocolVersion` `{PROTOCOL_VERSION}`",
    ),
    HeadMapping(
        s.AgentThinking.TYPE,
        _REASONING,
        _REASONING,
        (("content", "`delta` of `REASONING_MESSAGE_CONTENT`"),),
        "one reasoning message per status line; no `REASONING_MESSAGE_CONTENT` for empty content",
    ),
    HeadMapping(
        s.AgentMessageDelta.TYPE,
        ("TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"),
        ("TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"),
        (("message_id", "`messageId`"), ("content", "`delta` of `TEXT_MESSAGE_CONTENT`")),
        "`TEXT_MESSAGE_START` (role `assistant`) for the first delta of a message only; "
        "no `TEXT_MESSAGE_CONTENT` for an empty delta",
    ),
    HeadMapping(
        s.AgentMessage.TYPE,
        ("TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", _TEXT_END),
        ("TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", _TEXT_END),
        (
            ("message_id", "`messageId`"),
            ("content", "`delta` of `TEXT_MESSAGE_CONTENT`, when no delta came"),
        ),
        "`TEXT_MESSAGE_END` of the message the deltas built; `START` and `CONTENT` "
        "first only when no delta came",
    ),
    HeadMapping(
        s.ToolExecuting.TYPE,
        _CALL,
        _CALL,
        (
            ("tool_call_id", "`toolCallId`"),
            ("tool_name", "`toolCallName` of `TOOL_CALL_START`"),
            ("arguments", "`delta` of `TOOL_CALL_ARGS`: the arguments as one JSON text"),
        ),
        "the whole call at once",
    ),
    HeadMapping(
        s.ToolCompleted.TYPE,
        (*_CALL, "TOOL_CALL_RESULT"),
        (*_CALL, "TOOL_CALL_RESULT"),
        (
            ("tool_call_id", "`toolCallId`; `messageId` `<toolCallId>-result`"),
            ("tool_name", "`toolCallName`, when the call is restated"),
            ("status", '`content`: `{"status", "error"}` as JSON for `error` / `denied`'),
            ("result", "`content` for `success`: the text, or JSON"),
            ("error", "`content` for `error` / `denied`"),
        ),
        "`TOOL_CALL_RESULT` (role `tool`); the call is restated first when this AG-UI run "
        "has not sent it (a continuation after an interrupt)",
    ),
    HeadMapping(
        s.ToolApprovalRequired.TYPE,
        (*_CALL, _TEXT_END, "RUN_FINISHED"),
        (*_CALL, _TEXT_END, "RUN_FINISHED"),
        (
            ("tool_call_id", "`toolCallId`; the interrupt's `id` and `toolCallId`"),
            ("tool_name", "`toolCallName`; the interrupt's `message` (`Allow <tool>?`)"),
            ("arguments", "`delta` of `TOOL_CALL_ARGS`"),
        ),
        f"the call, open text messages ended, then `RUN_FINISHED` with an `interrupt` outcome "
        f"(`reason` `{APPROVAL_REASON}`, a `responseSchema`; for a sub-run the interrupt "
        "carries `subagentRunId`). The run's next message opens a new AG-UI run "
        "(`runId` `<client run id>.<n>`, or the resuming request's own)",
        outcome="interrupt",
    ),
    HeadMapping(
        s.AgentQuestion.TYPE,
        (_TEXT_END, "RUN_FINISHED"),
        (_TEXT_END, "RUN_FINISHED"),
        (
            ("question_id", "the interrupt's `id` (`<root run>:<run>:?<question id>`)"),
            ("prompt", "the interrupt's `message`"),
            ("answer_schema", "the interrupt's `responseSchema`"),
            ("expires_at", "the interrupt's `expiresAt` (ISO 8601, UTC)"),
        ),
        f"open text messages ended, then `RUN_FINISHED` with an `interrupt` outcome "
        f"(`reason` `{QUESTION_REASON}`; for a sub-run the interrupt carries "
        "`subagentRunId`). A resume entry's `payload` is the answer; the run's next "
        "message opens a new AG-UI run, as after an approval",
        outcome="interrupt",
    ),
    HeadMapping(
        s.AgentCompleted.TYPE,
        (_TEXT_END, "RUN_FINISHED"),
        (_TEXT_END, "SUBAGENT_FINISHED"),
        (
            (
                "usage",
                "`RUN_FINISHED.usage`: one `TokenUsage` "
                "(`inputTokens`, `outputTokens`, `totalTokens`)",
            ),
        ),
        "open text messages ended first; `RUN_FINISHED` without an outcome is success",
    ),
    HeadMapping(
        s.AgentError.TYPE,
        (_TEXT_END, "RUN_ERROR"),
        (_TEXT_END, "SUBAGENT_ERROR"),
        (("code", "`code` (an `AgentErrorCode` value)"), ("message", "`message`")),
        "open text messages ended first",
    ),
    HeadMapping(
        s.AgentCancelled.TYPE,
        (_TEXT_END, "RUN_FINISHED"),
        (_TEXT_END, "SUBAGENT_ERROR"),
        (("reason", "a sub-run's: `message` `cancelled: <reason>` (`code` `cancelled`)"),),
        "open text messages ended first; AG-UI 1.0's `cancelled` outcome means stopped "
        "before it completed, not failed",
        outcome="cancelled",
    ),
    HeadMapping(
        s.ThreadCreated.TYPE,
        ("CUSTOM",),
        (),
        (("thread", "`value.thread`"),),
        _CUSTOM_NOTE.format(type=s.ThreadCreated.TYPE),
    ),
    HeadMapping(
        s.ThreadRenamed.TYPE,
        ("CUSTOM",),
        (),
        (("thread", "`value.thread`"),),
        _CUSTOM_NOTE.format(type=s.ThreadRenamed.TYPE),
    ),
    HeadMapping(
        s.ThreadDeleted.TYPE,
        ("CUSTOM",),
        (),
        (("thread_id", "`value.thread_id`"),),
        _CUSTOM_NOTE.format(type=s.ThreadDeleted.TYPE),
    ),
    HeadMapping(
        s.StreamGap.TYPE,
        ("CUSTOM",),
        (),
        tuple((name, f"`value.{name}`") for name in ("epoch", "from_seq", "to_seq", "reason")),
        _CUSTOM_NOTE.format(type=s.StreamGap.TYPE)
        + "; over SSE, a lost history (`epoch_changed`) is followed by `RUN_ERROR` "
        "`stream_lost`",
    ),
)

_REPLY = "not converted: a reply to one WebSocket connection's request"
_WS_CUSTOM = "; over WebSocket (`agentsocket.ag-ui`): `CUSTOM` `agentsocket.{type}`"

#: What has no counterpart, either way.
NO_COUNTERPART: Final[tuple[Unmapped, ...]] = (
    Unmapped(
        "message",
        s.ConnectionEstablished.TYPE,
        "not converted: the AG-UI stream opens with `RUN_STARTED`"
        + _WS_CUSTOM.format(type=s.ConnectionEstablished.TYPE)
        + ", the first frame (its `stream` is the position to resume from)",
    ),
    Unmapped("message", s.Pong.TYPE, _REPLY + "; SSE sends `: keepalive` comments instead"),
    Unmapped(
        "message",
        s.Error.TYPE,
        _REPLY
        + "; `POST /ag-ui` refuses with an HTTP status and a JSON error body"
        + _WS_CUSTOM.format(type=s.Error.TYPE),
    ),
    Unmapped(
        "message",
        s.DeprecationNotice.TYPE,
        "not converted: it concerns our own versions"
        + _WS_CUSTOM.format(type=s.DeprecationNotice.TYPE),
    ),
    Unmapped(
        "message",
        s.ServerShutdown.TYPE,
        "not converted: the SSE stream ends; resume with `Last-Event-ID` on another node"
        + _WS_CUSTOM.format(type=s.ServerShutdown.TYPE),
    ),
    Unmapped(
        "message",
        s.MessageReceived.TYPE,
        _REPLY
        + "; the `POST` itself is the request"
        + _WS_CUSTOM.format(type=s.MessageReceived.TYPE)
        + " (its `run_id` is what the stop frame names)",
    ),
    Unmapped(
        "message",
        s.UserMessageAccepted.TYPE,
        "not converted: the `POST` carries the user's message itself",
    ),
    Unmapped(
        "message",
        s.InterruptResolved.TYPE,
        "not converted: the run's continuation (a new AG-UI run, or `TOOL_CALL_RESULT`) "
        "shows the outcome",
    ),
    Unmapped("message", s.ThreadList.TYPE, _REPLY),
    Unmapped("message", s.ThreadHistory.TYPE, _REPLY),
    Unmapped(
        "field",
        "agent_started.agent_name",
        "not sent for the run itself (AG-UI's `RUN_STARTED` has no agent name)",
    ),
    Unmapped("field", "tool_completed.duration_ms", "not sent"),
    Unmapped(
        "field",
        "agent_question.timeout_seconds",
        "not sent: `expiresAt` says when; unanswered by then, the default applies",
    ),
    Unmapped("field", "agent_question.default", "not sent (applied if nobody answers)"),
    Unmapped("field", "tool_approval_required.expires_at", "not sent"),
    Unmapped(
        "field",
        "tool_approval_required.on_expiry",
        "not sent; a call nobody answered is denied or approved as it says",
    ),
    Unmapped(
        "field",
        "tool_approval_required.arguments_schema",
        "not sent: AG-UI approvals cannot edit arguments",
    ),
    Unmapped(
        "field",
        "tool_approval_required.timeout_seconds",
        "not sent; when it passes unanswered, the call is denied (`TOOL_CALL_RESULT`)",
    ),
    Unmapped("field", "agent_completed.duration_ms", "not sent"),
    Unmapped("field", "agent_error.retryable", "not sent (`RUN_ERROR` has no such field)"),
    Unmapped(
        "field",
        "agent_cancelled.reason",
        "not sent for the run itself: the `cancelled` outcome has no reason",
    ),
    Unmapped(
        "field",
        "agent_message.content",
        "not sent again after deltas: they carried the text already",
    ),
    Unmapped(
        "event",
        "STEP_STARTED",
        "never sent: sub-agents are `SUBAGENT_*` events, not steps",
    ),
    Unmapped("event", "STEP_FINISHED", "never sent (see `STEP_STARTED`)"),
    Unmapped(
        "event",
        "TEXT_MESSAGE_CHUNK",
        "never sent: text always comes as `TEXT_MESSAGE_START` / `_CONTENT` / `_END`",
    ),
    Unmapped(
        "event",
        "TOOL_CALL_CHUNK",
        "never sent: calls always come as `TOOL_CALL_START` / `_ARGS` / `_END`",
    ),
    Unmapped(
        "event",
        "REASONING_MESSAGE_CHUNK",
        "never sent: reasoning always comes as `REASONING_MESSAGE_START` / `_CONTENT` / `_END`",
    ),
    Unmapped(
        "event",
        "REASONING_ENCRYPTED_VALUE",
        "never sent: our status lines are plain text",
    ),
    Unmapped(
        "event", "STATE_SNAPSHOT", "never sent: agents keep no shared state with the front end"
    ),
    Unmapped("event", "STATE_DELTA", "never sent (see `STATE_SNAPSHOT`)"),
    Unmapped(
        "event",
        "MESSAGES_SNAPSHOT",
        "never sent: the thread's history is read over the WebSocket (`get_thread_history`)",
    ),
    Unmapped("event", "ACTIVITY_SNAPSHOT", "never sent: nothing of ours maps to it"),
    Unmapped("event", "ACTIVITY_DELTA", "never sent: nothing of ours maps to it"),
    Unmapped("event", "RAW", "never sent: every event is converted"),
    Unmapped(
        "input",
        "RunAgentInput.messages",
        "only the last user message's text is used: the thread keeps its own history",
    ),
    Unmapped(
        "input",
        "RunAgentInput.tools",
        "ignored: front-end tools are not offered to our agents; an input whose last message "
        "is a `tool` result is refused with `unknown_tool`",
    ),
    Unmapped("input", "RunAgentInput.state", "ignored"),
    Unmapped("input", "RunAgentInput.context", "ignored"),
)
