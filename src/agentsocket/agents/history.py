"""A thread's earlier turns, for agents that continue the conversation.

A :data:`HistoryLoader` returns a thread's stored messages, oldest first, as
``(role, content, run_id)`` tuples; :func:`earlier_turns` picks the ones to
send a model before the current prompt.
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


def earlier_turns(
    turns: Sequence[Turn], run_id: str, *, max_messages: int, max_chars: int
) -> list[dict[str, str]]:
    """The chat messages that came before run ``run_id``, newest kept.

    Messages of run ``run_id`` (its own prompt, stored before it started) and
    everything after the first of them (messages of later runs) are left out,
    so the current prompt is sent once, last. Of the rest, the newest
    ``max_messages`` whose contents fit in ``max_chars`` characters are kept.

    Returns:
        ``{"role": ..., "content": ...}`` dicts, oldest first.
    """
    before: list[Turn] = []
    for turn in turns:
        if turn[2] == run_id:
            break
        before.append(turn)
    kept: list[dict[str, str]] = []
    budget = max_chars
    for role, content, _ in reversed(before):
        if len(kept) >= max_messages:
            break
        if role not in _ROLES or not content:
            continue
        budget -= len(content)
        if budget < 0:
            break
        kept.append({"role": role, "content": content})
    kept.reverse()
    return kept
