"""Misbehaving AG-UI servers behind the real gateway: typed errors, and other users served.

One ``agentsocket serve`` subprocess gets, beside the demo agent, one
``--ag-ui-agent`` per failure: a port nobody listens on, and raw-socket
stand-ins (:mod:`tests.agents.adapters.agui_standin`) that answer 500 or 401,
send malformed SSE, events out of order or one too large, drop the connection
mid-stream, or stream forever past the run timeout. Each run ends with its
typed ``agent_error`` in v3, no frame carries a traceback, nothing is stored
for it but the question, and another user's demo-agent runs complete
meanwhile. A server that sends an event type agentsocket does not know is
skipped, and the gateway's ``/metrics`` counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

pytest.importorskip("ag_ui", reason="needs the ag-ui extra: pip install -e '.[dev]'")

from tests.agents.adapters.agui_standin import AGUIStandin, Events, Reply, Status, run_events, text
from tests.e2e.harness import ServerProcess, client, free_port, recv_json, recv_until, run_server

pytestmark = pytest.mark.e2e

TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}
SAFETY = 20.0  # seconds per run; a hang guard, not a performance threshold
RUN_TIMEOUT = 2.0  # the gateway's run_timeout: the hanging upstream's run ends after it

STARTED = {"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"}
#: Agent name -> what its stand-in answers (None: no server at all).
UPSTREAMS: dict[str, Reply | None] = {
    "unreachable": None,
    "failing": Status(500, "internal error in the agent server"),
    "refused": Status(401, "who are you?"),
    "malformed": Events([STARTED, "data: {this is not json\n\n"], end="hang"),
    "disordered": Events(
        [STARTED, {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m9", "delta": "x"}]
    ),
    # One event over AGUIAgent's default max_event_bytes (4 MiB), never ended.
    "oversized": Events([STARTED, "data: " + "x" * (4 * 1024 * 1024 + 1)], end="hang"),
    "dropped": Events([STARTED, *text("m1", "half an ans")], end="drop"),
    "hanging": Events([STARTED, *text("m1", "still thinking")], end="hang"),
    "novel": Events(run_events({"type": "VOICE_CLIP", "url": "x"}, *text("m1", "fine"))),
}
#: Agent name -> (agent_error code, retryable).
EXPECTED = {
    "unreachable": ("upstream_unreachable", True),
    "failing": ("upstream_error", True),
    "refused": ("upstream_error", False),
    "malformed": ("upstream_malformed", False),
    "disordered": ("upstream_malformed", False),
    "oversized": ("upstream_too_large", False),
    "dropped": ("upstream_disconnected", True),
    "hanging": ("timeout", True),
}


@contextlib.asynccontextmanager
async def _gateway(tmp: Path, standins: dict[str, AGUIStandin]) -> AsyncIterator[ServerProcess]:
    urls = {name: server.url for name, server in standins.items()}
    urls["unreachable"] = f"http://127.0.0.1:{free_port()}/agent"  # nobody listens there
    args = ["--agent", "agentsocket.agents:DemoAgent", "--default-agent", "demo"]
    for name, url in urls.items():
        args += ["--ag-ui-agent", f"{name}={url}"]
    env = {"AGENTSOCKET_RUN_TIMEOUT": str(RUN_TIMEOUT), "AGENTSOCKET_AGENT_CANCEL_GRACE": "0.5"}
    with contextlib.ExitStack() as stack:
        # Starting blocks until /readyz answers: off the loop the stand-ins serve on.
        server = await asyncio.to_thread(
            stack.enter_context,
            run_server(tmp, env=env, args=args),
        )
        try:
            yield server
        finally:
            await asyncio.to_thread(stack.close)


def _frame(kind: str, **data: Any) -> str:
    return json.dumps({"type": kind, "data": data})


async def _run(ws: ClientConnection, agent: str, content: str) -> list[dict[str, Any]]:
    """Ask ``agent``; every frame up to the run's terminal one."""
    await ws.send(_frame("user_message", content=content, agent=agent))
    ack = (await recv_until(ws, lambda f: f["type"] == "message_received", SAFETY))[-1]
    run_id = ack["data"]["run_id"]
    return [
        ack,
        *await recv_until(
            ws, lambda f: f["type"] in TERMINAL and f["data"].get("run_id") == run_id, SAFETY
        ),
    ]


