"""A small SSE reader for the AG-UI HTTP tests: ``POST`` a ``RunAgentInput``, read the events."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    """One SSE event: its ``id:`` and the AG-UI event of its ``data:``."""

    id: str
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data["type"])


def run_input(prompt: str, *, thread_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A camelCase ``RunAgentInput`` asking ``prompt``."""
    return {
        "threadId": thread_id or f"thread-{uuid.uuid4().hex[:8]}",
        "runId": f"run-{uuid.uuid4().hex[:12]}",
        "state": {},
        "messages": [{"id": "m-1", "role": "user", "content": prompt}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **extra,
    }


async def events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """The events of an SSE response, as they arrive (comments skipped)."""
    event_id, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data += line[6:]
        elif not line and data:
            yield SseEvent(event_id, json.loads(data))
            event_id, data = "", ""


async def post_run(
    base: str,
    token: str,
    body: dict[str, Any],
    *,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    timeout: float = 30.0,
) -> list[SseEvent]:
    """POST ``body`` and read its events to the end of the stream (or ``stop_after`` of them)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    received: list[SseEvent] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=timeout) as http,
        http.stream("POST", "/ag-ui", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in events(response):
            received.append(event)
            if stop_after is not None and len(received) >= stop_after:
                break  # leaving the block closes the connection mid-run
    return received
