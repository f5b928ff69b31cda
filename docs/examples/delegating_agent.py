"""A supervisor that hands work to two sub-agents."""

import asyncio

from agentsocket.agents import ListSink, RunContext, Runner


class Shouter:
    name = "shouter"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt.upper())


class Reverser:
    name = "reverser"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt[::-1])


class Supervisor:
    name = "supervisor"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.think("Asking both helpers")
        loud = await ctx.delegate(Shouter(), prompt)
        backwards = await ctx.delegate(Reverser(), prompt)
        await ctx.say(f"{loud} / {backwards}")


async def main() -> list[tuple[str, str, str | None]]:
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", Supervisor(), "hello", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)  # HELLO / olleh
    return [(e.agent_name, e.TYPE, e.parent_run_id) for e in sink.events]


if __name__ == "__main__":
    asyncio.run(main())
