"""Ask the demo agent a question with the Python SDK and print the run as it happens.

Against a dev gateway (``agentsocket serve --dev`` prints a token)::

    python docs/examples/client/sdk_quickstart.py ws://127.0.0.1:8765/ws "$TOKEN"
"""

from __future__ import annotations

import asyncio
import sys

from agentsocket.client import AuthenticationRefused, RequestError, StateChange, connect
from agentsocket.protocol import server_messages as s


def show_state(change: StateChange) -> None:
    print(f"[{change.state}]", file=sys.stderr)


async def ask(url: str, token: str, question: str) -> str:
    async with connect(url, token=token, version="v3", on_state=show_state) as conn:
        print(f"connected as {conn.user_id}, protocol {conn.version}")
        received = await conn.send_message(question)
        answer = ""
        async for event in conn.events(received.run_id):
            if isinstance(event, s.ToolExecuting):
                print(f"  {event.tool_name}({event.arguments})")
            elif isinstance(event, s.ToolCompleted):
                print(f"  -> {event.result!r} in {event.duration_ms:.1f} ms")
            elif isinstance(event, s.AgentMessage) and event.parent_run_id is None:
                answer = event.content
        print(answer)
        history = await conn.history(received.thread_id)
        print(f"the thread now holds {len(history.messages)} messages")
        return answer


async def rate(url: str, token: str, rating: int) -> str:
    """Take the demo's survey: answer its question, again if the answer is refused."""
    async with connect(url, token=token, version="v3") as conn:
        received = await conn.send_message("a quick survey, please")
        async for event in conn.events(received.run_id):
            if isinstance(event, s.AgentQuestion):
                print(f"? {event.prompt}")
                ids = (event.run_id, event.question_id)
                try:
                    await conn.answer_question(*ids, {"rating": rating})
                except RequestError as refused:  # validation_failed: the question stays open
                    print([f"{e.path}: {e.reason}" for e in refused.errors])
                    await conn.answer_question(*ids, {"rating": 5, "comment": "second try"})
            elif isinstance(event, s.InterruptResolved):
                print(event.message)  # whichever connection of the user answered
            elif isinstance(event, s.AgentMessage) and event.parent_run_id is None:
                return event.content
        return ""


def main(url: str, token: str) -> int:
    try:
        asyncio.run(ask(url, token, "what is 17*23 in hex?"))
    except AuthenticationRefused as refused:
        print(f"refused ({refused.code}): {refused.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
