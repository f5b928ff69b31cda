"""A stand-in OpenAI chat-completions server: scripted replies, served by uvicorn.

Each POST to ``/v1/chat/completions`` is recorded and answered with the next
scripted reply: an SSE stream (each event sent in two writes, so the client
must buffer lines), an HTTP status, or a hang until the test ends.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

Chunk = dict[str, Any] | str  # a dict is sent as JSON, a str as the raw data value


@dataclass
class Stream:
    """Answer with these SSE ``data:`` chunks; then ``[DONE]`` unless ``done`` is False.

    ``hang_after`` stops after that many chunks and waits until the test ends.
    """

    chunks: list[Chunk]
    done: bool = True
    hang_after: int | None = None


@dataclass
class Status:
    """Answer with an HTTP status, a body and headers."""

    code: int
    body: dict[str, Any] | str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    """Never answer (until the test ends)."""


Reply = Stream | Status | Hang


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with ``choices[0].delta`` and ``finish_reason``."""
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stand-in",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


def text(*pieces: str) -> list[Chunk]:
    """The chunks of a streamed text: a role chunk, then one chunk per piece."""
    return [chunk({"role": "assistant", "content": ""}), *(chunk({"content": p}) for p in pieces)]


def tool_call(index: int, call_id: str, name: str, *fragments: str) -> list[Chunk]:
    """The chunks of one tool call: id and name first, then the arguments in fragments."""
    first = {"index": index, "id": call_id, "type": "function"}
    first["function"] = {"name": name, "arguments": ""}
    rest = [{"index": index, "function": {"arguments": f}} for f in fragments]
    return [chunk({"tool_calls": [first]}), *(chunk({"tool_calls": [piece]}) for piece in rest)]


def finish(reason: str = "stop") -> Chunk:
    return chunk({}, reason)


def usage(prompt_tokens: int, completion_tokens: int) -> Chunk:
    """The last chunk with ``stream_options.include_usage``: no choices, the tokens used."""
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stand-in",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class StandIn:
    """The server's state: the scripted replies and the requests it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.base_url = ""
        self.release = asyncio.Event()  # set at teardown: ends every hang
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])]
        )

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        """Forget the script and the requests, and end every hang (between tests)."""
        self.release.set()
        self.release = asyncio.Event()
        self.replies.clear()
        self.requests.clear()
        self.headers.clear()

    async def _completions(self, request: Request) -> Response:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        if not self.replies:
            return PlainTextResponse("no scripted reply left", status_code=500)
        reply = self.replies.pop(0)
        if isinstance(reply, Hang):
            await self.release.wait()
            return PlainTextResponse("released", status_code=500)
        if isinstance(reply, Status):
            if isinstance(reply.body, dict):
                return JSONResponse(reply.body, reply.code, headers=reply.headers)
            return PlainTextResponse(reply.body, reply.code, headers=reply.headers)
        return StreamingResponse(self._events(reply), media_type="text/event-stream")

    async def _events(self, reply: Stream) -> AsyncIterator[bytes]:
        for i, item in enumerate(reply.chunks):
            if reply.hang_after is not None and i == reply.hang_after:
                await self.release.wait()
                return
            data = item if isinstance(item, str) else json.dumps(item)
            event = f"data: {data}\n\n".encode()
            half = len(event) // 2
            yield event[:half]
            await asyncio.sleep(0)
            yield event[half:]
        if reply.done:
            yield b"data: [DONE]\n\n"


async def serve(standin: StandIn) -> AsyncIterator[StandIn]:
    """Serve ``standin`` on 127.0.0.1 at a free port for the duration of the generator."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        standin.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
                await asyncio.sleep(0.01)
        standin.base_url = f"http://127.0.0.1:{port}/v1"
        yield standin
    finally:
        standin.release.set()
        server.should_exit = True
        async with asyncio.timeout(10):
            await task
        sock.close()
