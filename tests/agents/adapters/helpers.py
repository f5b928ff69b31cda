"""Helpers for the adapter tests: a thread with history, and the event shapes to expect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from itertools import count

from agentsocket.agents import Agent, ListSink, Runner, RunOutcome
from agentsocket.agents.history import Turn
from agentsocket.agents.pauses import Pause, Replay, Resolution
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentMessage,
    AgentMessageDelta,
    ToolApprovalRequired,
    ToolExecuting,
)
from tests.agents.helpers import SAFETY, assert_well_formed, wait_for_event


class Thread:
    """One user's thread: each run's prompt and answer are kept, as the store keeps them."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.turns: list[Turn] = []
        self.runner = runner or Runner(history=self._load, cancel_grace=SAFETY)
        self._ids = count(1)

    async def _load(self, user_id: str, thread_id: str) -> Sequence[Turn]:
        return list(self.turns)

    def start(self, agent: Agent, prompt: str) -> tuple[str, ListSink]:
        """Start a run of ``agent`` on ``prompt``; its id and sink."""
        run_id = f"run_{next(self._ids)}"
        self.turns.append(("user", prompt, run_id))
        sink = ListSink()
        self.runner.start("u1", "t1", agent, prompt, run_id, sink)
        return run_id, sink

    async def finish(self, run_id: str, sink: ListSink) -> RunOutcome:
        async with asyncio.timeout(SAFETY):
            outcome = await self.runner.wait(run_id)
        if outcome.text:
            self.turns.append(("assistant", outcome.text, run_id))
        assert_well_formed(sink.events)
        return outcome

    async def ask(self, agent: Agent, prompt: str) -> tuple[ListSink, RunOutcome]:
        run_id, sink = self.start(agent, prompt)
        return sink, await self.finish(run_id, sink)

    async def cancel_mid_tool(
        self, agent: Agent, prompt: str, running: Callable[[], bool]
    ) -> tuple[ListSink, float]:
        """Start a run, stop it once a tool is executing and ``running()`` says its body
        has started; the sink and the seconds the stop took."""
        run_id, sink = self.start(agent, prompt)
        await wait_for_event(sink, ToolExecuting)
        await until(running)
        started = time.perf_counter()
        assert self.runner.cancel(run_id, "user_request")
        await self.finish(run_id, sink)
        return sink, time.perf_counter() - started

    async def ask_with_approval(
        self, agent: Agent, prompt: str, approved: bool
    ) -> tuple[ListSink, RunOutcome]:
        """Run ``prompt``, answering its one approval request with ``approved``."""
        run_id, sink = self.start(agent, prompt)
        request = await wait_for_event(sink, ToolApprovalRequired)
        reason = None if approved else "not today"
        assert self.runner.resolve_approval(request.run_id, request.tool_call_id, approved, reason)
        return sink, await self.finish(run_id, sink)


async def until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition()`` holds (with a safety-net timeout)."""
    async with asyncio.timeout(SAFETY):
        while not condition():  # noqa: ASYNC110 - the frameworks offer no event for this
            await asyncio.sleep(0.005)


def types(sink: ListSink, run_id: str | None = None) -> list[str]:
    """The event types of one run (the root by default), deltas collapsed into one."""
    run_id = run_id or sink.events[0].run_id
    kinds: list[str] = []
    for event in sink.events:
        if event.run_id != run_id:
            continue
        if not (kinds and kinds[-1] == event.TYPE == "agent_message_delta"):
            kinds.append(event.TYPE)
    return kinds


def assert_streamed_equals_final(sink: ListSink) -> str:
    """Each message's deltas add up to its agent_message; the answer text."""
    messages = sink.of_type(AgentMessage)
    assert messages
    for message in messages:
        deltas = [
            d.content for d in sink.of_type(AgentMessageDelta) if d.message_id == message.message_id
        ]
        assert "".join(deltas) == message.content
    return "\n\n".join(m.content for m in messages if m.run_id == sink.events[0].run_id)


def assert_cancelled(sink: ListSink) -> None:
    last = sink.events[-1]
    assert isinstance(last, AgentCancelled)
    assert last.reason == "user_request"


class PauseRecorder:
    """A pause book that keeps its pauses, as the store would."""

    def __init__(self) -> None:
        self.opened: list[Pause] = []

    async def open(self, pause: Pause) -> None:
        self.opened.append(pause)

    async def expire(self, pause: Pause) -> Resolution:
        return pause.resolved_by_default("expired")


async def continued_after_restart(
    make_agent: Callable[[], Agent], prompt: str, approved: bool
) -> tuple[ToolApprovalRequired, ListSink, RunOutcome]:
    """Run until the approval request, shut the runner down (the run is suspended), then
    continue it in a new runner, with a new agent, replaying the answer.

    Returns:
        The request, the continuation's events and its outcome.
    """
    first, sink, book = Runner(), ListSink(), PauseRecorder()
    first.start("u1", "t1", make_agent(), prompt, "run_a", sink, pauses=book)
    request = await wait_for_event(sink, ToolApprovalRequired)
    await first.shutdown()
    (pause,) = book.opened
    second, after = Runner(), ListSink()
    replay = Replay.of([(pause, Resolution("answered", approved=approved))])
    second.start("u1", "t1", make_agent(), prompt, "run_a", after, replay=replay)
    async with asyncio.timeout(SAFETY):
        outcome = await second.wait("run_a")
    return request, after, outcome
