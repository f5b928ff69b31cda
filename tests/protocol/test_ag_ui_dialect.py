"""The AG-UI WebSocket dialect's conversion: a user's stream in, runs of AG-UI events out."""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import Event
from ag_ui_validate.pytest_plugin import assert_valid_agui
from pydantic import TypeAdapter

from agentsocket.protocol import ErrorCode
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import encode_event
from agentsocket.protocol.ag_ui_dialect import ERROR, POSITION, StreamConverter, custom
from agentsocket.protocol.message import ServerMessage
from tests.protocol.test_ag_ui import THREAD, ev, tool_run

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def feed(
    converter: StreamConverter, messages: list[ServerMessage], first_seq: int = 1
) -> list[dict[str, Any]]:
    """Each message as the entry after the last; every event read back by ``ag_ui.core``."""
    wire = []
    for seq, message in enumerate(messages, first_seq):
        for event in converter.entry(message, "e1", seq):
            text = encode_event(event)
            assert _EVENT.validate_json(text) == event
            wire.append(json.loads(text))
    return wire


def without_positions(wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in wire if e.get("name") != POSITION]


def types(wire: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in without_positions(wire)]


def test__whole_run__events_then_position_after_each_entry() -> None:
    wire = feed(StreamConverter(), tool_run())

    assert_valid_agui(wire[:-1])  # the last position follows RUN_FINISHED: between runs
    assert wire[-1] == {"type": "CUSTOM", "name": POSITION, "value": {"epoch": "e1", "seq": 8}}
    positions = [e["value"]["seq"] for e in wire if e.get("name") == POSITION]
    assert positions == list(range(1, 9))
    assert wire[0]["runId"] == "run-1"


def test__named_run__client_run_id_on_start_and_finish() -> None:
    converter = StreamConverter()
    converter.name_run("run-1", "client-run")

    wire = without_positions(feed(converter, tool_run()))

    assert wire[0]["runId"] == wire[-1]["runId"] == "client-run"


def test__joined_mid_message__restated_valid_run() -> None:
    messages = tool_run()

    wire = without_positions(feed(StreamConverter(), messages[5:], first_seq=6))

    assert_valid_agui(wire)
    assert types(wire) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert wire[2]["delta"] == "0x187"  # only what came after the join


def test__joined_inside_a_sub_run__its_start_restated() -> None:
    sub = dict(run_id="run-sub", parent_run_id="run-1")
    messages: list[ServerMessage] = [
        ev(s.AgentMessageDelta, **sub, message_id="m-s", content="391"),
        ev(s.AgentMessage, **sub, message_id="m-s", content="391"),
        ev(s.AgentCompleted, **sub, duration_ms=1.0),
        ev(s.AgentMessage, message_id="m-1", content="It is 391."),
        ev(s.AgentCompleted, duration_ms=2.0),
    ]

    wire = without_positions(feed(StreamConverter(), messages))

    assert_valid_agui(wire)
    assert types(wire)[:2] == ["RUN_STARTED", "SUBAGENT_STARTED"]
    assert wire[0]["runId"] == "run-1"
    assert wire[1]["subagentRunId"] == "run-sub"


def test__second_run_while_one_is_open__left_out_then_joined() -> None:
    other = dict(run_id="run-2")
    messages: list[ServerMessage] = [
        ev(s.AgentStarted),
        ev(s.AgentStarted, **other),
        ev(s.AgentMessageDelta, **other, message_id="m-2", content="lost "),
        ev(s.AgentMessage, message_id="m-1", content="one"),
        ev(s.AgentCompleted, duration_ms=1.0),
        ev(s.AgentMessageDelta, **other, message_id="m-2", content="seen"),
        ev(s.AgentCompleted, **other, duration_ms=1.0),
    ]
    converter = StreamConverter()

    wire = feed(converter, messages)

    events = without_positions(wire)
    first, second = events[:5], events[5:]
    assert_valid_agui(first)
    assert_valid_agui(second)
    assert [e["runId"] for e in (first[0], second[0])] == ["run-1", "run-2"]
    assert [e["delta"] for e in second if e["type"] == "TEXT_MESSAGE_CONTENT"] == ["seen"]
    assert not converter.busy


def test__interrupt__connection_free__continuation_named_by_the_answer() -> None:
    messages: list[ServerMessage] = [
        ev(s.AgentStarted),
        ev(
            s.ToolApprovalRequired,
            tool_call_id="c-1",
            tool_name="announce",
            arguments={},
            timeout_seconds=60.0,
        ),
    ]
    converter = StreamConverter()
    converter.name_run("run-1", "client-1")
    first = without_positions(feed(converter, messages))
    assert not converter.busy
    converter.name_run("run-1", "client-2")  # the input that answers the interrupt

    rest = without_positions(
        feed(
            converter,
            [
                ev(
                    s.ToolCompleted,
                    tool_call_id="c-1",
                    tool_name="announce",
                    status="success",
                    result="ok",
                    duration_ms=1.0,
                ),
                ev(s.AgentCompleted, duration_ms=3.0),
            ],
            first_seq=3,
        )
    )

    assert first[-1]["outcome"]["type"] == "interrupt"
    assert (first[0]["runId"], rest[0]["runId"], rest[-1]["runId"]) == (
        "client-1",
        "client-2",
        "client-2",
    )
    assert_valid_agui(first)
    assert_valid_agui(rest)


def test__finished_run__late_events_and_its_sub_runs_left_out() -> None:
    converter = StreamConverter()
    feed(converter, tool_run())

    late = feed(
        converter,
        [ev(s.AgentMessageDelta, message_id="m-9", content="late")],
        first_seq=9,
    )

    assert late == []


def test__thread_events_and_gaps__custom_with_the_message_fields() -> None:
    thread = s.ThreadInfo(thread_id=THREAD, title="t", created_at=1.0, updated_at=2.0)
    wire = feed(
        StreamConverter(),
        [
            s.ThreadCreated(thread=thread),
            s.StreamGap(epoch="e1", from_seq=1, to_seq=3, reason="retention"),
        ],
    )

    names = [e["name"] for e in without_positions(wire)]
    assert names == ["agentsocket.thread_created", "agentsocket.stream_gap"]
    assert wire[0]["value"]["thread"]["thread_id"] == THREAD


def test__error_reply__custom_error_with_code_and_paths() -> None:
    error = s.Error(
        code=ErrorCode.NOT_FOUND,
        message="no such run",
        errors=[s.ErrorDetail(path="$.value.runId", reason="unknown")],
    )

    event = json.loads(encode_event(custom(error)))

    assert event == {
        "type": "CUSTOM",
        "name": ERROR,
        "value": {
            "code": "not_found",
            "message": "no such run",
            "errors": [{"path": "$.value.runId", "reason": "unknown"}],
            "retry_after": None,
        },
    }
