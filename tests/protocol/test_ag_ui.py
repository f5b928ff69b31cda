"""The AG-UI dialect: literal head messages in, AG-UI events out, checked by AG-UI's own tools."""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import BaseEvent, Event
from ag_ui_validate.pytest_plugin import assert_valid_agui
from pydantic import TypeAdapter

from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import (
    RunConverter,
    encode_event,
    interrupt_id,
    parse_interrupt_id,
    question_interrupt_id,
    question_of,
)
from agentsocket.protocol.message import ServerMessage

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
RUN = "run-1"
THREAD = "thread-1"


def ev(kind: type[s.AgentEvent], run_id: str = RUN, **fields: Any) -> s.AgentEvent:
    parent = fields.pop("parent_run_id", None)
    return kind(run_id=run_id, thread_id=THREAD, agent_name="demo", parent_run_id=parent, **fields)


def convert(messages: list[ServerMessage], **options: Any) -> list[dict[str, Any]]:
    """Run ``messages`` through one converter; every event re-read by ``ag_ui.core``."""
    converter = RunConverter(RUN, **options)
    wire: list[dict[str, Any]] = []
    for message in messages:
        for event in converter.convert(message):
            assert isinstance(event, BaseEvent)
            text = encode_event(event)
            assert _EVENT.validate_json(text) == event  # the official models read it back
            wire.append(json.loads(text))
    return wire


def types(wire: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in wire]


def tool_run() -> list[ServerMessage]:
    return [
        ev(s.AgentStarted),
        ev(s.AgentThinking, content="Working out 17*23"),
        ev(s.ToolExecuting, tool_call_id="call-1", tool_name="calc", arguments={"x": "17*23"}),
        ev(
            s.ToolCompleted,
            tool_call_id="call-1",
            tool_name="calc",
            status="success",
            result={"value": 391},
            duration_ms=1.0,
        ),
        ev(s.AgentMessageDelta, message_id="m-1", content="17*23 = "),
        ev(s.AgentMessageDelta, message_id="m-1", content="0x187"),
        ev(s.AgentMessage, message_id="m-1", content="17*23 = 0x187"),
        ev(s.AgentCompleted, duration_ms=5.0),
    ]


def test__text_and_tool_run__converted__valid_stream_in_ag_ui_order() -> None:
    wire = convert(tool_run(), agui_run_id="client-run")

    assert types(wire) == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert wire[0] == {
        "type": "RUN_STARTED",
        "threadId": THREAD,
        "runId": "client-run",
        "protocolVersion": "1.0",
    }
    assert json.loads(wire[7]["delta"]) == {"x": "17*23"}
    assert wire[9]["toolCallId"] == "call-1"
    assert json.loads(wire[9]["content"]) == {"value": 391}
    assert wire[-1] == {"type": "RUN_FINISHED", "threadId": THREAD, "runId": "client-run"}
    assert_valid_agui(wire)


def test__answer_without_deltas__converted__start_content_end() -> None:
    wire = convert(
        [ev(s.AgentMessage, message_id="m-1", content="hi"), ev(s.AgentCompleted, duration_ms=1)]
    )

    assert types(wire) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert wire[0]["runId"] == RUN  # no client run id: the head run's
    assert_valid_agui(wire)


