"""A PydanticAI agent behind agentsocket: ``agentsocket serve --agent pydantic_ai_agent:agent``."""

import asyncio
import os

from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel

from agentsocket.agents import ListSink, Runner, adapt

# Your model, e.g. AGENT_MODEL=openai:gpt-5-mini; without one, PydanticAI's offline
# TestModel, which calls the add tool and answers with what it returned.
agent = Agent(
    os.environ.get("AGENT_MODEL") or TestModel(call_tools=["add"]),
    name="calculator",
    instructions="Use the tools for arithmetic.",
)


@agent.tool_plain
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@agent.tool_plain(requires_approval=True)
def delete_draft(draft: str) -> str:
    """Delete one of the user's drafts; the user approves each call first."""
    return f"deleted {draft}"


async def main() -> list[str]:
    served = adapt(agent)  # what `agentsocket serve --agent` does with the agent
    assert served is not None
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", served, "What is 2 + 3?", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)  # {"add":0} (TestModel's answer: each tool's result)
    return sink.types()


if __name__ == "__main__":
    asyncio.run(main())
