"""What runs read from and write to the store: history, search, and how a run ended."""

from __future__ import annotations

import json
import logging
from typing import Any

from agentsocket import tracing
from agentsocket.agents import RunOutcome, SearchFunc
from agentsocket.agents.history import HistoryLoader, Turn, tool_call_turn
from agentsocket.delivery.run_queue import EXPIRED, GATEWAY, RunInfo
from agentsocket.protocol import AgentErrorCode
from agentsocket.store import RunTimeline, Store

log = logging.getLogger("agentsocket.runs")

#: Messages of a thread loaded for :meth:`RunContext.history`; agents cap further.
_HISTORY_LIMIT = 100


def history_search(store: Store) -> SearchFunc:
    """The demo agent's search over one user's own stored messages."""

    async def search(user_id: str, query: str) -> list[str]:
        return [m.content for m in await store.search_messages(user_id, query, limit=5)]

    return search


def thread_history(store: Store) -> HistoryLoader:
    """A thread's newest stored messages, oldest first (for ``RunContext.history()``).

    Each run's own tool calls (from its stored timeline) come as
    :data:`~agentsocket.agents.history.TOOL_CALL` turns right after the
    message that started it, for agents that send them to their model.
    """

    async def load(user_id: str, thread_id: str) -> list[Turn]:
        page = await store.history_page(user_id, thread_id, limit=_HISTORY_LIMIT)
        calls = {t.run_id: tool_call_turns(t) for t in page.timelines}
        turns: list[Turn] = []
        for m in page.messages:
            turns.append((m.role, m.content, m.run_id))
            if m.role == "user" and m.run_id is not None:
                turns.extend(calls.get(m.run_id, ()))
        return turns

    return load


def tool_call_turns(timeline: RunTimeline) -> list[Turn]:
    """The run's own tool calls (not its sub-runs') with their results, as history turns.

    The output is what the OpenAI-compatible agent gave its model: the
    result (JSON unless text), or ``"<status>: <error>"`` for a failed or
    denied call.
    """
    arguments: dict[str, dict[str, Any]] = {}
    turns: list[Turn] = []
    for item in timeline.items:
        data = item.data
        if data.get("run_id") != timeline.run_id:
            continue
        if item.type in ("tool_executing", "tool_approval_required"):
            arguments[data["tool_call_id"]] = data.get("arguments") or {}
        elif item.type == "tool_completed":
            call_id = data["tool_call_id"]
            if data.get("status") == "success":
                result = data.get("result")
                output = (
                    result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
                )
            else:
                output = f"{data.get('status')}: {data.get('error')}"
            turns.append(
                tool_call_turn(
                    call_id, data["tool_name"], arguments.get(call_id, {}), output, timeline.run_id
                )
            )
    return turns


async def persist_outcome(store: Store, outcome: RunOutcome) -> None:
    """Store how a run ended and, if it completed, its answer (one transaction)."""
    answer = outcome.text if outcome.status == "completed" and outcome.text else None
    try:
        with tracing.span("agentsocket.store.end_run", {"agentsocket.run_id": outcome.run_id}):
            await store.end_run(
                outcome.run_id,
                outcome.status,
                outcome.error_code,
                outcome.error_message,
                answer=answer,
            )
    except Exception:
        log.exception("could not store the end of a run", extra={"run_id": outcome.run_id})


def lost_run_code(info: RunInfo) -> AgentErrorCode:
    """Why a reaped run ended: no worker ever took it, or its worker or gateway node was lost."""
    if info.state == EXPIRED:
        return AgentErrorCode.NO_WORKER
    if info.worker is not None and info.worker.startswith(GATEWAY):
        return AgentErrorCode.GATEWAY_LOST
    return AgentErrorCode.WORKER_LOST


def lost_run_outcome(info: RunInfo) -> RunOutcome:
    """The outcome stored for a run the reaper ended (worker lost, or none took it)."""
    code = lost_run_code(info)
    return RunOutcome(
        run_id=info.run_id,
        user_id=info.user_id,
        thread_id=info.thread_id,
        agent_name=info.agent,
        status="error",
        text="",
        duration_ms=0.0,
        error_code=code.value,
        error_message=code.value.replace("_", " "),
        retryable=True,
    )
