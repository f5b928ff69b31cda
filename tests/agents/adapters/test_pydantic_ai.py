"""The PydanticAI adapter, driven through the real Runner."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip(
    "pydantic_ai", reason="needs the pydantic-ai extra: pip install -e '.[pydantic-ai]'"
)

from pydantic import BaseModel
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.models.test import TestModel
from pydantic_ai.run import AgentRunResultEvent

from agentsocket.agents.adapters import adapt
from agentsocket.agents.adapters.pydantic_ai import PydanticAIAgent
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
    AgentThinking,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
    Usage,
)
from tests.agents.adapters.helpers import (
    Thread,
    assert_cancelled,
    assert_streamed_equals_final,
    continued_after_restart,
    types,
    until,
)
from tests.agents.adapters.pydantic_ai_agent import CALLS, build_agent
from tests.agents.helpers import SAFETY

TOOL_RUN = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "agent_message",
    "agent_completed",
]


class Total(BaseModel):
    total: int


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLS.clear()


def _agent() -> PydanticAIAgent:
    agent = adapt(build_agent())
    assert isinstance(agent, PydanticAIAgent)
    return agent


async def test__adapt__a_pydantic_ai_agent__wrapped_not_taken_as_ours() -> None:
    agent = _agent()
    assert agent.name == "pydantic-calc"
    named = adapt(build_agent(), name="maths", description="Adds numbers.")
    assert isinstance(named, PydanticAIAgent)
    assert (named.name, named.description) == ("maths", "Adds numbers.")


async def test__question_with_a_tool__thought_tool_events_then_streamed_answer() -> None:
    sink, outcome = await Thread().ask(_agent(), "please add")

    assert types(sink) == TOOL_RUN
    assert sink.of_type(AgentThinking)[0].content == "I should use add."
    executing = sink.of_type(ToolExecuting)[0]
    completed = sink.of_type(ToolCompleted)[0]
    assert (executing.tool_call_id, executing.tool_name, executing.arguments) == (
        "tc_add",
        "add",
        {"a": 2, "b": 3},
    )
    assert (completed.tool_call_id, completed.status, completed.result) == ("tc_add", "success", 5)
    assert assert_streamed_equals_final(sink) == outcome.text == "The tool said 5."


async def test__second_question__sees_the_first() -> None:
    thread, agent = Thread(), _agent()
    await thread.ask(agent, "please add")

    _, outcome = await thread.ask(agent, "what is my history?")

    assert outcome.text == "You asked: please add | what is my history?"


async def test__stop_mid_tool__cancelled_promptly() -> None:
    sink, seconds = await Thread().cancel_mid_tool(_agent(), "take a nap", lambda: "nap" in CALLS)

    assert_cancelled(sink)
    await until(lambda: CALLS == ["nap", "nap cancelled"])  # the framework's tool task too
    assert seconds < SAFETY  # measured in the report; a hang guard, not a threshold


async def test__approved__tool_runs_after_the_approval() -> None:
    sink, outcome = await Thread().ask_with_approval(_agent(), "delete it", approved=True)

    assert CALLS == ["delete"]
    kinds = types(sink)
    assert kinds.index("tool_approval_required") < kinds.index("tool_executing")
    request = sink.of_type(ToolApprovalRequired)[0]
    assert (request.tool_call_id, request.tool_name, request.arguments) == (
        "tc_delete",
        "delete",
        {"path": "x"},
    )
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.status, completed.result) == ("success", "deleted x")
    assert outcome.text == "The tool said deleted x."


async def test__denied__tool_does_not_run_and_the_model_hears_why() -> None:
    sink, outcome = await Thread().ask_with_approval(_agent(), "delete it", approved=False)

    assert CALLS == []
    assert sink.of_type(ToolExecuting) == []
    completed = sink.of_type(ToolCompleted)
    assert [(c.tool_call_id, c.status, c.error) for c in completed] == [
        ("tc_delete", "denied", "not today")
    ]
    assert outcome.text == "The tool said not today."


async def test__external_tool__failed_for_the_model_and_the_run_goes_on() -> None:
    sink, outcome = await Thread().ask(_agent(), "use the external tool")

    completed = sink.of_type(ToolCompleted)
    assert [(c.tool_call_id, c.status) for c in completed] == [("tc_external", "error")]
    assert "outside the agent" in (completed[0].error or "")
    assert outcome.status == "completed"
    assert outcome.text.startswith("The tool said ")


async def test__model_api_error__typed_upstream_code() -> None:
    sink, outcome = await Thread().ask(_agent(), "are you busy?")

    error = sink.of_type(AgentError)[0]
    assert (error.code, error.retryable) == (AgentErrorCode.UPSTREAM_RATE_LIMITED, True)
    assert error.message == "model API error: slow down"
    assert outcome.status == "error"


async def test__framework_raises__agent_error_without_traceback() -> None:
    sink, outcome = await Thread().ask(_agent(), "crash now")

    error = sink.of_type(AgentError)[0]
    assert error.code == AgentErrorCode.AGENT_FAILED
    assert "the model broke" in error.message
    assert "Traceback" not in error.message
    assert outcome.status == "error"


@pytest.mark.parametrize("validated", [False, True])
async def test__structured_output__sent_as_json(validated: bool) -> None:
    model = TestModel(call_tools=[], custom_output_args={"total": 5})
    agent: Agent[None, Total | str] = Agent(model, output_type=[Total, str], name="totals")
    if validated:  # PydanticAI then refuses a run's output_type: the agent's own is used

        @agent.output_validator
        def keep(value: Total | str) -> Total | str:
            return value

    sink, outcome = await Thread().ask(PydanticAIAgent(agent), "total?")

    assert outcome.text == '{"total": 5}'
    assert types(sink)[-2:] == ["agent_message", "agent_completed"]


async def test__usage__is_the_runs_result_usage() -> None:
    sink, _ = await Thread().ask(_agent(), "please add")

    # The same prompt run by PydanticAI itself: its FunctionModel counts the tokens.
    expected = (await _streamed(build_agent(), "please add")).usage
    completed = sink.of_type(AgentCompleted)[0]
    assert completed.usage == Usage(
        input_tokens=expected.input_tokens,
        output_tokens=expected.output_tokens,
        total_tokens=expected.total_tokens,
    )
    assert expected.total_tokens > 0


async def test__usage__after_an_approval__sums_both_parts_of_the_run() -> None:
    sink, _ = await Thread().ask_with_approval(_agent(), "delete it", approved=True)

    # PydanticAI's own two runs: up to the pause, then resumed with the approval.
    agent = build_agent()
    paused = await _streamed(agent, "delete it", output_type=[str, DeferredToolRequests])
    assert isinstance(paused.output, DeferredToolRequests)
    approvals = DeferredToolResults()
    for call in paused.output.approvals:
        approvals.approvals[call.tool_call_id] = True
    resumed = await _streamed(
        agent,
        None,
        message_history=paused.all_messages(),
        deferred_tool_results=approvals,
        output_type=[str, DeferredToolRequests],
    )
    first, second = paused.usage, resumed.usage
    assert second.total_tokens > 0
    completed = sink.of_type(AgentCompleted)[0]
    assert completed.usage == Usage(
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
    )


async def test__test_model__usage_reported() -> None:
    agent: Agent[None, str] = Agent(TestModel(call_tools=[], custom_output_text="hi"), name="t")
    sink, _ = await Thread().ask(PydanticAIAgent(agent), "hello there")

    expected = (await agent.run("hello there")).usage
    completed = sink.of_type(AgentCompleted)[0]
    assert completed.usage == Usage(
        input_tokens=expected.input_tokens,
        output_tokens=expected.output_tokens,
        total_tokens=expected.total_tokens,
    )


async def _streamed(agent: Agent[None, Any], prompt: str | None, **options: Any) -> Any:
    """PydanticAI's own result of a streamed run (FunctionModel here streams only)."""
    async with agent.run_stream_events(prompt, **options) as events:
        async for event in events:
            if isinstance(event, AgentRunResultEvent):
                return event.result
    raise AssertionError("the run ended without a result")


async def test__approval__process_gone__continued_by_replay_in_a_new_runner() -> None:
    request, after, outcome = await continued_after_restart(_agent, "delete it", approved=True)

    assert outcome.status == "completed"
    assert CALLS == ["delete"]
    assert types(after)[0] == "interrupt_resolved"
    assert after.of_type(ToolCompleted)[0].tool_call_id == request.tool_call_id