def test__sub_agent_run__converted__subagent_events_attribute_its_content() -> None:
    sub = "run-sub"
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentStarted, run_id=sub, parent_run_id=RUN),
            ev(s.AgentMessageDelta, run_id=sub, parent_run_id=RUN, message_id="m-s", content="x"),
            ev(s.AgentMessage, run_id=sub, parent_run_id=RUN, message_id="m-s", content="x"),
            ev(s.AgentCompleted, run_id=sub, parent_run_id=RUN, duration_ms=1),
            ev(s.AgentStarted, run_id="run-sub-2", parent_run_id=RUN),
            ev(
                s.AgentError,
                run_id="run-sub-2",
                parent_run_id=RUN,
                code="x",
                message="boom",
                retryable=False,
            ),
            ev(s.AgentMessage, message_id="m-1", content="done"),
            ev(s.AgentCompleted, duration_ms=2),
        ]
    )

    assert types(wire) == [
        "RUN_STARTED",
        "SUBAGENT_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "SUBAGENT_FINISHED",
        "SUBAGENT_STARTED",
        "SUBAGENT_ERROR",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert wire[1] == {"type": "SUBAGENT_STARTED", "subagentRunId": sub, "name": "demo"}
    assert all(event["subagentRunId"] == sub for event in wire[2:6])
    assert "subagentRunId" not in wire[8]
    assert_valid_agui(wire)


def approval_run() -> list[ServerMessage]:
    return [
        ev(s.AgentStarted),
        ev(
            s.ToolApprovalRequired,
            tool_call_id="call-9",
            tool_name="delete_files",
            arguments={"path": "/tmp/x"},
            timeout_seconds=30,
        ),
        ev(
            s.ToolCompleted,
            tool_call_id="call-9",
            tool_name="delete_files",
            status="denied",
            error="not today",
            duration_ms=0,
        ),
        ev(s.AgentMessage, message_id="m-1", content="I did not delete them."),
        ev(s.AgentCompleted, duration_ms=3),
    ]


def test__approval__converted__run_finishes_with_interrupt_then_continues_as_new_run() -> None:
    wire = convert(approval_run(), agui_run_id="client-run")

    assert types(wire) == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_FINISHED",
        "RUN_STARTED",
        "TOOL_CALL_START",  # AG-UI tool calls are run-scoped: restated before the result
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    interrupted = wire[4]
    assert interrupted["runId"] == "client-run"
    assert interrupted["outcome"]["type"] == "interrupt"
    (interrupt,) = interrupted["outcome"]["interrupts"]
    assert interrupt["toolCallId"] == "call-9"
    assert parse_interrupt_id(interrupt["id"]) == (RUN, RUN, "call-9")
    assert interrupt["reason"] == "tool_approval"
    assert wire[5]["runId"] == wire[13]["runId"] == "client-run.1"
    assert wire[7]["delta"] == wire[2]["delta"] == '{"path": "/tmp/x"}'
    assert json.loads(wire[9]["content"]) == {"status": "denied", "error": "not today"}
    assert_valid_agui(wire[:5])  # the interrupted run, as an SSE client gets it
    assert_valid_agui(wire[5:])  # its continuation


def test__interrupted_converter__next_event__is_a_new_segment_not_finished() -> None:
    converter = RunConverter(RUN)
    for message in approval_run()[:2]:
        converter.convert(message)

    assert converter.interrupted
    assert not converter.finished


def test__resumed_converter__continuation__opens_with_the_clients_run_id() -> None:
    wire = convert(approval_run()[2:], agui_run_id="resume-run")

    assert wire[0]["type"] == "RUN_STARTED"
    assert wire[0]["runId"] == "resume-run"
    assert types(wire)[1:4] == ["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END"]
    assert_valid_agui(wire)


def test__cancelled_mid_message__converted__message_closed_and_cancelled_outcome() -> None:
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentMessageDelta, message_id="m-1", content="Once upon"),
            ev(s.AgentCancelled, reason="user"),
        ]
    )

    assert types(wire) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert wire[-1]["outcome"] == {"type": "cancelled"}
    assert_valid_agui(wire)


def test__error_mid_tool__converted__run_error_last() -> None:
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.ToolExecuting, tool_call_id="c", tool_name="calc", arguments={}),
            ev(s.AgentError, code="agent_failed", message="model down", retryable=True),
            ev(s.AgentMessage, message_id="late", content="never shown"),
        ]
    )

    assert types(wire) == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "RUN_ERROR",
    ]
    assert wire[-1] == {"type": "RUN_ERROR", "message": "model down", "code": "agent_failed"}
    assert_valid_agui(wire)


def test__thread_ops_and_gaps__only_while_open__custom_events() -> None:
    info = s.ThreadInfo(thread_id=THREAD, title="t", created_at=1.0, updated_at=1.0)
    wire = convert(
        [
            s.ThreadCreated(thread=info),  # before the run: not its event
            ev(s.AgentStarted),
            s.ThreadRenamed(thread=info),
            s.StreamGap(epoch="e", from_seq=3, to_seq=4, reason="retention"),
            ev(s.AgentCompleted, duration_ms=1),
            s.ThreadDeleted(thread_id=THREAD),  # after the run: nothing
        ]
    )

    assert types(wire) == ["RUN_STARTED", "CUSTOM", "CUSTOM", "RUN_FINISHED"]
    assert wire[1]["name"] == "agentsocket.thread_renamed"
    assert wire[1]["value"]["thread"]["title"] == "t"
    assert wire[2] == {
        "type": "CUSTOM",
        "name": "agentsocket.stream_gap",
        "value": {"epoch": "e", "from_seq": 3, "to_seq": 4, "reason": "retention"},
    }
    assert_valid_agui(wire)


def test__other_runs_and_replies__ignored() -> None:
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentMessage, run_id="someone-else", message_id="x", content="no"),
            s.Pong(server_time=1.0),
            ev(s.AgentCompleted, duration_ms=1),
        ]
    )

    assert types(wire) == ["RUN_STARTED", "RUN_FINISHED"]


def test__joined_mid_run__first_event__opens_the_run() -> None:
    wire = convert(tool_run()[4:])

    assert types(wire)[:3] == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"]
    assert_valid_agui(wire)


SCHEMA = {"type": "object", "properties": {"rating": {"type": "integer"}}, "required": ["rating"]}


def question(run_id: str = RUN, **fields: Any) -> s.AgentEvent:
    return ev(
        s.AgentQuestion,
        run_id,
        question_id="q_1",
        prompt="How would you rate this demo?",
        answer_schema=SCHEMA,
        timeout_seconds=120.0,
        expires_at=1767225720.0,
        default=None,
        **fields,
    )