async def _stored(ws: ClientConnection, thread_id: str) -> list[tuple[str, str]]:
    await ws.send(_frame("get_thread_history", thread_id=thread_id))
    page = (await recv_until(ws, lambda f: f["type"] == "thread_history", SAFETY))[-1]
    return [(m["role"], m["content"]) for m in page["data"]["messages"]]


async def _skipped(server: ServerProcess, event_type: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{server.http}/metrics")).text
    prefix = f'agentsocket_ag_ui_events_skipped_total{{event_type="{event_type}"}} '
    values = [
        float(line.removeprefix(prefix)) for line in metrics.splitlines() if line.startswith(prefix)
    ]
    assert len(values) == 1, f"{prefix!r} not in /metrics"
    return values[0]


async def _victim(server: ServerProcess, agent: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """One user's run of ``agent``: its frames and what the thread then holds."""
    async with client(server, f"victim-{agent}") as ws:
        await recv_json(ws)
        frames = await _run(ws, agent, f"ask {agent}")
        return frames, await _stored(ws, frames[0]["data"]["thread_id"])


async def _bystander(server: ServerProcess, done: asyncio.Event) -> list[str]:
    """Another user's demo-agent runs, one after another until the failures are over."""
    ends: list[str] = []
    async with client(server, "bystander") as ws:
        await recv_json(ws)
        while not done.is_set() or len(ends) < 2:
            ends.append((await _run(ws, "demo", "hello there"))[-1]["type"])
            await asyncio.sleep(0.1)  # a person, not a flood: stay within the rate limit
    return ends


async def test__misbehaving_upstreams__typed_errors_while_other_users_are_served(
    tmp_path: Path,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        standins = {
            name: await stack.enter_async_context(AGUIStandin([reply]))
            for name, reply in UPSTREAMS.items()
            if reply is not None
        }
        server = await stack.enter_async_context(_gateway(tmp_path, standins))
        skipped = await _skipped(server, "UNKNOWN")
        done = asyncio.Event()

        async def failures() -> list[tuple[list[dict[str, Any]], list[Any]]]:
            try:
                return list(await asyncio.gather(*(_victim(server, a) for a in EXPECTED)))
            finally:
                done.set()

        results, ends = await asyncio.gather(failures(), _bystander(server, done))
        async with asyncio.timeout(SAFETY):  # both closed their request when the run ended
            await standins["hanging"].client_closed.wait()
            await standins["malformed"].client_closed.wait()

        async with client(server, "novelty") as ws:
            await recv_json(ws)
            novel = await _run(ws, "novel", "anything new?")
        skipped_after = await _skipped(server, "UNKNOWN")

    for agent, (frames, stored) in zip(EXPECTED, results, strict=True):
        end = frames[-1]
        assert end["type"] == "agent_error", (agent, end)
        assert (end["data"]["code"], end["data"]["retryable"]) == EXPECTED[agent]
        assert all("Traceback" not in json.dumps(f) for f in frames), agent
        assert stored == [("user", f"ask {agent}")], agent  # no half answer stored
    failing = results[list(EXPECTED).index("failing")][0][-1]["data"]["message"]
    assert "HTTP 500" in failing
    assert len(ends) >= 2
    assert set(ends) == {"agent_completed"}, ends
    print(f"bystander: {len(ends)} demo runs completed during the failures")

    assert [f["type"] for f in novel][-1] == "agent_completed"
    assert [f["data"]["content"] for f in novel if f["type"] == "agent_message"] == ["fine"]
    assert skipped_after == skipped + 1
