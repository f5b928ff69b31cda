"""The built-in demo agent, with a history search and a fixed clock."""

import asyncio
from datetime import UTC, datetime

from agentsocket.agents import DemoAgent, ListSink, Runner


async def search(user_id: str, query: str) -> list[str]:
    # The server searches user_id's own threads; this stands in for it.
    history = {"user-1": ["Pizza on Friday?", "Remember to buy milk"]}
    return [text for text in history.get(user_id, []) if query.lower() in text.lower()]


async def main() -> str:
    agent = DemoAgent(search=search, clock=lambda: datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    runner, sink = Runner(), ListSink()
    prompt = "what is 17*23 in hex? and search my history for pizza"
    runner.start("user-1", "thread-1", agent, prompt, "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)
    # - 17*23 = 391, which is 0x187 in hexadecimal.
    # - I found 1 earlier message about "pizza":
    #   - Pizza on Friday?
    return outcome.text


if __name__ == "__main__":
    asyncio.run(main())
