"""Reading AG-UI client input (both transports): literal frames in, our requests or refusals out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentsocket.protocol.ag_ui import interrupt_id, question_interrupt_id
from agentsocket.protocol.ag_ui_input import (
    STOP_NAME,
    UNKNOWN_TOOL,
    Answer,
    AnswerInterrupts,
    InputRefused,
    QuestionReply,
    StartRun,
    StopRun,
    idempotency_key,
    parse_input,
    read_frame,
    read_input,
    user_message,
)
from agentsocket.protocol.negotiation import Negotiated, Refused, negotiate
from agentsocket.protocol.versions import HEAD, VERSIONS

LIMIT = 65_536


def body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "threadId": "thread-1",
        "runId": "run-1",
        "state": {},
        "messages": list(messages) or [{"id": "m-1", "role": "user", "content": "hi"}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **extra,
    }


def user(content: str) -> dict[str, Any]:
    return {"id": "m", "role": "user", "content": content}


def refused(raw: str) -> InputRefused:
    with pytest.raises(InputRefused) as info:
        read_frame(raw, LIMIT)
    return info.value


def test__run_input__last_user_text__start_run_with_idempotency_key() -> None:
    frame = body(
        {"id": "m-1", "role": "user", "content": "first"},
        {"id": "m-2", "role": "assistant", "content": "answer"},
        {"id": "m-3", "role": "user", "content": [{"type": "text", "text": "second"}]},
        forwardedProps={"agent": "demo"},
    )

    wanted = read_frame(json.dumps(frame), LIMIT)

    assert wanted == StartRun("second", "thread-1", "demo", "run-1", idempotency_key("run-1"))
    message = user_message(wanted, None)
    assert message.content == "second"
    assert message.thread_id is None
    assert message.metadata == {"ag_ui_run_id": "run-1"}


def test__frontend_tools_offered__ignored_run_starts() -> None:
    tool = {"name": "show_chart", "description": "draw", "parameters": {"type": "object"}}

    assert isinstance(read_input(parse_input(json.dumps(body(tools=[tool])))), StartRun)


def test__history_with_our_tool_calls__not_read_run_starts() -> None:
    call = {"id": "call-1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}
    frame = body(
        {"id": "m-1", "role": "user", "content": "17*23?"},
        {"id": "m-2", "role": "assistant", "toolCalls": [call]},
        {"id": "m-3", "role": "tool", "toolCallId": "call-1", "content": "391"},
        {"id": "m-4", "role": "user", "content": "and in hex?"},
    )

    assert read_input(parse_input(json.dumps(frame))).prompt == "and in hex?"  # type: ignore[union-attr]


def test__trailing_tool_result__unknown_tool_refused_with_path() -> None:
    frame = body(
        {"id": "m-1", "role": "user", "content": "draw it"},
        {"id": "m-2", "role": "tool", "toolCallId": "call-x", "content": "done"},
    )

    error = refused(json.dumps(frame))

    assert error.code == UNKNOWN_TOOL
    assert error.issues == [("$.messages[1].toolCallId", "unknown tool call")]


def test__resume_entries__answers_of_one_run() -> None:
    first, second = interrupt_id("run_a", "run_a", "c-1"), interrupt_id("run_a", "run_b", "c-2")
    resume = [
        {"interruptId": first, "status": "resolved", "payload": {"approved": True}},
        {"interruptId": second, "status": "cancelled", "payload": {"reason": "no"}},
    ]

    wanted = read_frame(json.dumps(body(resume=resume, runId="run-2")), LIMIT)

    assert wanted == AnswerInterrupts(
        "run_a",
        "run-2",
        (Answer("run_a", "run_a", "c-1", True, None), Answer("run_a", "run_b", "c-2", False, "no")),
    )


def test__resume_entry_of_a_question__its_payload_is_the_answer() -> None:
    approval = interrupt_id("run_a", "run_a", "c-1")
    question = question_interrupt_id("run_a", "run_b", "q_1")
    resume = [
        {"interruptId": approval, "status": "resolved", "payload": {"approved": True}},
        {"interruptId": question, "status": "resolved", "payload": {"rating": 4}},
    ]

    wanted = read_frame(json.dumps(body(resume=resume, runId="run-2")), LIMIT)

    assert wanted == AnswerInterrupts(
        "run_a",
        "run-2",
        (
            Answer("run_a", "run_a", "c-1", True, None),
            QuestionReply("run_a", "run_b", "q_1", {"rating": 4}, 1),
        ),
    )


def test__resume_entry_cancelling_a_question__refused_naming_its_status() -> None:
    question = question_interrupt_id("run_a", "run_a", "q_1")
    resume = [{"interruptId": question, "status": "cancelled"}]

    error = refused(json.dumps(body(resume=resume)))

    assert error.code == "validation_failed"
    assert error.issues == [("$.resume[0].status", "a question cannot be cancelled")]


@pytest.mark.parametrize(
    ("raw", "code", "path"),
    [
        ("{nope", "invalid_json", None),
        ("[1, 2]", "validation_failed", "$"),
        (json.dumps({"threadId": 5}), "validation_failed", "$.threadId"),
        (
            json.dumps(body({"id": "m", "role": "user", "content": " "})),
            "validation_failed",
            "$.messages",
        ),
        (
            json.dumps(body(resume=[{"interruptId": "x", "status": "resolved"}])),
            "validation_failed",
            "$.resume[0].interruptId",
        ),
        (
            json.dumps({"type": "CUSTOM", "name": "rm -rf", "value": {}}),
            "validation_failed",
            "$.name",
        ),
        (json.dumps({"type": "CUSTOM", "name": STOP_NAME}), "validation_failed", "$.value"),
        (
            json.dumps({"type": "CUSTOM", "name": STOP_NAME, "value": {"runId": ""}}),
            "validation_failed",
            "$.value.runId",
        ),
        ('{"a":' * 5_000 + "1" + "}" * 5_000, "invalid_json", None),  # too deep for JSON
        ("x" * (LIMIT + 1), "too_large", None),
        ("\u00e9" * (LIMIT // 2 + 1), "too_large", None),  # counted in UTF-8 bytes
    ],
)
def test__hostile_or_malformed_frame__typed_refusal(raw: str, code: str, path: str | None) -> None:
    error = refused(raw)

    assert error.code == code
    if path is not None:
        assert path in {p for p, _ in error.issues}


def test__stop_frame__stop_run() -> None:
    frame = {"type": "CUSTOM", "name": STOP_NAME, "value": {"runId": "run_1"}}

    assert read_frame(json.dumps(frame), LIMIT) == StopRun("run_1")


def test__prompt_too_long_for_a_user_message__refused_at_messages() -> None:
    wanted = read_input(
        parse_input(json.dumps(body({"id": "m", "role": "user", "content": "x" * 40_000})))
    )
    assert isinstance(wanted, StartRun)

    with pytest.raises(InputRefused) as info:
        user_message(wanted, None)

    assert info.value.issues[0][0] == "$.messages"


@pytest.mark.parametrize(
    ("subprotocols", "query", "dialect", "echo"),
    [
        (["agentsocket.ag-ui"], None, "ag-ui", "agentsocket.ag-ui"),
        (["agentsocket.v2", "agentsocket.ag-ui"], None, "ag-ui", "agentsocket.ag-ui"),
        ([], "ag-ui", "ag-ui", None),
        (["agentsocket.v2"], None, None, "agentsocket.v2"),
    ],
)
def test__negotiate__dialect_offered__chosen_over_versions(
    subprotocols: list[str], query: str | None, dialect: str | None, echo: str | None
) -> None:
    outcome = negotiate(subprotocols, query, HEAD, VERSIONS, ("ag-ui",))

    assert isinstance(outcome, Negotiated)
    assert (outcome.dialect, outcome.subprotocol) == (dialect, echo)
    if dialect is not None:
        assert outcome.version is HEAD


def test__negotiate__dialect_not_enabled__refused() -> None:
    assert isinstance(negotiate(["agentsocket.ag-ui"], None, HEAD, VERSIONS), Refused)
    assert isinstance(negotiate([], "ag-ui", HEAD, VERSIONS), Refused)