def answered(run_id: str = RUN) -> s.AgentEvent:
    # Built directly: its ``kind`` field would clash with ev()'s first parameter.
    return s.InterruptResolved(
        run_id=run_id,
        thread_id=THREAD,
        agent_name="demo",
        interrupt_id="q_1",
        kind="question",
        resolution="answered",
        answer={"rating": 4},
        answered_by="ag-ui-http",
        message="The question was answered.",
    )


def test__question__run_finishes_with_an_interrupt_carrying_its_schema__then_continues() -> None:
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentMessageDelta, message_id="m-1", content="One question first"),
            question(),
            answered(),
            ev(s.AgentMessage, message_id="m-2", content="Thanks: you rated it 4/5."),
            ev(s.AgentCompleted, duration_ms=5.0),
        ],
        agui_run_id="client-run",
    )

    assert types(wire) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",  # open text ends before the interrupt
        "RUN_FINISHED",
        "RUN_STARTED",  # the resolution opens the continuation, and says nothing more
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    (interrupt,) = wire[4]["outcome"]["interrupts"]
    assert interrupt == {
        "id": f"{RUN}:{RUN}:?q_1",
        "reason": "agentsocket.question",
        "message": "How would you rate this demo?",
        "responseSchema": SCHEMA,
        "expiresAt": "2026-01-01T00:02:00+00:00",
    }
    assert wire[5]["runId"] == "client-run.1"
    assert_valid_agui(wire[:5])
    assert_valid_agui(wire[5:])


def test__question_of_a_sub_run__interrupt_names_the_sub_run() -> None:
    sub = "run-sub"
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentStarted, run_id=sub, parent_run_id=RUN),
            question(sub, parent_run_id=RUN),
        ]
    )

    assert types(wire) == ["RUN_STARTED", "SUBAGENT_STARTED", "RUN_FINISHED"]
    (interrupt,) = wire[-1]["outcome"]["interrupts"]
    assert interrupt["subagentRunId"] == sub
    assert parse_interrupt_id(interrupt["id"]) == (RUN, sub, "?q_1")
    assert question_of("?q_1") == "q_1"


def test__question_interrupt_id__told_apart_from_any_tool_call_id() -> None:
    assert parse_interrupt_id(question_interrupt_id("run_a", "run_b", "q:1")) == (
        "run_a",
        "run_b",
        "?q:1",
    )
    assert question_of("?q:1") == "q:1"
    assert question_of("call:x") is None
    assert question_of("?") is None


def test__interrupt_id__any_tool_call_id__round_trips() -> None:
    assert parse_interrupt_id(interrupt_id("run_a", "run_b", "call:x:y")) == (
        "run_a",
        "run_b",
        "call:x:y",
    )
    assert parse_interrupt_id("call-9") is None
    assert parse_interrupt_id("::x") is None


def test__joined_inside_a_sub_run__opens_the_run_with_its_thread() -> None:
    wire = convert(
        [
            ev(s.AgentThinking, run_id="run-sub", parent_run_id=RUN, content="hm"),
            ev(s.AgentCompleted, run_id="run-sub", parent_run_id=RUN, duration_ms=1),
            ev(s.AgentCompleted, duration_ms=2),
        ]
    )

    assert wire[0] == {
        "type": "RUN_STARTED",
        "threadId": THREAD,
        "runId": RUN,
        "protocolVersion": "1.0",
    }
    assert wire[1]["subagentRunId"] == "run-sub"
    assert [e["type"] for e in wire[-2:]] == ["SUBAGENT_FINISHED", "RUN_FINISHED"]


def test__usage__on_run_finished_as_ag_ui_token_usage() -> None:
    usage = s.Usage(input_tokens=120, output_tokens=30, total_tokens=150)
    wire = convert([ev(s.AgentStarted), ev(s.AgentCompleted, duration_ms=1, usage=usage)])

    finished = wire[-1]
    assert finished["type"] == "RUN_FINISHED"
    assert finished["usage"] == [{"inputTokens": 120, "outputTokens": 30, "totalTokens": 150}]
    assert_valid_agui(wire)


def test__no_usage_or_a_sub_runs_usage__not_on_run_finished() -> None:
    sub_usage = s.Usage(input_tokens=1, output_tokens=1, total_tokens=2)
    wire = convert(
        [
            ev(s.AgentStarted),
            ev(s.AgentStarted, run_id="sub-1", parent_run_id=RUN),
            ev(s.AgentCompleted, run_id="sub-1", parent_run_id=RUN, duration_ms=1, usage=sub_usage),
            ev(s.AgentCompleted, duration_ms=1),
        ]
    )

    assert types(wire)[-1] == "RUN_FINISHED"
    assert "usage" not in wire[-1]
    assert_valid_agui(wire)
