"""Runs and threads over a real socket: idempotency, limits, errors, approvals, thread ops."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.e2e.harness import ServerProcess, client, recv_json, recv_until, run_server


def send(kind: str, correlation_id: str = "r", **data: Any) -> str:
    return json.dumps({"type": kind, "data": data, "correlation_id": correlation_id})


def root_end(run_id: str) -> Any:
    return lambda f: (
        f["type"] in {"agent_completed", "agent_error", "agent_cancelled"}
        and f["data"].get("run_id") == run_id
    )


async def _ack(ws: ClientConnection, **data: Any) -> dict[str, Any]:
    await ws.send(send("user_message", "m", **data))
    frames = await recv_until(ws, lambda f: f["type"] in {"message_received", "error"})
    return frames[-1]


async def test__resent_client_message_id__acknowledged_as_duplicate_never_a_second_run(
    server: ServerProcess,
) -> None:
    async with client(server, "idem") as ws:
        await recv_json(ws)
        first = await _ack(ws, content="what is 2+2?", client_message_id="cm-42")
        await recv_until(ws, root_end(first["data"]["run_id"]))
        again = await _ack(ws, content="what is 2+2?", client_message_id="cm-42")
        await ws.send(send("get_thread_history", "h", thread_id=first["data"]["thread_id"]))
        frames = await recv_until(ws, lambda f: f["type"] == "thread_history")
    assert again["data"]["duplicate"] is True
    assert again["data"]["run_id"] == first["data"]["run_id"]
    assert again["data"]["message_id"] == first["data"]["message_id"]
    assert not [f for f in frames if f["type"] == "agent_started"]
    roles = [m["role"] for m in frames[-1]["data"]["messages"]]
    assert roles == ["user", "assistant"]


async def test__agent_exception__agent_error_with_code_and_retryable(server: ServerProcess) -> None:
    async with client(server, "failing") as ws:
        await recv_json(ws)
        ack = await _ack(ws, content="please fail now")
        frames = await recv_until(ws, root_end(ack["data"]["run_id"]))
    error = frames[-1]
    assert error["type"] == "agent_error"
    assert error["data"]["code"] == "agent_failed"
    assert error["data"]["retryable"] is False


async def test__approval__approved_tool_runs_and_denied_tool_does_not(
    server: ServerProcess,
) -> None:
    async with client(server, "approver") as ws:
        await recv_json(ws)
        for approved in (True, False):
            ack = await _ack(ws, content="approve this announcement")
            run_id = ack["data"]["run_id"]
            frames = await recv_until(ws, lambda f: f["type"] == "tool_approval_required")
            request = frames[-1]["data"]
            await ws.send(
                send(
                    "tool_approval",
                    "a",
                    run_id=request["run_id"],
                    tool_call_id=request["tool_call_id"],
                    approved=approved,
                    reason=None if approved else "not now",
                )
            )
            rest = await recv_until(ws, root_end(run_id))
            completed = [f for f in rest if f["type"] == "tool_completed"]
            assert completed[-1]["data"]["tool_call_id"] == request["tool_call_id"]
            assert completed[-1]["data"]["status"] == ("success" if approved else "denied")
            assert [f["type"] == "tool_executing" for f in rest].count(True) == int(approved)


async def test__approval_for_someone_elses_run__not_found(server: ServerProcess) -> None:
    async with client(server, "owner-a") as a, client(server, "stranger-b") as b:
        await recv_json(a)
        await recv_json(b)
        ack = await _ack(a, content="approve this announcement")
        frames = await recv_until(a, lambda f: f["type"] == "tool_approval_required")
        request = frames[-1]["data"]
        await b.send(
            send(
                "tool_approval",
                "x",
                run_id=request["run_id"],
                tool_call_id=request["tool_call_id"],
                approved=True,
            )
        )
        await b.send(send("stop_agent", "y", run_id=ack["data"]["run_id"]))
        errors = [await recv_json(b), await recv_json(b)]
        await a.send(send("stop_agent", "z", run_id=ack["data"]["run_id"]))
        end = await recv_until(a, root_end(ack["data"]["run_id"]))
    assert [e["data"]["code"] for e in errors] == ["not_found", "not_found"]
    assert end[-1]["type"] == "agent_cancelled"


async def test__concurrent_run_limit__typed_error(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_MAX_RUNS_PER_USER": "1"}
    with run_server(tmp_path, env=env) as server:
        async with client(server, "busy") as ws:
            await recv_json(ws)
            first = await _ack(ws, content="take it slow")
            refused = await _ack(ws, content="what is 1+1?")
            await ws.send(send("stop_agent", "s", run_id=first["data"]["run_id"]))
            await recv_until(ws, root_end(first["data"]["run_id"]))
            accepted = await _ack(ws, content="what is 1+1?")
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "too_many_runs"
    assert refused["correlation_id"] == "m"
    assert accepted["type"] == "message_received"


async def test__unknown_agent__not_found(server: ServerProcess) -> None:
    async with client(server, "agentless") as ws:
        await recv_json(ws)
        reply = await _ack(ws, content="hi", agent="skynet")
    assert reply["type"] == "error"
    assert reply["data"]["code"] == "not_found"


async def test__thread_operations__create_rename_page_delete(server: ServerProcess) -> None:
    async with client(server, "librarian") as ws, client(server, "librarian") as other_tab:
        await recv_json(ws)
        await recv_json(other_tab)
        await ws.send(send("create_thread", "c", title="first"))
        created = await recv_json(ws)
        thread_id = created["data"]["thread"]["thread_id"]
        mirrored = await recv_json(other_tab)  # stream messages reach every tab
        assert mirrored["type"] == "thread_created"
        assert mirrored["seq"] == created["seq"]
        for i in range(3):
            ack = await _ack(ws, content=f"what is {i}+1?", thread_id=thread_id)
            await recv_until(ws, root_end(ack["data"]["run_id"]))
        await ws.send(send("get_thread_history", "h1", thread_id=thread_id, limit=4))
        page = (await recv_until(ws, lambda f: f["type"] == "thread_history"))[-1]["data"]
        await ws.send(
            send(
                "get_thread_history", "h2", thread_id=thread_id, limit=4, before=page["next_before"]
            )
        )
        older = (await recv_until(ws, lambda f: f["type"] == "thread_history"))[-1]["data"]
        await ws.send(send("rename_thread", "rn", thread_id=thread_id, title="renamed"))
        renamed = (await recv_until(ws, lambda f: f["type"] == "thread_renamed"))[-1]
        await ws.send(send("list_threads", "ls", limit=1))
        listing = (await recv_until(ws, lambda f: f["type"] == "thread_list"))[-1]
        await ws.send(send("delete_thread", "d", thread_id=thread_id))
        deleted = (await recv_until(ws, lambda f: f["type"] == "thread_deleted"))[-1]
        await ws.send(send("get_thread_history", "h3", thread_id=thread_id))
        gone = (await recv_until(ws, lambda f: f["type"] == "error"))[-1]
    assert page["has_more"] is True
    assert len(page["messages"]) == 4
    assert older["has_more"] is False
    assert len(older["messages"]) == 2
    assert older["messages"][0]["content"] == "what is 0+1?"
    assert renamed["data"]["thread"]["title"] == "renamed"
    assert renamed["correlation_id"] == "rn"
    assert listing["data"]["threads"][0]["title"] == "renamed"
    assert deleted["data"]["thread_id"] == thread_id
    assert gone["data"]["code"] == "not_found"


async def test__deprecated_version__notice_right_after_welcome(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_DEPRECATED_VERSIONS": '{"v1": "2027-06-30"}'}
    with run_server(tmp_path, env=env) as server:
        async with client(server, "old", "v1") as v1, client(server, "new", "v3") as v3:
            welcome, notice = await recv_json(v1), await recv_json(v1)
            await recv_json(v3)
            await v3.send(send("ping", "p"))
            after_welcome = await asyncio.wait_for(v3.recv(), 5)
    assert welcome["event"] == "connection_established"
    assert notice["event"] == "deprecation_notice"
    assert notice["sunset"] == "2027-06-30"
    assert notice["upgrade_to"] == "v3"
    assert json.loads(after_welcome)["type"] == "pong"
