"""An OpenAI Agents SDK agent on the chat-completions stand-in, for the adapter tests."""

from __future__ import annotations

import asyncio
import os

from openai import AsyncOpenAI

from agents import Agent, OpenAIChatCompletionsModel, function_tool, set_tracing_disabled

#: What the tools did, for the tests to check.
CALLS: list[str] = []

set_tracing_disabled(True)  # no exporter, no network


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    CALLS.append("add")
    return a + b


@function_tool
async def nap() -> str:
    """Sleep for a long time."""
    CALLS.append("nap")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        CALLS.append("nap cancelled")
        raise
    return "rested"


@function_tool(needs_approval=True)
def delete(path: str) -> str:
    """Delete a file, once the user approves."""
    CALLS.append("delete")
    return f"deleted {path}"


def build_agent(base_url: str) -> Agent[None]:
    """A calculator agent that can hand over to a helper agent; no retries, no key."""
    client = AsyncOpenAI(base_url=base_url, api_key="not-a-key", max_retries=0)
    model = OpenAIChatCompletionsModel(model="stand-in", openai_client=client)
    helper = Agent(name="helper", instructions="Help.", model=model, tools=[add, nap])
    return Agent(
        name="sdk-calc",
        instructions="Calculate.",
        handoff_description="Adds numbers.",
        model=model,
        tools=[add, nap, delete],
        handoffs=[helper],
    )


def from_env() -> Agent[None]:
    """The agent on the stand-in at ``OPENAI_BASE_URL`` (for ``serve --agent ...:from_env``)."""
    return build_agent(os.environ["OPENAI_BASE_URL"])
