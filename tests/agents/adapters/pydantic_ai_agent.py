"""A PydanticAI agent on a scripted FunctionModel, for the adapter tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_ai import Agent, CallDeferred
from pydantic_ai.exceptions import ModelRateLimitError
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaThinkingPart, DeltaToolCall, FunctionModel

#: What the tools did, for the tests to check.
CALLS: list[str] = []

TOOL_ARGS = {
    "add": '{"a": 2, "b": 3}',
    "nap": "{}",
    "delete": '{"path": "x"}',
    "external": "{}",
}


def _prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


async def scripted(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | dict[int, DeltaToolCall] | dict[int, DeltaThinkingPart]]:
    """Think, call the tool the prompt names; after a tool result, say it, word by word."""
    last = messages[-1].parts[-1]
    if isinstance(last, ToolReturnPart):
        for word in ["The ", "tool ", "said ", f"{last.content}."]:
            yield word
        return
    prompt = _prompts(messages)[-1]
    if "crash" in prompt:
        raise RuntimeError("the model broke")
    if "busy" in prompt:
        raise ModelRateLimitError("scripted", "slow down")
    if "history" in prompt:
        yield "You asked: " + " | ".join(_prompts(messages))
        return
    for name, args in TOOL_ARGS.items():
        if name in prompt:
            yield {0: DeltaThinkingPart(content=f"I should use {name}.")}
            yield {1: DeltaToolCall(name=name, json_args=args, tool_call_id=f"tc_{name}")}
            return
    yield "Nothing to do."


def build_agent() -> Agent[None, str]:
    agent = Agent(FunctionModel(stream_function=scripted), name="pydantic-calc")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        CALLS.append("add")
        return a + b

    @agent.tool_plain
    async def nap() -> str:
        """Sleep for a long time."""
        CALLS.append("nap")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            CALLS.append("nap cancelled")
            raise
        return "rested"

    @agent.tool_plain(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file, once the user approves."""
        CALLS.append("delete")
        return f"deleted {path}"

    @agent.tool_plain
    def external() -> str:
        """A tool the caller of the agent is to run."""
        raise CallDeferred

    return agent
