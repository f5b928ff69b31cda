"""The smallest agent: think, then stream the prompt back."""

import asyncio

from agentsocket.agents import ListSink, RunContext, Runner


class EchoAgent:
    name = "echo"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.think("Repeating what you said")
        await ctx.say(f"You said: {prompt}")


async def main() -> list[str]:
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", EchoAgent(), "hello", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.status, "-", outcome.text)  # completed - You said: hello
    return sink.types()


if __name__ == "__main__":
    asyncio.run(main())
