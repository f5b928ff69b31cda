"""PydanticAI's AG-UI server (``AGUIAdapter``) around an agent with a scripted ``FunctionModel``.

Run: ``python -m tests.agents.adapters.agui_servers.pydantic_ai_app PORT RECORD_FILE``;
the agent is at ``POST /agent``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.ui.ag_ui import AGUIAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.agents.adapters.agui_servers.common import (
    TOOL_ARGS,
    TOOL_NAME,
    answer,
    arguments,
    multiply,
    record,
)


def build_app(record_file: Path) -> Starlette:
    """The ASGI app serving the scripted agent over AG-UI."""

    async def model(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        prompts = [
            str(part.content)
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, UserPromptPart)
        ]
        answers = [
            part.content
            for message in messages
            if isinstance(message, ModelResponse)
            for part in message.parts
            if isinstance(part, TextPart)
        ]
        last = messages[-1]
        returned = (
            [p for p in last.parts if isinstance(p, ToolReturnPart)]
            if isinstance(last, ModelRequest)
            else []
        )
        if returned:
            text = answer(str(returned[0].content), prompts)
            for start in range(0, len(text), 8):
                yield text[start : start + 8]
            return
        record(record_file, prompts, answers)
        call = DeltaToolCall(
            TOOL_NAME, json.dumps(TOOL_ARGS), tool_call_id=f"call_pai_{len(prompts)}"
        )
        yield {0: call}

    agent = Agent(FunctionModel(stream_function=model), name="calculator")
    agent.tool_plain(multiply)

    async def guarded(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        last = messages[-1]
        returned = (
            [p for p in last.parts if isinstance(p, ToolReturnPart)]
            if isinstance(last, ModelRequest)
            else []
        )
        if returned:
            yield f"Result: {returned[0].content}"
            return
        yield {
            0: DeltaToolCall("delete_file", json.dumps({"path": "/tmp/x"}), tool_call_id="call_del")
        }

    approving = Agent(
        FunctionModel(stream_function=guarded),
        name="janitor",
        output_type=[str, DeferredToolRequests],
    )

    @approving.tool_plain(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file (pretend): needs the user's approval."""
        with record_file.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"deleted": path}) + "\n")
        return f"deleted {path}"

    async def stalling(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        yield {
            0: DeltaToolCall("slow_search", json.dumps({"query": "x"}), tool_call_id="call_slow")
        }

    slow = Agent(FunctionModel(stream_function=stalling), name="researcher")

    @slow.tool_plain
    async def slow_search(query: str) -> str:
        """Search for a long time: until the run is cancelled (recorded)."""
        with record_file.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"started": "slow_search"}) + "\n")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            with record_file.open("a", encoding="utf-8") as file:
                file.write(json.dumps({"cancelled": "slow_search"}) + "\n")
            raise
        return "never"

    async def run(request: Request) -> Response:
        return await AGUIAdapter.dispatch_request(request, agent=agent)

    async def run_slow(request: Request) -> Response:
        return await AGUIAdapter.dispatch_request(request, agent=slow)

    async def run_approving(request: Request) -> Response:
        return await AGUIAdapter.dispatch_request(request, agent=approving)

    return Starlette(
        routes=[
            Route("/agent", run, methods=["POST"]),
            # A tool that requires approval: a deferred tool, an AG-UI interrupt.
            Route("/approval", run_approving, methods=["POST"]),
            # A tool that never ends: stopping the run must reach it.
            Route("/slow", run_slow, methods=["POST"]),
        ]
    )


if __name__ == "__main__":
    port, record_file = arguments()
    uvicorn.run(build_app(record_file), host="127.0.0.1", port=port, log_level="warning")
