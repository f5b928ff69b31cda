"""A small LangGraph tool-calling graph on a scripted chat model, for the adapter tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Annotated, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt

#: What the tools did, for the tests to check.
CALLS: list[str] = []


class ScriptedChatModel(BaseChatModel):
    """Answers by rule: a prompt naming a tool calls it; after a tool result, says it.

    ``add``/``nap``/``delete`` in the last user message call that tool;
    ``crash`` raises; ``history`` lists the user messages it was sent.
    Text is streamed a word at a time. Like a real provider it reports usage
    (``usage_metadata`` on the last chunk): 10 input tokens per message sent,
    one output token per chunk.
    """

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if not isinstance(last, HumanMessage):
            return AIMessage(f"The tool said {last.text}.")
        prompt = last.text
        if "crash" in prompt:
            raise RuntimeError("the model broke")
        if "history" in prompt:
            seen = [m.text for m in messages if isinstance(m, HumanMessage)]
            return AIMessage("You asked: " + " | ".join(seen))
        for name, args in (("add", {"a": 2, "b": 3}), ("nap", {}), ("delete", {"path": "x"})):
            if name in prompt:
                call = {"name": name, "args": args, "id": f"tc_{name}", "type": "tool_call"}
                return AIMessage("", tool_calls=[call])
        return AIMessage("Nothing to do.")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        for chunk in _chunks(reply, len(messages)):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from _chunks(self._reply(messages), len(messages))

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self  # the script knows the tools

    @property
    def _llm_type(self) -> str:
        return "scripted"


def _chunks(reply: AIMessage, messages_sent: int) -> list[ChatGenerationChunk]:
    if reply.tool_calls:
        calls = [
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
            for i, c in enumerate(reply.tool_calls)
        ]
        chunks = [AIMessageChunk(content="", tool_call_chunks=calls)]
    else:
        words = reply.text.split(" ")
        chunks = [AIMessageChunk(content=w + " ") for w in words[:-1]]
        chunks.append(AIMessageChunk(content=words[-1]))
    used = UsageMetadata(
        input_tokens=10 * messages_sent,
        output_tokens=len(chunks),
        total_tokens=10 * messages_sent + len(chunks),
    )
    chunks[-1] = AIMessageChunk(
        content=chunks[-1].content,
        tool_call_chunks=chunks[-1].tool_call_chunks,
        usage_metadata=used,
    )
    return [ChatGenerationChunk(message=chunk) for chunk in chunks]


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    CALLS.append("add")
    return a + b


@tool
async def nap() -> str:
    """Sleep for a long time."""
    CALLS.append("nap")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        CALLS.append("nap cancelled")
        raise
    return "rested"


@tool
def delete(path: str, call_id: Annotated[str, InjectedToolCallId]) -> str:
    """Delete a file, once the user approves."""
    answer = interrupt({"tool": "delete", "args": {"path": path}, "tool_call_id": call_id})
    if not answer["approved"]:
        return f"not deleted: {answer['reason']}"
    CALLS.append("delete")
    return f"deleted {path}"


TOOLS: list[BaseTool] = [add, nap, delete]


def build_graph(**compile_kwargs: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
    """model → tools → model, until the model answers without a tool call."""
    model = ScriptedChatModel().bind_tools(TOOLS)

    async def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", call_model)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    return builder.compile(name="langgraph-calc", **compile_kwargs)
