"""An LLM agent on any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp ...)."""

import asyncio
import os

from agentsocket.agents import CALCULATE, ListSink, OpenAIChatAgent, Runner, RunOutcome


async def main(base_url: str = "http://localhost:11434/v1", model: str = "llama3.2") -> RunOutcome:
    agent = OpenAIChatAgent(
        base_url,
        model,
        api_key=os.environ.get("OPENAI_API_KEY"),
        tools=[CALCULATE],
        timeout=60,
        system_prompt="Use the calculate tool for arithmetic.",
    )
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", agent, "What is 17*23?", "run-1", sink)
    outcome = await runner.wait("run-1")
    await agent.aclose()
    print(outcome.status, "-", outcome.text or outcome.error_message)
    return outcome


if __name__ == "__main__":
    asyncio.run(main())
