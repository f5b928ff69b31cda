"""A run's timeline survives a reload: history returns what the live stream showed.

Real gateway subprocesses, real sockets, SQLite and PostgreSQL. The live
timeline is every agent event the stream carried but text deltas; the stored
one comes back in ``thread_history.runs`` on a new connection, item by item.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.cluster import StreamClient, cluster
from tests.e2e.harness import (
    ServerProcess,
    body,
    client,
    recv_json,
    recv_until,
    run_server,
    tag,
)
from tests.e2e.timelines import stored_items
from tests.services import require_postgres
from tests.store.databases import create_database, drop_database

pytestmark = pytest.mark.e2e

#: Two specialists (sub-agents), each calling tools: calculate, convert_base, convert_units.
PROMPT = "what is 17*23 in hex? and 5 miles to km"
TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}
AGENT_EVENTS = {
    "agent_started",
    "agent_thinking",
    "tool_approval_required",
    "tool_executing",
    "tool_completed",
    "agent_message",
    *TERMINAL,
}


def send(kind: str, correlation_id: str = "r", **data: Any) -> str:
    return json.dumps({"type": kind, "data": data, "correlation_id": correlation_id})


def ends(run_id: str) -> Any:
    return lambda f: f["type"] in TERMINAL and f["data"].get("run_id") == run_id


def live_timeline(frames: list[dict[str, Any]], run_id: str, sub_runs: set[str]) -> list[Any]:
    """The live events of ``run_id`` and its sub-runs as (type, data), in stream order."""
    return [
        (f["type"], f["data"])
        for f in frames
        if f["type"] in AGENT_EVENTS and f["data"]["run_id"] in {run_id, *sub_runs}
    ]


async def run_to_end(
    ws: ClientConnection, content: str, **extra: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    await ws.send(send("user_message", "m", content=content, **extra))
    frames = await recv_until(ws, lambda f: f["type"] == "message_received")
    ack = frames[-1]["data"]
    frames += await recv_until(ws, ends(ack["run_id"]), timeout=30)
    return ack, frames


async def history(ws: ClientConnection, thread_id: str, **extra: Any) -> dict[str, Any]:
    await ws.send(send("get_thread_history", "h", thread_id=thread_id, **extra))
    frames = await recv_until(
        ws, lambda f: f["type"] in {"thread_history", "error"} and f.get("correlation_id") == "h"
    )
    return frames[-1]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One gateway per database for the module's tests (users keep them apart)."""
    tmp = tmp_path_factory.mktemp(f"timeline-{request.param}")
    if request.param == "sqlite":
        with run_server(tmp) as process:
            yield process
        return
    server_url = require_postgres()
    url = asyncio.run(create_database(server_url))
    try:
        with run_server(tmp, env={"AGENTSOCKET_DATABASE_URL": url}) as process:
            yield process
    finally:
        asyncio.run(drop_database(url, server_url))


