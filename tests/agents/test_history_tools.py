"""Earlier runs' tool calls in the chat-completions format: grouping, order and budgets."""

from __future__ import annotations

import json

from agentsocket.agents.history import (
    TOOL_CALL,
    before_run,
    chat_messages,
    newest_messages,
    tool_call_turn,
)

TURNS = [
    ("user", "what is 2+2?", "run_1"),
    tool_call_turn("call_a", "calculate", {"expression": "2+2"}, "4", "run_1"),
    tool_call_turn("call_b", "convert_base", {"value": 4, "base": 2}, '"0b100"', "run_1"),
    ("assistant", "4, or 0b100", "run_1"),
    ("user", "and now?", "run_2"),
]


def test__chat_messages__tool_calls_then_results_before_the_answer() -> None:
    messages = chat_messages(TURNS, "run_2")

    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    calls = messages[1]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_a", "call_b"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"value": 4, "base": 2}
    assert messages[1]["content"] is None
    assert messages[2] == {"role": "tool", "tool_call_id": "call_a", "content": "4"}
    assert messages[4] == {"role": "assistant", "content": "4, or 0b100"}


def test__plain_history__tool_call_turns_skipped() -> None:
    assert before_run(TURNS, "run_2") == [
        {"role": "user", "content": "what is 2+2?"},
        {"role": "assistant", "content": "4, or 0b100"},
    ]


def test__malformed_tool_call_turns__skipped_never_raised() -> None:
    turns = [
        ("user", "hi", "run_1"),
        (TOOL_CALL, "not json", "run_1"),
        (TOOL_CALL, json.dumps({"id": 1, "name": "x", "arguments": {}, "output": ""}), "run_1"),
        (TOOL_CALL, json.dumps(["a", "list"]), "run_1"),
        ("assistant", "hello", "run_1"),
    ]

    assert chat_messages(turns, "run_9") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


def test__newest_messages__a_call_never_kept_without_its_results() -> None:
    messages = chat_messages(TURNS, "run_2")

    # Room for the answer and the two tool messages, but not the call: all three go.
    assert newest_messages(messages, max_messages=3, max_chars=10_000) == messages[4:]
    assert newest_messages(messages, max_messages=4, max_chars=10_000) == messages[1:]
    assert newest_messages(messages, max_messages=5, max_chars=10_000) == messages
    assert newest_messages(messages, max_messages=50, max_chars=len("4, or 0b100")) == messages[4:]
