"""A thread's earlier turns, for agents that continue the conversation.

A :data:`HistoryLoader` returns a thread's stored messages, oldest first, as
``(role, content, run_id)`` tuples; :func:`before_run` turns them into the
chat turns an agent sees (``RunContext.history()``), ``{"role", "content"}``
dicts as chat APIs take them; :func:`newest_turns` keeps what fits a budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

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