async def test__run_with_tools_and_sub_agents__reload_shows_identical_timeline(
    gateway: ServerProcess,
) -> None:
    async with client(gateway, "tl-alice") as ws:
        await recv_json(ws)
        ack, frames = await run_to_end(ws, PROMPT)
    run_id = ack["run_id"]
    subs = {
        f["data"]["run_id"]
        for f in frames
        if f["type"] == "agent_started" and f["data"]["parent_run_id"] is not None
    }
    live = live_timeline(frames, run_id, subs)

    async with client(gateway, "tl-alice") as reloaded:  # a reload: a new connection
        await recv_json(reloaded)
        page = await history(reloaded, ack["thread_id"])

    assert page["type"] == "thread_history", page
    [stored] = page["data"]["runs"]
    assert (stored["run_id"], stored["status"], stored["complete"], stored["omitted"]) == (
        run_id,
        "completed",
        True,
        0,
    )
    events = stored["events"]
    assert [e["position"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["truncated"] == [] for e in events)
    assert [(e["type"], e["data"]) for e in events] == live
    # What the run showed: two sub-agents, each with its tool calls, and the answer.
    assert len(subs) == 2
    tools = [e["data"]["tool_name"] for e in events if e["type"] == "tool_completed"]
    assert sorted(tools) == ["calculate", "convert_base", "convert_units"]
    assert {e["data"]["run_id"] for e in events if e["type"] == "tool_executing"} == subs
    assert events[-1]["type"] == "agent_completed"
    assert events[-1]["data"]["run_id"] == run_id
    answer = [m for m in page["data"]["messages"] if m["role"] == "assistant"]
    assert answer[0]["content"] == next(
        e["data"]["content"]
        for e in reversed(events)
        if e["type"] == "agent_message" and e["data"]["run_id"] == run_id
    )


async def test__failed_run__error_in_stored_timeline(gateway: ServerProcess) -> None:
    async with client(gateway, "tl-fail") as ws:
        await recv_json(ws)
        ack, frames = await run_to_end(ws, "please fail now")
        page = await history(ws, ack["thread_id"])
    [stored] = page["data"]["runs"]
    assert (stored["status"], stored["complete"]) == ("error", True)
    assert [(e["type"], e["data"]) for e in stored["events"]] == live_timeline(
        frames, ack["run_id"], set()
    )
    assert stored["events"][-1]["data"]["code"] == "agent_failed"


async def test__v2_and_v1_clients__history_without_runs(gateway: ServerProcess) -> None:
    async with client(gateway, "tl-old") as ws:
        await recv_json(ws)
        ack, _ = await run_to_end(ws, "what is 2+2?")
    for version in ("v2", "v1"):
        data: dict[str, Any] = {"thread_id": ack["thread_id"]}
        # v1 client frames are flat; v2 frames carry the fields in data.
        frame = {"type": "get_thread_history", **({"data": data} if version == "v2" else data)}
        async with client(gateway, "tl-old", version) as old:
            await recv_json(old)
            await old.send(json.dumps({**frame, "correlation_id": "h"}))
            [answer] = await recv_until(old, lambda f: tag(f) == "thread_history")
        fields = body(answer)
        assert "runs" not in fields
        assert [m["role"] for m in fields["messages"]] == ["user", "assistant"]


async def test__hostile_history_requests__typed_errors_nothing_leaks(
    gateway: ServerProcess,
) -> None:
    async with client(gateway, "tl-owner") as ws:
        await recv_json(ws)
        ack, _ = await run_to_end(ws, "what is 17*23 in hex?")
    thread_id = ack["thread_id"]
    async with client(gateway, "tl-intruder") as ws:
        await recv_json(ws)
        others = await history(ws, thread_id)
        unknown = await history(ws, "thr_nope")
        oversized = await history(ws, thread_id, limit=201)
        bad_cursor = await history(ws, thread_id, before="msg/../../x")
        unknown_field = await history(ws, thread_id, runs=True)
    assert others["type"] == unknown["type"] == "error"
    assert others["data"]["code"] == unknown["data"]["code"] == "not_found"
    assert ack["run_id"] not in json.dumps(others)
    for refused in (oversized, bad_cursor, unknown_field):
        assert refused["type"] == "error"
        assert refused["data"]["code"] == "validation_failed"
        assert ack["run_id"] not in json.dumps(refused)


async def test__gateway_killed_mid_run__stored_prefix_marked_incomplete(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'killed.db'}"}
    with run_server(tmp_path, env=env) as first:
        async with client(first, "tl-killed") as ws:
            await recv_json(ws)
            await ws.send(send("user_message", "m", content="be slow about it"))
            ack = (await recv_until(ws, lambda f: f["type"] == "message_received"))[-1]["data"]
            frames = await recv_until(ws, lambda f: f["type"] == "tool_executing")
            # The first checkpoint comes FLUSH_INTERVAL (2 s) after the run's first event.
            await stored_items(
                tmp_path / "killed.db", len(live_timeline(frames, ack["run_id"], set()))
            )
            first.process.kill()  # kill -9: nothing more is stored
            first.process.wait()

    with run_server(tmp_path, env=env) as second:
        async with client(second, "tl-killed") as ws:
            await recv_json(ws)
            page = await history(ws, ack["thread_id"])
    [stored] = page["data"]["runs"]
    assert (stored["status"], stored["complete"]) == ("error", False)
    assert [(e["type"], e["data"]) for e in stored["events"]] == live_timeline(
        frames, ack["run_id"], set()
    )
    assert stored["events"][-1]["type"] == "tool_executing"


@pytest.mark.redis
@pytest.mark.postgres
async def test__queue_mode__worker_stores_the_timeline__gateway_returns_it(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with cluster(tmp_path, redis_url, postgres_url, gateways=1, workers=1) as nodes:
        alice = StreamClient("tl-queue")
        try:
            await alice.connect(nodes.gateways[0])
            await alice.send("user_message", content=PROMPT)
            ack = body(await alice.wait_for(lambda f: tag(f) == "message_received"))
            run_id = str(ack["run_id"])
            await alice.wait_terminal(run_id)
            frames = list(alice.frames)
            start = len(alice.frames)
            await alice.send("get_thread_history", thread_id=ack["thread_id"])
            page = await alice.wait_for(lambda f: tag(f) == "thread_history", start=start)
        finally:
            await alice.close()
    subs = {
        f["data"]["run_id"]
        for f in frames
        if f["type"] == "agent_started" and f["data"]["parent_run_id"] is not None
    }
    [stored] = page["data"]["runs"]
    assert (stored["status"], stored["complete"]) == ("completed", True)
    assert [(e["type"], e["data"]) for e in stored["events"]] == live_timeline(frames, run_id, subs)
    assert len(subs) == 2


BIG_AGENT = """
class Big:
    name = "big"

    async def run(self, ctx, prompt):
        await ctx.think("t" * 40_000)
        call = await ctx.tool_call("fetch", {"url": "u" * 20_000})
        await call.succeeded({"page": "p" * 50_000})
        await ctx.say("done")
"""


async def test__oversized_event_fields__stored_cut_with_marker(tmp_path: Path) -> None:
    (tmp_path / "big_agents.py").write_text(BIG_AGENT)
    env = {"PYTHONPATH": str(tmp_path), "AGENTSOCKET_AGENTS": "big_agents:Big"}
    with run_server(tmp_path, env=env) as server:
        async with client(server, "tl-big") as ws:
            await recv_json(ws)
            ack, frames = await run_to_end(ws, "go", agent="big")
            page = await history(ws, ack["thread_id"])
    live = dict(
        (f["type"], f["data"])
        for f in frames
        if f["type"] in {"agent_thinking", "tool_executing", "tool_completed"}
    )
    [stored] = page["data"]["runs"]
    events = {e["type"]: e for e in stored["events"]}
    assert stored["complete"] is True
    assert len(live["agent_thinking"]["content"]) == 40_000  # live: whole
    assert events["agent_thinking"]["truncated"] == ["content"]
    assert events["agent_thinking"]["data"]["content"].endswith("…")
    assert len(events["agent_thinking"]["data"]["content"]) < 40_000
    assert events["tool_executing"]["truncated"] == ["arguments"]
    assert set(events["tool_executing"]["data"]["arguments"]) == {"truncated"}
    assert events["tool_completed"]["truncated"] == ["result"]
    assert events["tool_completed"]["data"]["result"].startswith('{"page":"ppp')
    # Everything not cut is as it went live.
    for kind in ("agent_started", "agent_message", "agent_completed"):
        assert events[kind]["truncated"] == []
        assert events[kind]["data"] == next(f["data"] for f in frames if f["type"] == kind)
