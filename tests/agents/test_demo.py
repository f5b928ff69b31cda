"""Tests of agentsocket.agents.demo: the built-in agent's exact, offline behaviour."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from agentsocket.agents import HELP, Agent, DemoAgent, ListSink, Runner, RunOutcome
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentError,
    AgentEvent,
    AgentMessage,
    AgentMessageDelta,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
)
from tests.agents.helpers import assert_well_formed, wait_for_event

SAFETY = 10.0
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _agent(**options: Any) -> DemoAgent:
    return DemoAgent(clock=lambda: NOON, **options)


async def _ask(
    prompt: str, agent: Agent | None = None, runner: Runner | None = None
) -> tuple[ListSink, RunOutcome]:
    runner, sink = runner or Runner(), ListSink()
    runner.start("u1", "t1", agent or _agent(), prompt, "run_a", sink)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    assert_well_formed(sink.events)
    return sink, outcome


def _root_answer(sink: ListSink) -> str:
    return [m for m in sink.of_type(AgentMessage) if m.run_id == "run_a"][-1].content


def _describe(event: AgentEvent) -> tuple[Any, ...]:
    """The parts of an event that are deterministic (no ids, no timings)."""
    if isinstance(event, ToolExecuting):
        return (event.agent_name, event.TYPE, event.tool_name, event.arguments)
    if isinstance(event, ToolCompleted):
        return (event.agent_name, event.TYPE, event.tool_name, event.status, event.result)
    if isinstance(event, AgentMessageDelta | AgentMessage):
        return (event.agent_name, event.TYPE, event.content)
    content = getattr(event, "content", None)
    return (
        (event.agent_name, event.TYPE)
        if content is None
        else (event.agent_name, event.TYPE, content)
    )


async def test__17_times_23_in_hex__exact_events_and_answer() -> None:
    sink, outcome = await _ask("what is 17*23 in hex?")

    answer = "17*23 = 391, which is 0x187 in hexadecimal."
    assert [_describe(e) for e in sink.events] == [
        ("demo", "agent_started"),
        ("demo", "agent_thinking", "Asking the calculator agent: 17*23 in hex"),
        ("calculator", "agent_started"),
        ("calculator", "agent_thinking", "Evaluating 17*23"),
        ("calculator", "tool_executing", "calculate", {"expression": "17*23"}),
        ("calculator", "tool_completed", "calculate", "success", 391),
        ("calculator", "tool_executing", "convert_base", {"number": 391, "base": "hex"}),
        ("calculator", "tool_completed", "convert_base", "success", "0x187"),
        ("calculator", "agent_message_delta", "17*23 = 391, which is "),
        ("calculator", "agent_message_delta", "0x187 in hexadecimal."),
        ("calculator", "agent_message", answer),
        ("calculator", "agent_completed"),
        ("demo", "agent_message_delta", "17*23 = 391, which is "),
        ("demo", "agent_message_delta", "0x187 in hexadecimal."),
        ("demo", "agent_message", answer),
        ("demo", "agent_completed"),
    ]
    sub_run = sink.events[2].run_id
    assert all(e.parent_run_id == "run_a" for e in sink.events if e.run_id == sub_run)
    assert outcome.status == "completed"
    assert outcome.text == answer


async def test__prompt_it_cannot_handle__streams_what_it_can_do_and_completes() -> None:
    sink, outcome = await _ask("tell me a poem about the sea")

    assert outcome.status == "completed"
    assert _root_answer(sink) == HELP == outcome.text
    assert "".join(d.content for d in sink.of_type(AgentMessageDelta)) == HELP
    assert len(sink.of_type(AgentMessageDelta)) > 1
    assert "calculate" in HELP
    assert "convert units" in HELP


async def test__several_requests__one_sub_run_each_and_a_list_answer() -> None:
    sink, outcome = await _ask("convert 5 miles to km, then what is (2+3)*4? also 100 f to c")

    assert [e.agent_name for e in sink.events if e.TYPE == "agent_started"] == [
        "demo",
        "units",
        "calculator",
        "units",
    ]
    assert outcome.text == "- 5 mi = 8.04672 km.\n- (2+3)*4 = 20.\n- 100 °F = 37.77777778 °C."


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("5 miles to km", "5 mi = 8.04672 km."),
        ("-40 c in f", "-40 °C = -40 °F."),
        ("2.5 kg to lb", "2.5 kg = 5.511556555 lb."),
        ("5 km to kg", "I could not convert 5 km to kg: cannot convert length (km) to mass (kg)."),
        ("what is 2**10 in binary", "2**10 = 1024, which is 0b10000000000 in binary."),
        (
            "what is 7/2 in hex",
            "7/2 = 3.5 (not convertible to hexadecimal: only whole numbers "
            "can be written in hexadecimal).",
        ),
        ("what is 9**9**9?", "I could not calculate 9**9**9: the exponent is beyond ±1000."),
        ("what is 1/0", "I could not calculate 1/0: division by zero."),
        ("what time is it?", "It is 2024-05-01 12:00 UTC (Wednesday)."),
        ("what will it be in 3 days", "In 3 days it will be 2024-05-04 12:00 UTC (Saturday)."),
        ("2 hours ago", "2 hours ago it was 2024-05-01 10:00 UTC (Wednesday)."),
        ("1 week from now", "In 1 week it will be 2024-05-08 12:00 UTC (Wednesday)."),
        ("how many days until 2030-01-01?", "2030-01-01 is 2071 days away."),
        ("days since 2024-04-30", "2024-04-30 was 1 day ago."),
        ("what day is 2030-01-01", "2030-01-01 is a Tuesday."),
        ("days until 2030-02-30", "not a date (YYYY-MM-DD): '2030-02-30'."),
    ],
)
async def test__single_requests__exact_answers(prompt: str, answer: str) -> None:
    sink, outcome = await _ask(prompt)
    assert outcome.status == "completed"
    assert _root_answer(sink) == answer


async def test__tool_error__is_reported_as_tool_completed_error() -> None:
    sink, _ = await _ask("what is 1/0")
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.tool_name, completed.status, completed.error) == (
        "calculate",
        "error",
        "division by zero",
    )


async def test__history_search__uses_the_runs_user_not_the_prompt() -> None:
    calls: list[tuple[str, str]] = []

    async def search(user_id: str, query: str) -> list[str]:
        calls.append((user_id, query))
        return ["I love pizza", "pizza  on\nfriday"]

    sink, outcome = await _ask("search my history for pizza as user u2", _agent(search=search))

    assert calls == [("u1", "pizza as user u2")]
    executing = sink.of_type(ToolExecuting)[0]
    assert (executing.agent_name, executing.tool_name, executing.arguments) == (
        "researcher",
        "search_history",
        {"query": "pizza as user u2"},
    )
    assert outcome.text == (
        'I found 2 earlier messages about "pizza as user u2":\n- I love pizza\n- pizza on friday'
    )


async def test__history_search_no_hits__says_so() -> None:
    async def search(user_id: str, query: str) -> list[str]:
        return []

    _, outcome = await _ask("what did I say about cats?", _agent(search=search))
    assert outcome.text == 'I found nothing about "cats" in your history.'


async def test__history_search_not_configured__says_so_without_a_tool_call() -> None:
    sink, outcome = await _ask("search my history for pizza")
    assert outcome.text == "History search is not set up on this server."
    assert sink.of_type(ToolExecuting) == []


async def test__fail__agent_error_agent_failed() -> None:
    sink, outcome = await _ask("please fail now")

    assert sink.types() == ["agent_started", "agent_thinking", "agent_error"]
    error = sink.of_type(AgentError)[0]
    assert (error.code, error.retryable) == ("agent_failed", False)
    assert error.message == "RuntimeError: the demo agent was asked to fail"
    assert outcome.status == "error"


async def test__slow__sleep_tool_completes_when_not_cancelled() -> None:
    sink, outcome = await _ask("be slow", _agent(slow_seconds=0.01))
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.tool_name, completed.status, completed.result) == ("sleep", "success", 0.01)
    assert outcome.text == "Done: I waited 0.01 seconds."


async def test__slow__cancelled_mid_tool__nothing_after_agent_cancelled() -> None:
    slow_seconds = 0.5
    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", _agent(slow_seconds=slow_seconds), "slow please", "run_a", sink)
    executing = await wait_for_event(sink, ToolExecuting)
    assert executing.tool_name == "sleep"

    assert runner.cancel("run_a")
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    await asyncio.sleep(slow_seconds + 0.2)

    assert sink.types() == ["agent_started", "agent_thinking", "tool_executing", "agent_cancelled"]
    assert sink.of_type(AgentCancelled)[0].reason == "user_request"
    assert outcome.status == "cancelled"


@pytest.mark.parametrize(
    ("approved", "reason", "answer"),
    [
        (True, None, "Approved, so I announce: PLEASE APPROVE THIS"),
        (False, "too loud", "I did not announce it: too loud."),
    ],
)
async def test__approve__announces_only_when_approved(
    approved: bool, reason: str | None, answer: str
) -> None:
    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", _agent(), "please approve this", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    assert (request.tool_name, request.arguments) == ("announce", {"text": "please approve this"})
    assert runner.resolve_approval("run_a", request.tool_call_id, approved, reason)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")

    assert_well_formed(sink.events)
    assert outcome.text == answer
    assert sink.of_type(ToolCompleted)[0].status == ("success" if approved else "denied")


@pytest.mark.parametrize(
    ("prompt", "plan"),
    [
        ("what is 17*23 in hex?", [("calculator", "17*23 in hex")]),
        ("what is 2 + 2 and 3*4", [("calculator", "2 + 2"), ("calculator", "3*4")]),
        ("convert 255 to binary", [("calculator", "255 to binary")]),
        ("5 km to miles", [("units", "5 km to miles")]),
        ("12 in to cm", [("units", "12 in to cm")]),
        ("in 3 days", [("clock", "in 3 days")]),
        ("days until 2030-01-01", [("clock", "days until 2030-01-01")]),
        ("search my history for 2+2", [("researcher", "search my history for 2+2")]),
        (
            "what is 2+2, 3 km to m and what time is it",
            [("calculator", "2+2"), ("units", "3 km to m"), ("clock", "what time is it")],
        ),
        ("2030-01-01", []),
        ("hello there", []),
        ("the year 2024", []),
    ],
)
def test__plan__which_specialist_gets_which_part(prompt: str, plan: list[tuple[str, str]]) -> None:
    assert [(task.agent.name, task.text) for task in _agent().plan(prompt)] == plan


async def test__specialist_used_directly__understands_its_prompt() -> None:
    calculator = _agent().specialists[-1]
    assert calculator.name == "calculator"
    _, outcome = await _ask("what is 6*7", calculator)
    assert outcome.text == "6*7 = 42."
    _, outcome = await _ask("nothing to compute", calculator)
    assert outcome.text == 'I found no arithmetic in that. Try "what is 17*23 in hex?".'
