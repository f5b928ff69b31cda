"""A LangGraph graph served over AG-UI by ``ag-ui-langgraph``'s FastAPI endpoint helper.

The graph is the usual tool loop (model node, ``ToolNode``, back to the model)
with a scripted chat model. Run:
``python -m tests.agents.adapters.agui_servers.langgraph_app PORT RECORD_FILE``;
the agent is at ``POST /agent``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from ag_ui_langgraph import LangGraphAgent, add_langgraph_fastapi_endpoint
from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolCallChunk,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from tests.agents.adapters.agui_servers.common import (
    TOOL_ARGS,
    TOOL_NAME,
    answer,
    arguments,
    multiply,
    record,
)


class ScriptedChatModel(BaseChatModel):
    """Calls ``multiply`` for a new question, then answers with the tool's result."""

    record_file: Path

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self  # the script knows its one tool

    def _chunks(self, messages: list[BaseMessage]) -> list[AIMessageChunk]:
        prompts = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
        answers = [
            str(m.content)
            for m in messages
            if isinstance(m, AIMessage) and not m.tool_calls and m.content
        ]
        last = messages[-1]
        if isinstance(last, ToolMessage):
            text = answer(str(last.content), prompts)
            return [AIMessageChunk(content=text[i : i + 8]) for i in range(0, len(text), 8)]
        record(self.record_file, prompts, answers)
        # As models stream a call: its name and id first, then the arguments.
        start = ToolCallChunk(name=TOOL_NAME, args="", id=f"call_lg_{len(prompts)}", index=0)
        args = ToolCallChunk(name=None, args=json.dumps(TOOL_ARGS), id=None, index=0)
        return [
            AIMessageChunk(content="", tool_call_chunks=[start]),
            AIMessageChunk(content="", tool_call_chunks=[args]),
        ]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        whole = self._chunks(messages)
        merged = whole[0]
        for chunk in whole[1:]:
            merged = merged + chunk
        return ChatResult(generations=[ChatGeneration(message=AIMessage(**merged.model_dump()))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            yield ChatGenerationChunk(message=chunk)


def build_app(record_file: Path) -> FastAPI:
    """The FastAPI app serving the graph over AG-UI."""
    tools = [tool(multiply)]
    model = ScriptedChatModel(record_file=record_file)

    def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", call_model)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    graph = builder.compile(checkpointer=InMemorySaver())
    app = FastAPI()
    add_langgraph_fastapi_endpoint(app, LangGraphAgent(name="calculator", graph=graph), "/agent")
    return app


if __name__ == "__main__":
    port, record_file = arguments()
    uvicorn.run(build_app(record_file), host="127.0.0.1", port=port, log_level="warning")
