"""A stand-in AG-UI server on a raw asyncio socket, for the failures a real one rarely shows.

Each POST is recorded (headers and JSON body) and answered with the next
scripted reply: SSE events sent one per HTTP chunk, then a proper end, a
dropped connection, or a hang until the client goes away; an HTTP status; or
no answer at all. Raw sockets, not a framework, so a reply can break HTTP and
SSE on purpose and the server sees exactly when the client closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

Item = dict[str, Any] | str | bytes  # a dict is one `data:` event; str/bytes are sent raw


@dataclass
class Events:
    """Answer 200 ``text/event-stream`` with ``items``, then ``end``.

    ``end``: ``"close"`` ends the body properly, ``"drop"`` cuts the connection
    mid-body, ``"hang"`` keeps it open until the client closes it.
    """

    items: Sequence[Item]
    end: Literal["close", "drop", "hang"] = "close"
    content_type: str = "text/event-stream"


@dataclass
class Status:
    """Answer with an HTTP status and a body."""

    code: int
    body: str = ""


@dataclass
class Silence:
    """Read the request and never answer (until the client gives up)."""


Reply = Events | Status | Silence


@dataclass
class Received:
    """One request as the server saw it."""

    headers: dict[str, str]
    body: dict[str, Any]


def sse(item: Item) -> bytes:
    """``item`` as SSE bytes: a dict becomes one ``data:`` event."""
    if isinstance(item, dict):
        return f"data: {json.dumps(item)}\n\n".encode()
    return item.encode() if isinstance(item, str) else item


def run_events(*middle: dict[str, Any], thread: str = "t1", run: str = "run_a") -> list[Item]:
    """``RUN_STARTED``, ``middle``, ``RUN_FINISHED``."""
    return [
        {"type": "RUN_STARTED", "threadId": thread, "runId": run},
        *middle,
        {"type": "RUN_FINISHED", "threadId": thread, "runId": run},
    ]


def text(message_id: str, *deltas: str) -> list[dict[str, Any]]:
    """One assistant text message streamed as START, CONTENT per delta, END."""
    return [
        {"type": "TEXT_MESSAGE_START", "messageId": message_id, "role": "assistant"},
        *({"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": d} for d in deltas),
        {"type": "TEXT_MESSAGE_END", "messageId": message_id},
    ]


def tool(call_id: str, name: str, args: str, result: str | None) -> list[dict[str, Any]]:
    """A tool call streamed as START, ARGS (in two pieces), END and, given one, RESULT."""
    half = len(args) // 2
    events: list[dict[str, Any]] = [
        {"type": "TOOL_CALL_START", "toolCallId": call_id, "toolCallName": name},
        {"type": "TOOL_CALL_ARGS", "toolCallId": call_id, "delta": args[:half]},
        {"type": "TOOL_CALL_ARGS", "toolCallId": call_id, "delta": args[half:]},
        {"type": "TOOL_CALL_END", "toolCallId": call_id},
    ]
    if result is not None:
        events.append(
            {
                "type": "TOOL_CALL_RESULT",
                "messageId": f"{call_id}-result",
                "toolCallId": call_id,
                "content": result,
            }
        )
    return events


@dataclass
class AGUIStandin:
    """Serves scripted replies on 127.0.0.1; use as ``async with AGUIStandin([...]) as s``."""

    replies: list[Reply]
    path: str = "/agent"
    received: list[Received] = field(default_factory=list)
    #: Set when a client closed a connection the server was still holding open.
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}{self.path}"

    async def __aenter__(self) -> AGUIStandin:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append(Received(headers, json.loads(body)))
        reply = self.replies.pop(0) if self.replies else Status(500, "no reply scripted")
        if isinstance(reply, Silence):
            await self._wait_for_close(reader)
            return
        if isinstance(reply, Status):
            data = reply.body.encode()
            writer.write(
                f"HTTP/1.1 {reply.code} Scripted\r\ncontent-type: text/plain\r\n"
                f"content-length: {len(data)}\r\nconnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            return
        writer.write(
            f"HTTP/1.1 200 OK\r\ncontent-type: {reply.content_type}\r\n"
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
            "connection: close\r\n\r\n".encode()
        )
        for item in reply.items:
            data = sse(item)
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        if reply.end == "close":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif reply.end == "drop":
            writer.transport.abort()
        else:
            await self._wait_for_close(reader)

    async def _wait_for_close(self, reader: asyncio.StreamReader) -> None:
        # The client sends nothing more; reading returns b"" (or fails) once it has closed.
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        self.client_closed.set()
