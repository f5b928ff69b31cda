"""AGUIAgent against real AG-UI servers: PydanticAI's and LangGraph's (ag-ui-langgraph).

Each server runs as a subprocess with a scripted offline model that calls a
tool for a new question and then answers; a second question in the same
thread must reach the model together with the first question and answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from agentsocket.agents import ListSink, Runner, RunOutcome
from agentsocket.agents.adapters.ag_ui import AGUIAgent
from agentsocket.protocol.server_messages import (
    AgentMessage,
    AgentMessageDelta,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
)
from tests.agents.adapters.agui_servers.launch import SERVERS, AGUIServer, run_agui_server
from tests.agents.helpers import assert_well_formed, wait_for_event

SAFETY = 60.0  # seconds; a safety net against hangs, never a performance threshold
FIRST, SECOND = "What is 6 times 7?", "And once more, please?"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, AGUIServer]]:
    tmp = tmp_path_factory.mktemp("agui")
    with contextlib.ExitStack() as stack:
        yield {kind: stack.enter_context(run_agui_server(kind, tmp)) for kind in sorted(SERVERS)}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, servers: dict[str, AGUIServer]) -> AGUIServer:
    return servers[request.param]


class Thread:
    """One thread's stored messages, as the gateway's history loader returns them."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str | None]] = []

    async def load(self, user_id: str, thread_id: str) -> list[tuple[str, str, str | None]]:
        return list(self.turns)


async def _ask(
    runner: Runner, thread: Thread, agent: AGUIAgent, prompt: str, run_id: str
) -> tuple[ListSink, RunOutcome]:
    sink = ListSink()
    thread.turns.append(("user", prompt, run_id))
    runner.start("u1", "thread-1", agent, prompt, run_id, sink)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait(run_id)
    thread.turns.append(("assistant", outcome.text, run_id))
    assert_well_formed(sink.events)
    return sink, outcome


def _assert_tool_then_text(sink: ListSink, outcome: RunOutcome, questions: int) -> None:
    assert outcome.status == "completed", outcome
    shown = [t for t in sink.types() if t != "agent_thinking"]
    deltas = shown.count("agent_message_delta")
    assert deltas >= 1
    assert shown == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        *["agent_message_delta"] * deltas,
        "agent_message",
        "agent_completed",
    ]
    executing, completed = sink.of_type(ToolExecuting)[0], sink.of_type(ToolCompleted)[0]
    assert (executing.tool_name, executing.arguments) == ("multiply", {"a": 6, "b": 7})
    assert (completed.tool_call_id, completed.status, completed.result) == (
        executing.tool_call_id,
        "success",
        "42",
    )
    streamed = "".join(d.content for d in sink.of_type(AgentMessageDelta))
    expected = f"The product is 42. Questions so far: {questions}."
    assert streamed == sink.of_type(AgentMessage)[0].content == outcome.text == expected


async def test__tool_question_twice_in_one_thread__tool_then_text_and_the_second_sees_the_first(
    server: AGUIServer,
) -> None:
    thread = Thread()
    runner = Runner(history=thread.load)
    agent = AGUIAgent("calculator", server.url)
    try:
        first_sink, first = await _ask(runner, thread, agent, FIRST, "run_1")
        second_sink, second = await _ask(runner, thread, agent, SECOND, "run_2")
    finally:
        await agent.aclose()

    _assert_tool_then_text(first_sink, first, questions=1)
    _assert_tool_then_text(second_sink, second, questions=2)
    seen = server.seen()
    assert seen[-2]["prompts"] == [FIRST]
    assert seen[-1]["prompts"] == [FIRST, SECOND]
    # LangGraph also keeps the thread in its checkpointer, so it has the first answer twice:
    # its own copy and ours (the store keeps no upstream message ids to match).
    assert first.text in seen[-1]["answers"]


@pytest.mark.parametrize("approved", [True, False])
async def test__pydantic_ai_deferred_tool__approve_runs_it_deny_does_not(
    servers: dict[str, AGUIServer], approved: bool
) -> None:
    server = servers["pydantic_ai"]
    runner, sink = Runner(), ListSink()
    agent = AGUIAgent("janitor", server.url.replace("/agent", "/approval"))
    before = len(server.deleted())
    try:
        runner.start("u1", "thread-9", agent, "Delete /tmp/x", f"run_{approved}", sink)
        async with asyncio.timeout(SAFETY):
            request = await wait_for_event(sink, ToolApprovalRequired)
            reason = None if approved else "keep it"
            assert runner.resolve_approval(request.run_id, request.tool_call_id, approved, reason)
            outcome = await runner.wait(f"run_{approved}")
    finally:
        await agent.aclose()

    assert_well_formed(sink.events)
    assert outcome.status == "completed", outcome
    assert (request.tool_name, request.arguments) == ("delete_file", {"path": "/tmp/x"})
    [done] = sink.of_type(ToolCompleted)
    if approved:
        assert (done.status, done.result) == ("success", "deleted /tmp/x")
        assert outcome.text == "Result: deleted /tmp/x"
        assert server.deleted()[before:] == ["/tmp/x"]
    else:
        assert (done.status, done.error) == ("denied", "keep it")
        assert server.deleted()[before:] == []


async def test__stop_mid_tool__cancelled_and_the_pydantic_ai_server_cancels_its_tool(
    servers: dict[str, AGUIServer],
) -> None:
    server = servers["pydantic_ai"]
    runner, sink = Runner(), ListSink()
    agent = AGUIAgent("researcher", server.url.replace("/agent", "/slow"))
    started, cancelled = len(server.started()), len(server.cancelled())
    try:
        runner.start("u1", "thread-7", agent, "Research x", "run_slow", sink)
        async with asyncio.timeout(SAFETY):
            await wait_for_event(sink, ToolExecuting)
            # The server runs the tool after streaming the call: wait until it does.
            await server.wait_for("started", started + 1)
            assert runner.cancel("run_slow", user_id="u1")
            outcome = await runner.wait("run_slow")
            # The server noticed the closed request and cancelled its own run and tool.
            await server.wait_for("cancelled", cancelled + 1)
    finally:
        await agent.aclose()

    assert outcome.status == "cancelled"
    assert sink.types()[-1] == "agent_cancelled"
