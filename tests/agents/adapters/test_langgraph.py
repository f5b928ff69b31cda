"""The LangGraph adapter, driven through the real Runner."""

from __future__ import annotations

import pytest

pytest.importorskip("langgraph", reason="needs the langgraph extra: pip install -e '.[langgraph]'")

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt

from agentsocket.agents.adapters import adapt
from agentsocket.agents.adapters.langgraph import LangGraphAgent
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
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
from tests.agents.adapters.langgraph_graph import CALLS, build_graph
from tests.agents.helpers import SAFETY

TOOL_RUN = [
    "agent_started",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "agent_message",
    "agent_completed",
]


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLS.clear()


def _agent(**compile_kwargs: object) -> LangGraphAgent:
    agent = adapt(build_graph(**compile_kwargs))
    assert isinstance(agent, LangGraphAgent)
    return agent


async def test__adapt__a_compiled_graph__wrapped_with_its_name() -> None:
    agent = _agent()
    assert agent.name == "langgraph-calc"
    named = adapt(build_graph(), name="maths", description="Adds numbers.")
    assert isinstance(named, LangGraphAgent)
    assert (named.name, named.description) == ("maths", "Adds numbers.")


async def test__question_with_a_tool__tool_events_then_streamed_answer() -> None:
    sink, outcome = await Thread().ask(_agent(), "please add")

    assert types(sink) == TOOL_RUN
    executing = sink.of_type(ToolExecuting)[0]
    completed = sink.of_type(ToolCompleted)[0]
    assert (executing.tool_call_id, executing.tool_name, executing.arguments) == (
        "tc_add",
        "add",
        {"a": 2, "b": 3},
    )
    assert (completed.tool_call_id, completed.status, completed.result) == ("tc_add", "success", 5)
    assert assert_streamed_equals_final(sink) == outcome.text == "The tool said 5."


@pytest.mark.parametrize("checkpointer", [None, InMemorySaver()], ids=["none", "own"])
async def test__second_question__sees_the_first(checkpointer: InMemorySaver | None) -> None:
    thread, agent = Thread(), _agent(checkpointer=checkpointer)
    await thread.ask(agent, "please add")

    _, outcome = await thread.ask(agent, "what is my history?")

    assert outcome.text == "You asked: please add | what is my history?"


async def test__own_checkpointer_lost_its_memory__history_is_sent() -> None:
    thread = Thread()
    await thread.ask(_agent(checkpointer=InMemorySaver()), "please add")

    _, outcome = await thread.ask(_agent(checkpointer=InMemorySaver()), "my history?")

    assert outcome.text == "You asked: please add | my history?"


async def test__stop_mid_tool__cancelled_promptly() -> None:
    sink, seconds = await Thread().cancel_mid_tool(_agent(), "take a nap", lambda: "nap" in CALLS)

    assert_cancelled(sink)
    await until(lambda: CALLS == ["nap", "nap cancelled"])  # the framework's tool task too
    assert seconds < SAFETY  # measured in the report; a hang guard, not a threshold


@pytest.mark.parametrize("approved", [True, False])
async def test__interrupt__approval_decides_whether_the_tool_acts(approved: bool) -> None:
    sink, outcome = await Thread().ask_with_approval(_agent(), "delete it", approved)

    request = sink.of_type(ToolApprovalRequired)[0]
    assert (request.tool_call_id, request.tool_name, request.arguments) == (
        "tc_delete",
        "delete",
        {"path": "x"},
    )
    assert types(sink)[1:5] == [
        "tool_executing",
        "tool_approval_required",
        "interrupt_resolved",
        "tool_completed",
    ]
    assert (["delete"] if approved else []) == CALLS
    completed = sink.of_type(ToolCompleted)[0]
    assert completed.tool_call_id == "tc_delete"
    expected = "deleted x" if approved else "not deleted: not today"
    assert completed.result == expected
    assert outcome.text == f"The tool said {expected}."
    assert outcome.status == "completed"


async def test__interrupt_with_any_value__shown_as_its_arguments() -> None:
    async def ask(state: MessagesState) -> dict[str, list[AIMessage]]:
        answer = interrupt("Publish the report?")
        return {"messages": [AIMessage(f"approved: {answer['approved']}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    agent = LangGraphAgent(builder.compile(), name="publisher")

    sink, outcome = await Thread().ask_with_approval(agent, "publish", approved=True)

    request = sink.of_type(ToolApprovalRequired)[0]
    assert (request.tool_name, request.arguments) == ("approval", {"value": "Publish the report?"})
    assert outcome.text == "approved: True"


async def test__framework_raises__agent_error_without_traceback() -> None:
    sink, outcome = await Thread().ask(_agent(), "crash now")

    error = sink.of_type(AgentError)[0]
    assert error.code == AgentErrorCode.AGENT_FAILED
    assert "the model broke" in error.message
    assert "Traceback" not in error.message
    assert outcome.status == "error"


async def test__model_usage_metadata__summed_on_agent_completed() -> None:
    sink, _ = await Thread().ask(_agent(), "please add")

    # Two model calls: the tool call (1 message sent, 1 chunk), then the answer
    # (3 messages sent, 4 chunks): the scripted model's usage_metadata, summed.
    completed = sink.of_type(AgentCompleted)[0]
    assert completed.usage == Usage(input_tokens=40, output_tokens=5, total_tokens=45)


async def test__interrupt__process_gone__continued_by_replay_in_a_new_runner() -> None:
    """The graph runs again from its input (its checkpointer died with the process): its
    interrupt gets the stored answer, and the tool runs once, after it."""
    request, after, outcome = await continued_after_restart(_agent, "delete it", approved=True)

    assert (outcome.status, outcome.text) == ("completed", "The tool said deleted x.")
    assert CALLS == ["delete"]
    assert types(after)[:2] == ["interrupt_resolved", "tool_completed"]
    assert after.of_type(ToolCompleted)[0].tool_call_id == request.tool_call_id == "tc_delete"
