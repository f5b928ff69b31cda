"""A LangGraph graph behind agentsocket: ``agentsocket serve --agent langgraph_agent:graph``."""

import asyncio
import re
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt

from agentsocket.agents import ListSink, Runner, adapt


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def delete_draft(draft: str) -> str:
    """Delete one of the user's drafts, if the user agrees."""
    answer = interrupt({"tool": "delete_draft", "args": {"draft": draft}})
    if not answer["approved"]:
        return f"kept {draft}: {answer['reason']}"
    return f"deleted {draft}"


TOOLS = [add, delete_draft]


def build_graph(model: BaseChatModel) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The model calls tools until it can answer: model → tools → model."""
    bound = model.bind_tools(TOOLS)

    async def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await bound.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", call_model)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    return builder.compile(name="calculator")


class OfflineModel(BaseChatModel):
    """Stands in for a real chat model (e.g. ``ChatOpenAI(model=...)``) so this runs offline.

    It adds the two numbers of the question with the ``add`` tool, then says the sum.
    """

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(f"The sum is {messages[-1].text}.")
        a, b = (int(n) for n in re.findall(r"\d+", messages[-1].text)[:2])
        call = {"name": "add", "args": {"a": a, "b": b}, "id": "call_add", "type": "tool_call"}
        return AIMessage("", tool_calls=[call])

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        if reply.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(content="", tool_calls=reply.tool_calls)
            )
        for word in re.findall(r"\S+\s*", reply.text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))

    def bind_tools(self, tools: Any, **kwargs: Any) -> "OfflineModel":
        return self

    @property
    def _llm_type(self) -> str:
        return "offline"


graph = build_graph(OfflineModel())


async def main() -> list[str]:
    agent = adapt(graph)  # what `agentsocket serve --agent` does with the graph
    assert agent is not None
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", agent, "What is 2 + 3?", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)  # The sum is 5.
    return sink.types()


if __name__ == "__main__":
    asyncio.run(main())
