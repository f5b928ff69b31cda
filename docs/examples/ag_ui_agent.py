"""Any AG-UI server as an agent (PydanticAI, LangGraph, CrewAI, Mastra, Agno, ...)."""

import asyncio
import os

from agentsocket.agents import ListSink, Runner, RunOutcome
from agentsocket.agents.adapters.ag_ui import AGUIAgent


async def main(url: str = "http://localhost:8000/agent") -> RunOutcome:
    agent = AGUIAgent(
        "calculator",
        url,
        headers={"Authorization": f"Bearer {os.environ.get('AGUI_TOKEN', '')}"},
        description="Answers arithmetic questions with a tool.",
        read_timeout=120,
    )
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", agent, "What is 6*7?", "run-1", sink)
    outcome = await runner.wait("run-1")
    await agent.aclose()
    print(outcome.status, "-", outcome.text or outcome.error_message)
    return outcome


if __name__ == "__main__":
    asyncio.run(main())
