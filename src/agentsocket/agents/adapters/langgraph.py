"""Serve a LangGraph compiled graph (``pip install 'agentsocket[langgraph]'``).

The graph's state must have a ``messages`` list (e.g. ``MessagesState``, or
``create_react_agent``'s). It is streamed with ``stream_mode=["messages",
"updates"]``:

- AI message chunks → streamed text (``agent_message_delta``, then one
  ``agent_message`` per AI message); reasoning blocks → ``agent_thinking``;
- an AI message's tool calls → ``tool_executing`` (with LangGraph's
  ``tool_call_id``), the matching ``ToolMessage`` → ``tool_completed``
  (``error`` when its status is ``"error"``);
- an AI message's ``usage_metadata`` (summed by LangChain over its chunks) →
  the run's usage (:meth:`RunContext.report_usage`), once per message;
- ``interrupt(value)`` → ``tool_approval_required``; the graph resumes with
  ``Command(resume={"approved": bool, "reason": str | None})``, so the node
  reads ``interrupt(...)["approved"]``. ``value`` names the call:
  ``{"tool": name, "args": {...}}`` (``name``/``action`` and ``arguments``
  are read too; anything else is shown as ``{"value": value}``), plus
  optionally the ``tool_call_id`` (``InjectedToolCallId``) of the call it
  guards, which then is the approval's id too.

Resuming needs a checkpointer. A graph compiled without one gets a fresh
in-memory saver per run, and the thread's earlier turns are sent before the
prompt as ``HumanMessage``/``AIMessage``. A graph compiled with its own
checkpointer is run with LangGraph's ``thread_id`` set to ours, so it keeps
its own memory; the earlier turns are sent only when its checkpoint for the
thread has no messages yet (e.g. a new process with an in-memory saver).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt

from agentsocket.agents.adapters._errors import model_errors
from agentsocket.agents.adapters._text import Replies
from agentsocket.agents.runtime import RunContext, ToolCallReport
from agentsocket.agents.state import Decision


class LangGraphAgent:
    """A LangGraph compiled graph as an agentsocket agent.

    Args:
        graph: the compiled graph (``StateGraph(...).compile()``, ``create_react_agent``).
        name: the agent's name; default: the graph's name.
        description: what the agent does.
    """

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.graph = graph
        self.name = name or graph.name or "langgraph"
        self.description = description

    async def run(self, ctx: RunContext, prompt: str) -> None:
        graph = self.graph
        earlier = [_message(turn) for turn in await ctx.history()]
        if isinstance(graph.checkpointer, BaseCheckpointSaver):
            config: dict[str, Any] = {"configurable": {"thread_id": ctx.thread_id}}
            state = await graph.aget_state(cast(RunnableConfig, config))
            if state.values.get("messages"):
                earlier = []  # the graph remembers the thread itself
        else:
            graph = graph.copy(update={"checkpointer": InMemorySaver()})
            config = {"configurable": {"thread_id": ctx.run_id}}
        turn = _Turn(ctx)
        graph_input: Any = {"messages": [*earlier, HumanMessage(prompt)]}
        while True:
            interrupts = await turn.stream(graph, graph_input, config)
            if not interrupts:
                break
            answers = {i.id: await _ask(ctx, i) for i in interrupts}
            graph_input = Command(resume=answers)
        await turn.replies.end()


class _Turn:
    """The state of one run's streaming: open tool calls and the text."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.replies = Replies(ctx)
        self.calls: dict[str, ToolCallReport] = {}
        self.counted: set[str] = set()  # AI messages whose usage was reported

    async def stream(
        self, graph: Pregel[Any, Any, Any, Any], graph_input: Any, config: dict[str, Any]
    ) -> list[Interrupt]:
        """Stream the graph until it ends or pauses; return its interrupts."""
        interrupts: list[Interrupt] = []
        # With several modes LangGraph yields (mode, data) pairs from an async generator.
        stream = cast(
            AsyncGenerator[tuple[str, Any], None],
            graph.astream(
                graph_input, cast(RunnableConfig, config), stream_mode=["messages", "updates"]
            ),
        )
        with model_errors():
            await self._drain(stream, interrupts)
        return interrupts

    async def _drain(
        self, stream: AsyncGenerator[tuple[str, Any], None], interrupts: list[Interrupt]
    ) -> None:
        # aclosing: a cancelled run closes the stream, which cancels the graph's tasks.
        async with aclosing(stream) as chunks:
            async for mode, data in chunks:
                if mode == "messages":
                    await self._token(data[0])
                elif isinstance(data, dict):
                    interrupts.extend(data.get("__interrupt__", ()))
                    for update in data.values():
                        for message in _messages_of(update):
                            await self._message(message)

    async def _token(self, message: BaseMessage) -> None:
        if not isinstance(message, AIMessage | AIMessageChunk):
            return  # tool results arrive as updates; user messages are ours
        text, reasoning = _split(message)
        await self.replies.reason(reasoning)
        await self.replies.write(text, key=message.id)

    def _count(self, message: AIMessage) -> None:
        """Report the tokens of a model call: the whole message's ``usage_metadata``, once."""
        used = message.usage_metadata
        key = message.id or str(id(message))
        if used is None or key in self.counted:
            return
        self.counted.add(key)
        self.ctx.report_usage(
            used.get("input_tokens", 0), used.get("output_tokens", 0), used.get("total_tokens")
        )

    async def _message(self, message: BaseMessage) -> None:
        if isinstance(message, AIMessage):
            self._count(message)
            for call in message.tool_calls:
                call_id = call.get("id") or ""
                if call_id in self.calls:
                    continue
                await self.replies.end()
                self.calls[call_id] = await self.ctx.tool_call(
                    call["name"], call["args"], call_id=call_id or None
                )
        elif isinstance(message, ToolMessage):
            report: ToolCallReport | None = self.calls.pop(message.tool_call_id, None)
            if report is None:  # a tool call made without an AI message (e.g. by a node)
                name = message.name or "tool"
                report = await self.ctx.tool_call(name, call_id=message.tool_call_id)
            content = _content_text(message.content)
            if message.status == "error":
                await report.failed(content)
            else:
                await report.succeeded(_jsonish(content))


