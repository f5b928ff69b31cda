"""An agent with a tool, a streamed answer and a chosen error code."""

import asyncio

from agentsocket.agents import AgentErrorCode, AgentFailure, ListSink, RunContext, Runner, Tool


def count_words(text: str) -> int:
    return len(text.split())


COUNT_WORDS = Tool(
    name="count_words",
    description="Count the words in a text.",
    parameters={
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
    func=count_words,
)


class WordCounter:
    name = "word_counter"
    tools = (COUNT_WORDS,)  # callable by name: ctx.tool("count_words", ...)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        if not prompt.strip():
            raise AgentFailure(AgentErrorCode.AGENT_FAILED, "Give me some text to count.")
        result = await ctx.tool("count_words", {"text": prompt})
        if not result.ok:
            await ctx.say(f"Counting failed: {result.error}")
            return
        async with ctx.message() as message:
            await message.write("That is ")
            await message.write(f"{result.value} words.")


async def main() -> list[str]:
    runner, sink = Runner(), ListSink()
    runner.start("user-1", "thread-1", WordCounter(), "one two three", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)  # That is 3 words.
    runner.start("user-1", "thread-1", WordCounter(), "   ", "run-2", sink)
    failed = await runner.wait("run-2")
    print(failed.error_code, "-", failed.error_message)  # agent_failed - Give me some text ...
    return sink.types()


if __name__ == "__main__":
    asyncio.run(main())
