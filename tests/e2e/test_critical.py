"""The seed's priority-1 critical suite, ported with hard assertions.

Runs against a real ``agentsocket serve`` subprocess, for each protocol
version (v1, v2, v3) and each store (SQLite, PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.harness import ServerProcess, body, client, recv_json, recv_until, run_server, tag
from tests.services import require_postgres
from tests.store.databases import create_database, drop_database

VERSIONS = ["v1", "v2", "v3"]
AGENT_EVENTS = {
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "partial_result",
    "agent_message",
    "final_report",
    "agent_completed",
    "agent_error",
    "agent_cancelled",
    "tool_approval_required",
}
TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"critical-{request.param}")
    env = {"AGENTSOCKET_MAX_RUNS_PER_USER": "3"}
    if request.param == "sqlite":
        with run_server(tmp, env=env) as server:
            yield server
        return
    admin = require_postgres()
    url = asyncio.run(create_database(admin))
    try:
        with run_server(tmp, env={**env, "AGENTSOCKET_DATABASE_URL": url}) as server:
            yield server
    finally:
        asyncio.run(drop_database(url, admin))


def chat(version: str, content: str, **fields: Any) -> str:
    data = {"content": content, **fields}
    if version == "v1":
        return json.dumps({"type": "user_message", **data, "correlation_id": "chat-1"})
    return json.dumps({"type": "user_message", "data": data, "correlation_id": "chat-1"})


def request(version: str, kind: str, correlation_id: str = "req", **data: Any) -> str:
    if version == "v1":
        return json.dumps({"type": kind, **data, "correlation_id": correlation_id})
    return json.dumps({"type": kind, "data": data, "correlation_id": correlation_id})


async def run_to_end(
    ws: ClientConnection, version: str, content: str
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    """Send a chat message; return its ack and every event up to the root run's end."""
    await ws.send(chat(version, content))
    ack: Mapping[str, Any] | None = None
    events: list[Mapping[str, Any]] = []
    while True:
        frame = await recv_json(ws, 20)
        name = tag(frame)
        if name == "message_received":
            ack = frame
            continue
        if name in AGENT_EVENTS:
            assert ack is not None, f"{name} arrived before the ack"
            events.append(frame)
            if name in TERMINAL and body(frame)["run_id"] == body(ack)["run_id"]:
                return ack, events


def assert_run_well_formed(ack: Mapping[str, Any], events: list[Mapping[str, Any]]) -> None:
    run_id = body(ack)["run_id"]
    thread_id = body(ack)["thread_id"]
    names = [tag(e) for e in events]
    assert names[0] == "agent_started"
    assert body(events[0])["run_id"] == run_id
    assert names[-1] == "agent_completed"
    assert body(events[-1])["run_id"] == run_id
    assert "agent_thinking" in names
    for event in events:
        fields = body(event)
        assert fields["run_id"], event
        assert fields["thread_id"] == thread_id, event
        assert fields["agent_name"], event
        assert "seq" in event
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    started: dict[str, int] = {}
    for index, event in enumerate(events):
        fields = body(event)
        if tag(event) == "tool_executing":
            started[fields["tool_call_id"]] = index
        if tag(event) == "tool_completed":
            assert fields["tool_call_id"] in started, "tool_completed before tool_executing"
    completed = {body(e)["tool_call_id"] for e in events if tag(e) == "tool_completed"}
    assert set(started) == completed, "every tool_executing has its tool_completed"
    assert started, "the demo agent calls tools for this prompt"
    subruns = {body(e)["run_id"] for e in events} - {run_id}
    assert all(body(e)["parent_run_id"] is not None for e in events if body(e)["run_id"] in subruns)


@pytest.mark.parametrize("version", VERSIONS)
async def test__connect__welcome_within_timeout(stack: ServerProcess, version: str) -> None:
    async with client(stack, "crit-welcome", version) as ws:
        welcome = await recv_json(ws, 10)
    assert tag(welcome) == "connection_established"
    assert body(welcome)["connection_ready"] is True
    assert body(welcome)["user_id"] == "crit-welcome"


