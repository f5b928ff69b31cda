"""Tests of agentsocket.agents.chat_stream: literal SSE lines in, a completion out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentsocket.agents.chat_stream import (
    Completion,
    MalformedStreamError,
    StreamedError,
    ToolCall,
    read_completion,
)
from tests.agents.standin import chunk, finish, text, tool_call


def _lines(*items: Any, done: bool = True) -> list[str]:
    lines = []
    for item in items:
        lines += [f"data: {item if isinstance(item, str) else json.dumps(item)}", ""]
    return lines + (["data: [DONE]", ""] if done else [])


async def _read(lines: list[str]) -> tuple[Completion, list[str]]:
    async def feed() -> AsyncIterator[str]:
        for line in lines:
            yield line

    seen: list[str] = []

    async def on_text(piece: str) -> None:
        seen.append(piece)

    return await read_completion(feed(), on_text), seen


async def test__text_stream__pieces_in_order_and_the_whole() -> None:
    completion, seen = await _read(_lines(*text("Hel", "lo"), finish()))
    assert seen == ["Hel", "lo"]
    assert completion == Completion("Hello", [], "stop")


async def test__tool_calls_split_across_chunks__assembled_by_index() -> None:
    completion, seen = await _read(
        _lines(
            *tool_call(0, "call_1", "calculate", '{"expr', 'ession": ', '"1+1"}'),
            *tool_call(1, "call_2", "now"),
            finish("tool_calls"),
        )
    )
    assert seen == []
    assert completion.tool_calls == [
        ToolCall("call_1", "calculate", '{"expression": "1+1"}'),
        ToolCall("call_2", "now", ""),
    ]
    assert completion.finish_reason == "tool_calls"


async def test__interleaved_tool_call_pieces__each_goes_to_its_index() -> None:
    first = {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "x", "arguments": "{"}}]}
    second = {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "y", "arguments": "["}}]}
    more = {
        "tool_calls": [
            {"index": 1, "function": {"arguments": "]"}},
            {"index": 0, "function": {"arguments": "}"}},
        ]
    }
    completion, _ = await _read(_lines(chunk(first), chunk(second), chunk(more), finish()))
    assert completion.tool_calls == [ToolCall("a", "x", "{}"), ToolCall("b", "y", "[]")]


async def test__name_and_id_repeated_in_later_pieces__not_duplicated() -> None:
    piece = {"index": 0, "id": "a", "function": {"name": "calc", "arguments": "{}"}}
    completion, _ = await _read(_lines(chunk({"tool_calls": [piece]}), finish()))
    again = {"index": 0, "id": "a", "function": {"name": "calc", "arguments": ""}}
    completion2, _ = await _read(
        _lines(chunk({"tool_calls": [piece]}), chunk({"tool_calls": [again]}), finish())
    )
    assert completion.tool_calls == completion2.tool_calls == [ToolCall("a", "calc", "{}")]


async def test__comments_other_fields_and_compact_data__handled() -> None:
    lines = [
        ": keep-alive",
        "event: message",
        "id: 7",
        f"data:{json.dumps(chunk({'content': 'a'}))}\r",
        "",
        f"data: {json.dumps(finish())}",
        "data: [DONE]",
    ]
    completion, seen = await _read(lines)
    assert (completion.text, seen) == ("a", ["a"])


async def test__usage_chunk_without_choices_entries_and_other_choice_indexes__ignored() -> None:
    usage = {"id": "x", "choices": [], "usage": {"total_tokens": 3}}
    other = {"choices": [{"index": 1, "delta": {"content": "other answer"}}]}
    completion, _ = await _read(_lines(*text("mine"), other, finish(), usage))
    assert completion.text == "mine"


async def test__lines_after_done__not_read() -> None:
    lines = [*_lines(*text("a"), finish()), "data: {not json"]
    completion, _ = await _read(lines)
    assert completion.text == "a"


async def test__finished_but_no_done_marker__accepted() -> None:
    completion, _ = await _read(_lines(*text("a"), finish(), done=False))
    assert completion.finish_reason == "stop"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (_lines("{not json", finish()), "a chunk is not valid"),
        (_lines("[1, 2]", finish()), "a chunk is not valid"),
        (_lines({"id": "x"}, finish()), "a chunk has no 'choices'"),
        (_lines({"choices": [{"delta": {"content": 5}}]}, finish()), "choices.0.delta.content"),
        (_lines({"choices": [{"delta": {"tool_calls": [{"id": "a"}]}}]}), "index"),
        (_lines(*text("never finished")), "ended before the model finished"),
        (_lines(*text("cut off"), done=False), "ended before the model finished"),
        ([], "ended before the model finished"),
        (
            _lines(chunk({"tool_calls": [{"index": 0, "id": "a"}]}), finish()),
            "tool call 0 has no name",
        ),
        (
            _lines(chunk({"tool_calls": [{"index": 0, "function": {"name": "x"}}]}), finish()),
            "tool call 0 has no id",
        ),
    ],
)
async def test__malformed_streams__refused(lines: list[str], message: str) -> None:
    with pytest.raises(MalformedStreamError, match=message):
        await _read(lines)


async def test__error_object_in_the_stream__streamed_error() -> None:
    with pytest.raises(StreamedError, match="overloaded"):
        await _read(_lines({"error": {"message": "overloaded", "type": "server_error"}}))
