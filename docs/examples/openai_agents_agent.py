"""An OpenAI Agents SDK agent behind agentsocket.

Serve it with ``agentsocket serve --agent openai_agents_agent:agent``. The model
client reads ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` (any chat-completions
server) from the environment; ``AGENT_MODEL`` picks the model.
"""

import asyncio
import os

from openai import AsyncOpenAI

from agents import Agent, OpenAIChatCompletionsModel, function_tool, set_tracing_disabled
from agentsocket.agents import ListSink, Runner, adapt

set_tracing_disabled(True)  # the SDK would otherwise export traces to OpenAI

model = OpenAIChatCompletionsModel(
    model=os.environ.get("AGENT_MODEL", "gpt-5-mini"), openai_client=AsyncOpenAI()
)


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@function_tool(needs_approval=True)
def delete_draft(draft: str) -> str:
    """Delete one of the user's drafts; the user approves each call first."""
    return f"deleted {draft}"


explainer = Agent(
    name="explainer",
    handoff_description="Explains how a sum was worked out.",
    instructions="Explain arithmetic step by step.",
    model=model,
)

agent = Agent(
    name="calculator",
    instructions="Use the tools for arithmetic; hand over to the explainer for explanations.",
    model=model,
    tools=[add, delete_draft],
    handoffs=[explainer],
)


async def main() -> list[str]:
    served = adapt(agent)  # what `agentsocket serve --agent` does with the agent
    assert served is not None
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", served, "What is 2 + 3?", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)
    return sink.types()


if __name__ == "__main__":
    asyncio.run(main())
