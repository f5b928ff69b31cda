"""The OpenAI Agents SDK adapter, driven through the real Runner against the stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

pytest.importorskip(
    "agents", reason="needs the openai-agents extra: pip install -e '.[openai-agents]'"
)

from agentsocket.agents.adapters import adapt
from agentsocket.agents.adapters.openai_agents import OpenAIAgentsAgent
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
    AgentMessage,
    AgentStarted,
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
from tests.agents.adapters.openai_agents_agent import CALLS, build_agent
from tests.agents.helpers import SAFETY
from tests.agents.standin import StandIn, Stream, serve, text, tool_call, usage
from tests.agents.standin import finish as done

# One stand-in server for the module (starting uvicorn per test costs more than the tests).
pytestmark = pytest.mark.asyncio(loop_scope="module")

TOOL_RUN = [
    "agent_started",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "agent_message",
    "agent_completed",
]


def calls(call_id: str, name: str, arguments: str) -> Stream:
    return Stream([*tool_call(0, call_id, name, arguments), done("tool_calls")])


def says(*pieces: str) -> Stream:
    return Stream([*text(*pieces), done()])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[StandIn]:
    async for running in serve(StandIn()):
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def standin(server: StandIn) -> AsyncIterator[StandIn]:
    server.reset()
    CALLS.clear()
    yield server
    server.reset()


def _agent(standin: StandIn) -> OpenAIAgentsAgent:
    agent = adapt(build_agent(standin.base_url))
    assert isinstance(agent, OpenAIAgentsAgent)
    return agent


async def test__adapt__an_sdk_agent__wrapped_with_its_name_and_description(
    standin: StandIn,
) -> None:
    agent = _agent(standin)
    assert (agent.name, agent.description) == ("sdk-calc", "Adds numbers.")


async def test__question_with_a_tool__tool_events_then_streamed_answer(standin: StandIn) -> None:
    standin.script(calls("call_1", "add", '{"a": 2, "b": 3}'), says("The sum ", "is 5."))

    sink, outcome = await Thread().ask(_agent(standin), "add 2 and 3")

    assert types(sink) == TOOL_RUN
    executing = sink.of_type(ToolExecuting)[0]
    completed = sink.of_type(ToolCompleted)[0]
    assert (executing.tool_call_id, executing.tool_name, executing.arguments) == (
        "call_1",
        "add",
        {"a": 2, "b": 3},
    )
    assert (completed.tool_call_id, completed.status, completed.result) == ("call_1", "success", 5)
    assert assert_streamed_equals_final(sink) == outcome.text == "The sum is 5."


async def test__second_question__history_is_sent_as_input_items(standin: StandIn) -> None:
    standin.script(says("Five."), says("You asked about adding."))
    thread, agent = Thread(), _agent(standin)
    await thread.ask(agent, "add 2 and 3")

    _, outcome = await thread.ask(agent, "what did I ask?")

    sent = [(m["role"], m["content"]) for m in standin.requests[1]["messages"][1:]]
    assert sent == [
        ("user", "add 2 and 3"),
        ("assistant", "Five."),
        ("user", "what did I ask?"),
    ]
    assert outcome.text == "You asked about adding."


async def test__stop_mid_tool__cancelled_promptly(standin: StandIn) -> None:
    standin.script(calls("call_1", "nap", "{}"), says("never"))

    sink, seconds = await Thread().cancel_mid_tool(
        _agent(standin), "take a nap", lambda: "nap" in CALLS
    )

    assert_cancelled(sink)
    await until(lambda: CALLS == ["nap", "nap cancelled"])  # the framework's tool task too
    assert seconds < SAFETY  # measured in the report; a hang guard, not a threshold


async def test__approved__tool_runs_after_the_approval(standin: StandIn) -> None:
    standin.script(calls("call_1", "delete", '{"path": "x"}'), says("Deleted."))

    sink, outcome = await Thread().ask_with_approval(_agent(standin), "delete x", approved=True)

    assert CALLS == ["delete"]
    kinds = types(sink)
    assert kinds[:5] == [
        "agent_started",
        "tool_approval_required",
        "interrupt_resolved",
        "tool_executing",
        "tool_completed",
    ]
    request = sink.of_type(ToolApprovalRequired)[0]
    assert (request.tool_call_id, request.tool_name, request.arguments) == (
        "call_1",
        "delete",
        {"path": "x"},
    )
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.status, completed.result) == ("success", "deleted x")
    assert outcome.text == "Deleted."


async def test__denied__tool_does_not_run_and_the_model_hears_why(standin: StandIn) -> None:
    standin.script(calls("call_1", "delete", '{"path": "x"}'), says("Not deleted."))

    sink, outcome = await Thread().ask_with_approval(_agent(standin), "delete x", approved=False)

    assert CALLS == []
    assert sink.of_type(ToolExecuting) == []
    completed = sink.of_type(ToolCompleted)
    assert [(c.tool_call_id, c.status, c.error) for c in completed] == [
        ("call_1", "denied", "not today")
    ]
    tool_result = standin.requests[1]["messages"][-1]
    assert (tool_result["role"], tool_result["content"]) == ("tool", "not today")
    assert outcome.text == "Not deleted."


async def test__handoff__a_sub_run_of_the_target_agent(standin: StandIn) -> None:
    standin.script(
        calls("call_h", "transfer_to_helper", "{}"),
        calls("call_2", "add", '{"a": 1, "b": 1}'),
        says("Two, ", "says the helper."),
    )

    sink, outcome = await Thread().ask(_agent(standin), "ask the helper")

    root, sub = (e for e in sink.of_type(AgentStarted))
    assert (root.agent_name, sub.agent_name, sub.parent_run_id) == (
        "sdk-calc",
        "helper",
        root.run_id,
    )
    assert types(sink, sub.run_id) == TOOL_RUN
    assert sink.of_type(ToolExecuting)[0].run_id == sub.run_id
    answers = {m.run_id: m.content for m in sink.of_type(AgentMessage)}
    assert answers == {sub.run_id: "Two, says the helper.", root.run_id: "Two, says the helper."}
    assert outcome.text == "Two, says the helper."
    assert types(sink)[-1] == "agent_completed"


async def test__model_api_fails__upstream_error_without_traceback(standin: StandIn) -> None:
    # Nothing scripted: the stand-in answers 500.
    sink, outcome = await Thread().ask(_agent(standin), "hello")

    error = sink.of_type(AgentError)[0]
    assert (error.code, error.retryable) == (AgentErrorCode.UPSTREAM_ERROR, True)
    assert "Traceback" not in error.message
    assert outcome.status == "error"


async def test__framework_raises__agent_failed_without_traceback(standin: StandIn) -> None:
    standin.script(calls("call_1", "no_such_tool", "{}"))

    sink, outcome = await Thread().ask(_agent(standin), "hello")

    error = sink.of_type(AgentError)[0]
    assert error.code == AgentErrorCode.AGENT_FAILED
    assert "no_such_tool" in error.message
    assert "Traceback" not in error.message
    assert outcome.status == "error"


async def test__stop_mid_tool_of_a_handed_to_agent__both_runs_cancelled(standin: StandIn) -> None:
    standin.script(calls("call_h", "transfer_to_helper", "{}"), calls("call_2", "nap", "{}"))

    sink, _ = await Thread().cancel_mid_tool(_agent(standin), "nap", lambda: "nap" in CALLS)

    ends = [(e.agent_name, e.TYPE) for e in sink.events if e.TYPE == "agent_cancelled"]
    assert ends == [("helper", "agent_cancelled"), ("sdk-calc", "agent_cancelled")]
    await until(lambda: CALLS == ["nap", "nap cancelled"])


async def test__usage__summed_over_requests_and_the_resumption_after_an_approval(
    standin: StandIn,
) -> None:
    standin.script(
        Stream(
            [*tool_call(0, "call_1", "delete", '{"path": "x"}'), done("tool_calls"), usage(10, 2)]
        ),
        Stream([*text("Deleted."), done(), usage(20, 3)]),
    )

    sink, _ = await Thread().ask_with_approval(_agent(standin), "delete x", approved=True)

    completed = sink.of_type(AgentCompleted)[-1]
    assert completed.parent_run_id is None
    assert completed.usage == Usage(input_tokens=30, output_tokens=5, total_tokens=35)


async def test__no_usage_reported__null_usage(standin: StandIn) -> None:
    standin.script(says("Hi."))

    sink, _ = await Thread().ask(_agent(standin), "hello")

    # The SDK counts a request with no usage as zero tokens: that is "not reported".
    completed = sink.of_type(AgentCompleted)[-1]
    assert completed.usage is None


async def test__approved__process_gone__continued_by_replay_in_a_new_runner(
    standin: StandIn,
) -> None:
    """Run again, the SDK asks its model again (the stand-in answers as before): the call
    gets the stored approval and runs once."""
    asked = calls("call_1", "delete", '{"path": "x"}')
    standin.script(asked, asked, says("Deleted."))

    request, after, outcome = await continued_after_restart(
        lambda: _agent(standin), "delete x", approved=True
    )

    assert (outcome.status, outcome.text) == ("completed", "Deleted.")
    assert CALLS == ["delete"]
    assert types(after)[0] == "interrupt_resolved"
    assert after.of_type(ToolCompleted)[0].tool_call_id == request.tool_call_id == "call_1"