@pytest.mark.parametrize("version", VERSIONS)
async def test__ping__answered(stack: ServerProcess, version: str) -> None:
    async with client(stack, "crit-ping", version) as ws:
        await recv_json(ws)
        await ws.send(request(version, "ping", "p-1"))
        pong = await recv_json(ws, 5)
    assert tag(pong) == "pong"
    assert pong["correlation_id"] == "p-1"


@pytest.mark.parametrize("version", VERSIONS)
async def test__chat_message__ack_then_the_five_events_in_order(
    stack: ServerProcess, version: str
) -> None:
    async with client(stack, f"crit-chat-{version}", version) as ws:
        await recv_json(ws)
        ack, events = await run_to_end(ws, version, "what is 17*23 in hex?")
    assert ack["correlation_id"] == "chat-1"
    assert_run_well_formed(ack, events)
    names = [tag(e) for e in events]
    tools = [body(e)["tool_name"] for e in events if tag(e) == "tool_executing"]
    assert tools == ["calculate", "convert_base"]
    results = [body(e)["result"] for e in events if tag(e) == "tool_completed"]
    assert 391 in results
    final = "agent_message" if version == "v3" else "final_report"
    answers = [body(e)["content"] for e in events if tag(e) == final]
    assert any("391" in a and "0x187" in a for a in answers)
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    if version == "v1":
        assert streamed not in names  # a declared drop: v1 clients get only the final text
    else:
        deltas = "".join(body(e)["content"] for e in events if tag(e) == streamed)
        assert "0x187" in deltas


@pytest.mark.parametrize("version", VERSIONS)
async def test__five_concurrent_connections__all_served(stack: ServerProcess, version: str) -> None:
    async def one(index: int) -> str:
        async with client(stack, f"crit-five-{index}", version) as ws:
            await recv_json(ws)
            await ws.send(request(version, "ping", f"c{index}"))
            pong = await recv_json(ws)
            return str(pong["correlation_id"])

    assert await asyncio.gather(*(one(i) for i in range(5))) == [f"c{i}" for i in range(5)]


@pytest.mark.parametrize("version", VERSIONS)
async def test__three_concurrent_runs_for_one_user__all_complete(
    stack: ServerProcess, version: str
) -> None:
    prompts = ["what is 2+3?", "what is 6*7 in hex?", "5 miles to km"]
    async with client(stack, f"crit-three-{version}", version) as ws:
        await recv_json(ws)
        for prompt in prompts:
            await ws.send(chat(version, prompt))
        acks: list[Mapping[str, Any]] = []
        events: dict[str, list[Mapping[str, Any]]] = {}
        done: set[str] = set()
        while len(done) < 3:
            frame = await recv_json(ws, 20)
            if tag(frame) == "message_received":
                acks.append(frame)
            elif tag(frame) in AGENT_EVENTS:
                fields = body(frame)
                root = next(
                    (
                        body(a)["run_id"]
                        for a in acks
                        if fields["thread_id"] == body(a)["thread_id"]
                    ),
                    None,
                )
                assert root is not None, "event of a run that was never acknowledged"
                events.setdefault(root, []).append(frame)
                if tag(frame) in TERMINAL and fields["run_id"] == root:
                    done.add(root)
    assert len(acks) == 3
    for ack in acks:
        assert_run_well_formed(ack, events[body(ack)["run_id"]])


@pytest.mark.parametrize("version", VERSIONS)
async def test__eight_concurrent_users__zero_cross_user_leakage(
    stack: ServerProcess, version: str
) -> None:
    async def user_session(index: int) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
        async with client(stack, f"crit-leak-{version}-{index}", version) as ws:
            welcome = await recv_json(ws)
            ack, events = await run_to_end(ws, version, f"what is {index}*{index + 1}?")
            extra: list[dict[str, Any]] = []
            try:
                while True:
                    extra.append(await recv_json(ws, 0.5))
            except TimeoutError:
                pass
            return ack, [welcome, *events, *extra]  # type: ignore[list-item]

    results = await asyncio.gather(*(user_session(i) for i in range(8)))
    runs = {body(ack)["run_id"] for ack, _ in results}
    threads = {body(ack)["thread_id"] for ack, _ in results}
    assert len(runs) == len(threads) == 8
    for index, (ack, frames) in enumerate(results):
        mine_thread = body(ack)["thread_id"]
        for frame in frames:
            fields = body(frame)
            if "thread_id" in fields:
                assert fields["thread_id"] == mine_thread, f"user {index} got {frame}"
            if tag(frame) == "connection_established":
                assert fields["user_id"] == f"crit-leak-{version}-{index}"
        answer = next(
            body(f)["content"] for f in frames if tag(f) in {"agent_message", "final_report"}
        )
        assert str(index * (index + 1)) in answer


