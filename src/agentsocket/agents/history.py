"""A thread's earlier turns, for agents that continue the conversation.

A :data:`HistoryLoader` returns a thread's stored messages, oldest first, as
``(role, content, run_id)`` tuples; :func:`before_run` turns them into the
chat turns an agent sees (``RunContext.history()``), ``{"role", "content"}``
dicts as chat APIs take them; :func:`newest_turns` keeps what fits a budget.
:func:`chat_messages` and :func:`newest_messages` do the same with the runs'
tool calls included, in the chat-completions format.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

#: One stored message: ``(role, content, run_id)``; ``run_id`` is the run the
#: message started (a user message) or answered (an assistant message).
Turn = tuple[str, str, str | None]

#: ``(user_id, thread_id) -> turns``, oldest first.
HistoryLoader = Callable[[str, str], Awaitable[Sequence[Turn]]]

#: Roles sent to the model; anything else in a thread is skipped.
_ROLES = frozenset({"user", "assistant"})


#: One chat turn as an agent sees it: ``{"role": "user"|"assistant", "content": ...}``.
ChatTurn = dict[str, str]


def before_run(turns: Sequence[Turn], run_id: str) -> list[ChatTurn]:
    """The chat turns that came before run ``run_id``, oldest first.

    Messages of run ``run_id`` (its own prompt, stored before it started) and
    everything after the first of them (messages of later runs) are left out,
    and so are roles other than ``user`` and ``assistant`` and empty messages.
    """
    before: list[ChatTurn] = []
    for role, content, turn_run in turns:
        if turn_run == run_id:
            break
        if role in _ROLES and content:
            before.append({"role": role, "content": content})
    return before


def newest_turns(turns: Sequence[ChatTurn], *, max_messages: int, max_chars: int) -> list[ChatTurn]:
    """Of ``turns`` (oldest first), the newest ``max_messages`` that fit in ``max_chars``.

    Returns:
        ``{"role": ..., "content": ...}`` dicts, oldest first.
    """
    kept: list[ChatTurn] = []
    budget = max_chars
    for turn in reversed(turns):
        if len(kept) >= max_messages:
            break
        budget -= len(turn["content"])
        if budget < 0:
            break
        kept.append(dict(turn))
    kept.reverse()
    return kept


def earlier_turns(
    turns: Sequence[Turn], run_id: str, *, max_messages: int, max_chars: int
) -> list[ChatTurn]:
    """The chat messages that came before run ``run_id``, newest kept.

    :func:`before_run`, then :func:`newest_turns`: the current prompt is sent
    once, last, by the caller.
    """
    return newest_turns(before_run(turns, run_id), max_messages=max_messages, max_chars=max_chars)


#: Role of a stored tool call among a loader's turns. Its ``content`` is a JSON
#: object ``{"id", "name", "arguments", "output"}``: ``arguments`` a JSON object,
#: ``output`` the text the model was given back. Such turns sit between the user
#: message that started their run and the run's answer. :func:`before_run` skips
#: them; :func:`chat_messages` turns them into the model's own format.
TOOL_CALL = "tool_call"

#: One message in the chat-completions format (``role``, ``content``, maybe ``tool_calls``).
ChatMessage = dict[str, Any]


def tool_call_turn(
    call_id: str, name: str, arguments: Mapping[str, Any], output: str, run_id: str
) -> Turn:
    """A :data:`TOOL_CALL` turn of run ``run_id``."""
    content = {"id": call_id, "name": name, "arguments": dict(arguments), "output": output}
    return (TOOL_CALL, json.dumps(content, ensure_ascii=False), run_id)


def chat_messages(turns: Sequence[Turn], run_id: str) -> list[ChatMessage]:
    """The turns before run ``run_id`` as chat-completions messages, tool calls included.

    A run's tool calls become one ``assistant`` message with ``tool_calls``
    followed by one ``tool`` message per call, before the run's answer.
    Malformed tool call turns are skipped.
    """
    messages: list[ChatMessage] = []
    calls: list[dict[str, Any]] = []
    calls_run: str | None = None

    def flush() -> None:
        if not calls:
            return
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": call["name"],
                            "arguments": json.dumps(call["arguments"], ensure_ascii=False),
                        },
                    }
                    for call in calls
                ],
            }
        )
        messages.extend(
            {"role": "tool", "tool_call_id": call["id"], "content": call["output"]}
            for call in calls
        )
        calls.clear()

    for role, content, turn_run in turns:
        if turn_run == run_id:
            break
        if role == TOOL_CALL:
            call = _tool_call(content)
            if call is None:
                continue
            if calls and calls_run != turn_run:
                flush()
            calls.append(call)
            calls_run = turn_run
            continue
        flush()
        if role in _ROLES and content:
            messages.append({"role": role, "content": content})
    flush()
    return messages


def newest_messages(
    messages: Sequence[ChatMessage], *, max_messages: int, max_chars: int
) -> list[ChatMessage]:
    """Of ``messages`` (oldest first), the newest that fit ``max_messages`` and ``max_chars``.

    An assistant message with ``tool_calls`` and the ``tool`` messages answering
    it are kept or left out together, as the model requires.
    """
    blocks: list[list[ChatMessage]] = []
    for message in messages:
        if message["role"] == "tool" and blocks and blocks[-1][0].get("tool_calls"):
            blocks[-1].append(message)
        else:
            blocks.append([message])
    kept: list[ChatMessage] = []
    count, budget = 0, max_chars
    for block in reversed(blocks):
        count += len(block)
        budget -= sum(_chars(message) for message in block)
        if count > max_messages or budget < 0:
            break
        kept[:0] = block
    return kept


def _tool_call(content: str) -> dict[str, Any] | None:
    try:
        call = json.loads(content)
    except ValueError:
        return None
    if not (
        isinstance(call, dict)
        and isinstance(call.get("id"), str)
        and isinstance(call.get("name"), str)
        and isinstance(call.get("arguments"), dict)
        and isinstance(call.get("output"), str)
    ):
        return None
    return call


def _chars(message: ChatMessage) -> int:
    size = len(message.get("content") or "")
    for call in message.get("tool_calls") or ():
        size += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return size
