"""Helpers for the agents tests: a function-backed agent and the run invariants."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from agentsocket.agents import ListSink, RunContext, Tool
from agentsocket.protocol.server_messages import TERMINAL_EVENTS, AgentEvent

E = TypeVar("E", bound=AgentEvent)
SAFETY = 10.0  # seconds; a safety net against hangs, never a performance threshold
RunFunc = Callable[[RunContext, str], Awaitable[None]]


class FuncAgent:
    """An agent whose ``run`` is the given coroutine function."""

    def __init__(self, name: str, func: RunFunc, tools: Sequence[Tool] = ()) -> None:
        self.name = name
        self.tools = tuple(tools)
        self._func = func

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await self._func(ctx, prompt)


def assert_well_formed(events: Sequence[AgentEvent]) -> None:
    """Each run starts with agent_started, has one terminal event, last, after its sub-runs."""
    by_run: dict[str, list[AgentEvent]] = {}
    position: dict[str, tuple[int, int]] = {}
    for i, event in enumerate(events):
        by_run.setdefault(event.run_id, []).append(event)
        first, _ = position.get(event.run_id, (i, i))
        position[event.run_id] = (first, i)
    for run_id, run_events in by_run.items():
        types = [e.TYPE for e in run_events]
        assert types[0] == "agent_started", (run_id, types)
        assert types[-1] in TERMINAL_EVENTS, (run_id, types)
        assert sum(t in TERMINAL_EVENTS for t in types) == 1, (run_id, types)
        parent = run_events[0].parent_run_id
        if parent is not None:
            assert parent in by_run, (run_id, parent)
            parent_first, parent_last = position[parent]
            first, last = position[run_id]
            assert parent_first < first, (run_id, parent)
            assert last < parent_last, (run_id, parent)


def summary(sink: ListSink) -> list[tuple[str, str]]:
    """(agent_name, type) of each event, for comparing whole sequences."""
    return [(e.agent_name, e.TYPE) for e in sink.events]


async def wait_for_event(sink: ListSink, kind: type[E]) -> E:
    """Poll until an event of class ``kind`` has been emitted (with a safety-net timeout)."""
    async with asyncio.timeout(SAFETY):
        while True:
            found = sink.of_type(kind)
            if found:
                return found[0]
            await asyncio.sleep(0.005)