@pytest.mark.parametrize("version", VERSIONS)
async def test__thread_history__persists_across_reconnect(
    stack: ServerProcess, version: str
) -> None:
    user = f"crit-history-{version}"
    async with client(stack, user, version) as ws:
        await recv_json(ws)
        ack, _ = await run_to_end(ws, version, "what is 17*23 in hex?")
    thread_id = body(ack)["thread_id"]
    async with client(stack, user, version) as ws:
        await recv_json(ws)
        await ws.send(request(version, "get_thread_history", "h-1", thread_id=thread_id))
        history = await recv_json(ws)
    assert tag(history) == "thread_history"
    messages = body(history)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "what is 17*23 in hex?"
    assert "0x187" in messages[1]["content"]
    assert messages[1]["run_id"] == body(ack)["run_id"]


@pytest.mark.parametrize("version", VERSIONS)
async def test__unknown_message_type__unknown_type_and_never_a_chat(
    stack: ServerProcess, version: str
) -> None:
    user = f"crit-unknown-{version}"
    async with client(stack, user, version) as ws:
        await recv_json(ws)
        await ws.send(request(version, "launch_agent_now", "u-1", content="hello"))
        error = await recv_json(ws)
        assert tag(error) == "error"
        code = body(error).get("code") or body(error).get("error_code")
        assert code == "unknown_type"
        assert error["correlation_id"] == "u-1"
        await ws.send(request(version, "list_threads", "l-1"))
        frames = await recv_until(ws, lambda f: tag(f) == "thread_list")
    assert not [f for f in frames if tag(f) in AGENT_EVENTS | {"message_received"}]
    assert body(frames[-1])["threads"] == []


async def test__stop_agent_during_tool__cancelled_within_a_second_and_nothing_after(
    stack: ServerProcess,
) -> None:
    loop = asyncio.get_running_loop()
    async with client(stack, "crit-stop") as ws:
        await recv_json(ws)
        await ws.send(chat("v3", "take it slow please"))
        frames = await recv_until(ws, lambda f: f["type"] == "tool_executing")
        run_id = next(f for f in frames if f["type"] == "message_received")["data"]["run_id"]
        sent = loop.time()
        await ws.send(request("v3", "stop_agent", "s-1", run_id=run_id))
        after = await recv_until(
            ws, lambda f: f["type"] == "agent_cancelled" and f["data"]["run_id"] == run_id, 5
        )
        elapsed = loop.time() - sent
        trailing: list[dict[str, Any]] = []
        try:
            while True:
                trailing.append(await recv_json(ws, 1.5))
        except TimeoutError:
            pass
    assert elapsed < 1.0, f"agent_cancelled took {elapsed:.2f} s"
    assert after[-1]["data"]["reason"] == "user_request"
    assert not [f for f in trailing if f.get("data", {}).get("run_id") == run_id]
    assert not [
        f for f in after if f["type"] == "tool_completed" and f["data"]["status"] == "success"
    ]


async def test__new_user_asks_demo_agent_17_times_23_in_hex(stack: ServerProcess) -> None:
    async with client(stack, "newcomer", None) as ws:
        await recv_json(ws)
        ack, events = await run_to_end(ws, "v3", "what is 17*23 in hex?")
    names = [e["type"] for e in events]
    assert "tool_executing" in names
    assert "tool_completed" in names
    root = [e for e in events if e["data"]["run_id"] == ack["data"]["run_id"]]
    streamed = "".join(e["data"]["content"] for e in root if e["type"] == "agent_message_delta")
    final = next(e["data"]["content"] for e in root if e["type"] == "agent_message")
    assert streamed == final
    assert "391" in final
    assert "0x187" in final
