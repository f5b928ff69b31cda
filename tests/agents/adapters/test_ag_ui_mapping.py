"""The pure AG-UI mapping: literal events in, actions out; the request body; event parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ag_ui.core import (
    AssistantMessage,
    ImagePart,
    Interrupt,
    RunAgentInput,
    TextMessageContentEvent,
    TextPart,
    ToolMessage,
    UrlSource,
)

from agentsocket.agents.adapters.ag_ui import RunMapper, UpstreamProtocolError, parse_event
from agentsocket.agents.adapters.ag_ui.mapping import (
    Action,
    CloseMessage,
    Fail,
    Finish,
    FinishTool,
    OpenMessage,
    Skip,
    StartTool,
    Think,
    UnknownEvent,
    WriteMessage,
    conversation,
    encode_input,
    message_id,
    parse_arguments,
    result_value,
    resume_entry,
    run_input,
)

STARTED = {"type": "RUN_STARTED", "threadId": "t1", "runId": "r1"}
FINISHED = {"type": "RUN_FINISHED", "threadId": "t1", "runId": "r1"}


def _feed(mapper: RunMapper, *events: dict[str, Any]) -> list[Action]:
    return [action for event in events for action in mapper.feed(parse_event(json.dumps(event)))]


def _map(*events: dict[str, Any]) -> list[Action]:
    return _feed(RunMapper(), STARTED, *events)


# --- the request -----------------------------------------------------------------


def test__conversation__user_and_assistant_turns_then_the_prompt_with_stable_ids() -> None:
    history = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "left out"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "hi"},
    ]

    messages = conversation("t1", history, "again")

    assert [(m.role, m.content) for m in messages] == [
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "hi"),
        ("user", "again"),
    ]
    ids = [m.id for m in messages]
    assert ids[0] == message_id("t1", "user", "hi") != ids[2] == message_id("t1", "user", "hi", 1)
    assert ids == [m.id for m in conversation("t1", history, "again")]
    assert message_id("t2", "user", "hi") != ids[0]


def test__run_input__camel_case_valid_run_agent_input_without_resume() -> None:
    body = encode_input(run_input("t1", "r1", conversation("t1", [], "q")))

    raw = json.loads(body)
    assert raw["threadId"] == "t1"
    assert raw["runId"] == "r1"
    assert raw["protocolVersion"] == "1.0"
    assert (raw["tools"], raw["state"], raw["context"], raw["forwardedProps"]) == ([], {}, [], {})
    assert "resume" not in raw
    assert RunAgentInput.model_validate_json(body).messages[0].content == "q"


def test__resume_entry__approved_and_reason_as_payload() -> None:
    interrupt = Interrupt(id="i1", reason="tool_approval")

    denied = json.loads(resume_entry(interrupt, False, "not now").model_dump_json(by_alias=True))
    approved = resume_entry(interrupt, True, None)

    assert denied == {
        "interruptId": "i1",
        "status": "resolved",
        "payload": {"approved": False, "reason": "not now"},
    }
    assert approved.payload == {"approved": True}


# --- parsing ---------------------------------------------------------------------


def test__parse_event__the_official_model() -> None:
    event = parse_event('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "hi"}')

    assert isinstance(event, TextMessageContentEvent)
    assert (event.message_id, event.delta) == ("m1", "hi")


def test__parse_event_of_unknown_type__unknown_event_with_a_short_name() -> None:
    assert parse_event('{"type": "THINKING_START"}') == UnknownEvent("THINKING_START")
    assert parse_event(json.dumps({"type": "X" * 500})) == UnknownEvent("X" * 64)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("{oops", "not JSON"),
        ("[1]", "string"),
        ('{"type": 3}', "string"),
        (
            '{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1"}',
            "TEXT_MESSAGE_CONTENT event: delta",
        ),
    ],
)
def test__parse_event_invalid__protocol_error(data: str, fragment: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=fragment):
        parse_event(data)


# --- mapping ---------------------------------------------------------------------


def test__text_message__open_write_close() -> None:
    actions = _map(
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "a"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "b"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        FINISHED,
    )

    assert actions == [
        OpenMessage("m1"),
        WriteMessage("m1", "a"),
        WriteMessage("m1", "b"),
        CloseMessage("m1"),
        Finish(),
    ]


def test__text_chunks__opened_and_closed_implicitly() -> None:
    actions = _map(
        {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m1", "delta": "a"},
        {"type": "TEXT_MESSAGE_CHUNK", "delta": "b"},
        {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m2", "delta": "c"},
        {"type": "STEP_STARTED", "stepName": "s"},
    )

    assert actions == [
        OpenMessage("m1"),
        WriteMessage("m1", "a"),
        WriteMessage("m1", "b"),
        CloseMessage("m1"),
        OpenMessage("m2"),
        WriteMessage("m2", "c"),
        CloseMessage("m2"),
        Think("Started step: s"),
    ]


def test__message_of_another_role__not_streamed() -> None:
    actions = _map(
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "developer"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "internal"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
    )

    assert actions == [Skip("TEXT_MESSAGE_START")]


def test__run_finished_with_a_message_open__closed_first() -> None:
    actions = _map({"type": "TEXT_MESSAGE_START", "messageId": "m1"}, FINISHED)

    assert actions == [OpenMessage("m1"), CloseMessage("m1"), Finish()]


def test__tool_call__started_at_its_end_with_parsed_arguments_then_its_result() -> None:
    mapper = RunMapper()
    actions = _feed(
        mapper,
        STARTED,
        {"type": "TEXT_MESSAGE_START", "messageId": "m1"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        {
            "type": "TOOL_CALL_START",
            "toolCallId": "c1",
            "toolCallName": "f",
            "parentMessageId": "m1",
        },
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"x"'},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": ": 1}"},
        {"type": "TOOL_CALL_END", "toolCallId": "c1"},
        {"type": "TOOL_CALL_RESULT", "messageId": "r1", "toolCallId": "c1", "content": "ok"},
    )

    assert actions[2:] == [StartTool("c1", "f", {"x": 1}), FinishTool("c1", "ok")]
    assert mapper.tool_call("c1") == ("f", {"x": 1})
    assert mapper.tool_call("nope") is None
    # The call joins its parent message in the transcript sent back when resuming.
    assistant, tool = mapper.transcript
    assert isinstance(assistant, AssistantMessage)
    assert isinstance(tool, ToolMessage)
    assert assistant.id == "m1"
    assert [c.function.arguments for c in assistant.tool_calls or []] == ['{"x": 1}']
    assert (tool.tool_call_id, tool.content) == ("c1", "ok")


def test__tool_call_chunks__started_when_the_next_event_comes() -> None:
    actions = _map(
        {"type": "TOOL_CALL_CHUNK", "toolCallId": "c1", "toolCallName": "f", "delta": '{"a"'},
        {"type": "TOOL_CALL_CHUNK", "delta": ": 2}"},
        {"type": "TOOL_CALL_CHUNK", "toolCallId": "c2", "toolCallName": "g"},
        FINISHED,
    )

    assert actions == [StartTool("c1", "f", {"a": 2}), StartTool("c2", "g", {}), Finish()]


def test__reasoning__one_thought_per_message() -> None:
    actions = _map(
        {"type": "REASONING_START", "messageId": "r"},
        {"type": "REASONING_MESSAGE_START", "messageId": "r1", "role": "reasoning"},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r1", "delta": "Let me "},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r1", "delta": "think."},
        {"type": "REASONING_MESSAGE_END", "messageId": "r1"},
        {"type": "REASONING_MESSAGE_CHUNK", "messageId": "r2", "delta": "More."},
        {"type": "REASONING_MESSAGE_CHUNK", "messageId": "r3", "delta": "   "},
        {"type": "REASONING_END", "messageId": "r"},
    )

    assert actions == [Think("Let me think."), Think("More.")]


def test__run_finished_outcomes__interrupts_or_failure() -> None:
    interrupt = {"id": "i1", "reason": "tool_approval", "toolCallId": "c1"}
    paused = _map({**FINISHED, "outcome": {"type": "interrupt", "interrupts": [interrupt]}})
    cancelled = _map({**FINISHED, "outcome": {"type": "cancelled"}})
    failed = _map({"type": "RUN_ERROR", "message": "boom", "code": "E1"})

    [finish] = paused
    assert isinstance(finish, Finish)
    assert [(i.id, i.tool_call_id) for i in finish.interrupts] == [("i1", "c1")]
    assert cancelled == [Fail("the agent server cancelled the run", "cancelled")]
    assert failed == [Fail("boom", "E1")]


def test__events_without_counterpart__skipped_with_their_type() -> None:
    actions = _map(
        {"type": "STATE_DELTA", "delta": []},
        {"type": "MESSAGES_SNAPSHOT", "messages": []},
        {"type": "RAW", "event": {}},
        {"type": "CUSTOM", "name": "x", "value": None},
        {"type": "SOMETHING_NEW"},
    )

    assert actions == [
        Skip("STATE_DELTA"),
        Skip("MESSAGES_SNAPSHOT"),
        Skip("RAW"),
        Skip("CUSTOM"),
        Skip("UNKNOWN"),
    ]


def test__next_request__a_resumed_run_may_answer_earlier_calls() -> None:
    mapper = RunMapper()
    _feed(
        mapper,
        STARTED,
        {"type": "TOOL_CALL_START", "toolCallId": "c1", "toolCallName": "f"},
        {"type": "TOOL_CALL_END", "toolCallId": "c1"},
        FINISHED,
    )
    assert mapper.finished

    mapper.next_request()
    actions = _feed(
        mapper,
        STARTED,
        {"type": "TOOL_CALL_RESULT", "messageId": "r", "toolCallId": "c1", "content": "done"},
    )

    assert actions == [FinishTool("c1", "done")]
    assert not mapper.finished


@pytest.mark.parametrize(
    ("events", "fragment"),
    [
        ([{"type": "TEXT_MESSAGE_START", "messageId": "m1"}], "before RUN_STARTED"),
        ([STARTED, STARTED], "second RUN_STARTED"),
        ([STARTED, FINISHED, {"type": "STEP_STARTED", "stepName": "s"}], "after RUN_FINISHED"),
        ([STARTED, {"type": "RUN_ERROR", "message": "x"}, FINISHED], "after RUN_ERROR"),
        ([STARTED, FINISHED, {"type": "NEW_THING"}], "NEW_THING after RUN_FINISHED"),
        ([STARTED, {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "x"}], "not open"),
        ([STARTED, {"type": "TEXT_MESSAGE_END", "messageId": "m"}], "not open"),
        (
            [STARTED, *[{"type": "TEXT_MESSAGE_START", "messageId": "m"}] * 2],
            "open message",
        ),
        ([STARTED, {"type": "TEXT_MESSAGE_CHUNK", "delta": "x"}], "without messageId"),
        ([STARTED, {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": "{}"}], "unknown"),
        ([STARTED, {"type": "TOOL_CALL_END", "toolCallId": "c"}], "unknown"),
        (
            [
                STARTED,
                {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"},
                {"type": "TOOL_CALL_END", "toolCallId": "c"},
                {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": "{}"},
            ],
            "after its end",
        ),
        (
            [
                STARTED,
                *[{"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"}] * 2,
            ],
            "again",
        ),
        (
            [
                STARTED,
                {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"},
                {"type": "TOOL_CALL_RESULT", "messageId": "r", "toolCallId": "c", "content": ""},
            ],
            "before its end",
        ),
        (
            [
                STARTED,
                {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"},
                {"type": "TOOL_CALL_END", "toolCallId": "c"},
                *[{"type": "TOOL_CALL_RESULT", "messageId": "r", "toolCallId": "c", "content": ""}]
                * 2,
            ],
            "second TOOL_CALL_RESULT",
        ),
        ([STARTED, {"type": "TOOL_CALL_CHUNK", "delta": "{}"}], "without toolCallId"),
        ([STARTED, {"type": "TOOL_CALL_CHUNK", "toolCallId": "c"}], "without toolCallName"),
        (
            [STARTED, {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r", "delta": "x"}],
            "not open",
        ),
        ([STARTED, {"type": "REASONING_MESSAGE_CHUNK", "delta": "x"}], "without messageId"),
        (
            [STARTED, *[{"type": "REASONING_MESSAGE_START", "messageId": "r"}] * 2],
            "open message",
        ),
    ],
)
def test__out_of_order__protocol_error(events: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(UpstreamProtocolError, match=fragment):
        _feed(RunMapper(), *events)


# --- values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("  ", {}),
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", {"arguments": [1, 2]}),
        ('{"a": ', {"arguments": '{"a": '}),
    ],
)
def test__parse_arguments(text: str, expected: dict[str, Any]) -> None:
    assert parse_arguments(text) == expected


def test__result_value__text_or_joined_text_parts_else_the_parts_as_json() -> None:
    image = ImagePart(source=UrlSource(value="https://example.com/a.png"))

    assert result_value("42") == "42"
    assert result_value([TextPart(text="4"), TextPart(text="2")]) == "42"
    assert result_value([TextPart(text="see"), image]) == [
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "url", "value": "https://example.com/a.png"}},
    ]
