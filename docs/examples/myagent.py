"""Serve your agent: ``agentsocket serve --dev --agent myagent:agent``."""

from agentsocket.agents import RunContext, Tool


def count_words(text: str) -> int:
    return len(text.split())


COUNT = Tool("count_words", "Count the words in a text.", {"type": "object"}, count_words)


class Counter:
    """Counts your words and remembers what you said."""

    name = "counter"
    tools = (COUNT,)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        result = await ctx.tool("count_words", {"text": prompt})
        said = [turn["content"] for turn in await ctx.history() if turn["role"] == "user"]
        earlier = f' Before, you said "{said[-1]}".' if said else ""
        await ctx.say(f"That is {result.value} words.{earlier}")


agent = Counter()
