"""Hostile input over a real socket, on SQLite and PostgreSQL (issue 12, bugs 7, 8, 9, 10).

Each frame here once answered ``internal``, closed the socket silently, or
left a run that blocked every retry. Now each gets its typed answer and the
server logs no traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.e2e.harness import SECRET, ServerProcess, client, recv_json, recv_until, run_server
from tests.services import require_postgres
from tests.store.databases import create_database, drop_database

ENDS = {"agent_completed", "agent_error", "agent_cancelled"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        with run_server(tmp) as process:
            yield process
        return
    admin = require_postgres()
    url = asyncio.run(create_database(admin))
    try:
        with run_server(tmp, env={"AGENTSOCKET_DATABASE_URL": url}) as process:
            yield process
    finally:
        asyncio.run(drop_database(url, admin))


def send(kind: str, correlation_id: str = "r", **data: Any) -> str:
    return json.dumps({"type": kind, "data": data, "correlation_id": correlation_id})


async def answer(ws: ClientConnection, frame: str, *kinds: str) -> dict[str, Any]:
    await ws.send(frame)
    return (await recv_until(ws, lambda f: f["type"] in {*kinds, "error"}))[-1]


def assert_clean_log(server: ServerProcess) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "Exception in ASGI application" not in log


async def test__nul_in_content__validation_failed__retry_runs(server: ServerProcess) -> None:
    async with client(server, "nul-content") as ws:
        await recv_json(ws)
        created = await answer(ws, send("create_thread", title="t"), "thread_created")
        thread_id = created["data"]["thread"]["thread_id"]
        bad = send("user_message", content="a\x00b", thread_id=thread_id, client_message_id="m-1")
        refused = await answer(ws, bad, "message_received")
        # The same client_message_id with clean content is a first attempt, not a duplicate.
        good = send(
            "user_message", content="what is 2+2?", thread_id=thread_id, client_message_id="m-1"
        )
        ack = await answer(ws, good, "message_received")
        frames = await recv_until(
            ws, lambda f: f["type"] in ENDS and f["data"].get("run_id") == ack["data"]["run_id"]
        )
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "validation_failed"
    assert [d["path"] for d in refused["data"]["errors"]] == ["$.data.content"]
    assert ack["data"]["duplicate"] is False
    assert frames[-1]["type"] == "agent_completed"
    assert_clean_log(server)


@pytest.mark.parametrize(
    "frame",
    [
        send("create_thread", title="\x00"),
        send("user_message", content="x", metadata={"k\x00": "v"}),
        '{"type":"ping","data":{"client_time":1e20}}',
        '{"type":"resume","data":{"last_seq":100000000000000000000000}}',
        '{"type":"user_message","data":{"content":"x","metadata":'
        + '{"a":' * 400
        + "1"
        + "}" * 400
        + "}}",
    ],
    ids=["nul-title", "nul-metadata-key", "huge-time", "huge-seq", "metadata-400-deep"],
)
async def test__hostile_frame__validation_failed_and_connection_lives(
    server: ServerProcess, frame: str
) -> None:
    async with client(server, "hostile-frames") as ws:
        await recv_json(ws)
        refused = await answer(ws, frame)
        pong = await answer(ws, send("ping", "after", client_time=1.0), "pong")
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "validation_failed"
    assert pong["type"] == "pong"
    assert_clean_log(server)


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test__v1_v2_ping_huge_time__validation_failed(
    server: ServerProcess, version: str
) -> None:
    ping = (
        '{"type":"ping","client_time":1e20}'
        if version == "v1"
        else '{"type":"ping","data":{"client_time":1e20}}'
    )
    async with client(server, "old-ping", version) as ws:
        await recv_json(ws)
        await ws.send(ping)
        reply = await recv_json(ws)
    text = json.dumps(reply)
    assert "validation_failed" in text
    assert "internal" not in text
    assert_clean_log(server)


async def test__token_sub_with_nul__refused_at_handshake(server: ServerProcess) -> None:
    token = jwt.encode({"sub": "a\x00b", "exp": 2_000_000_000}, SECRET, algorithm="HS256")
    try:
        async with connect(
            server.ws,
            subprotocols=["agentsocket.v3"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=10,
        ) as ws:
            frames: list[str | bytes] = []
            with pytest.raises(Exception):  # noqa: B017,PT011 - the close, whatever its class
                while True:
                    frames.append(await asyncio.wait_for(ws.recv(), 10))
            code, reason = ws.close_code, ws.close_reason or ""
    except InvalidStatus as refused:
        code, reason, frames = refused.response.status_code, "", []
    assert frames == []
    assert (code, reason.split(":")[0]) == (4001, "invalid_subject")
    assert_clean_log(server)


@pytest.mark.xfail(
    strict=True,
    reason="needs the router to call Store.thread_page (lead's hook for bug 10); "
    "drop this marker with that change",
)
async def test__list_threads_limit_200__answered(server: ServerProcess) -> None:
    async with client(server, "pager") as ws:
        await recv_json(ws)
        reply = await answer(ws, send("list_threads", limit=200), "thread_list")
    assert reply["type"] == "thread_list"