async def _ask(ctx: RunContext, interrupt: Interrupt) -> dict[str, Any]:
    """Ask the user about an interrupt; the value the graph resumes with."""
    value = interrupt.value
    name, args, call_id = "approval", {"value": value}, interrupt.id
    if isinstance(value, dict):
        name = str(value.get("tool") or value.get("name") or value.get("action") or name)
        found = value.get("args", value.get("arguments"))
        args = found if isinstance(found, dict) else dict(value)
        call_id = str(value.get("tool_call_id") or call_id)
    decision: Decision = await ctx.ask_approval(name, args, call_id=call_id)
    return {"approved": decision.approved, "reason": decision.reason}


def _message(turn: dict[str, str]) -> BaseMessage:
    if turn["role"] == "assistant":
        return AIMessage(turn["content"])
    return HumanMessage(turn["content"])


def _messages_of(update: object) -> list[BaseMessage]:
    """The messages a node's update adds (a list, or one message)."""
    if not isinstance(update, dict):
        return []
    found = update.get("messages")
    if isinstance(found, BaseMessage):
        return [found]
    if isinstance(found, list):
        return [m for m in found if isinstance(m, BaseMessage)]
    return []


def _split(message: AIMessage) -> tuple[str, str]:
    """(text, reasoning) of an AI message or chunk, whatever the content's shape."""
    content = message.content
    reasoning = message.additional_kwargs.get("reasoning_content")
    thoughts = [reasoning] if isinstance(reasoning, str) else []
    if isinstance(content, str):
        return content, "".join(thoughts)
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") in ("reasoning", "thinking"):
            thoughts.append(str(block.get("reasoning") or block.get("thinking") or ""))
    return "".join(texts), "".join(thoughts)


def _content_text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _jsonish(text: str) -> Any:
    """A tool's result: its JSON value when the text is JSON (LangGraph stringifies), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text
