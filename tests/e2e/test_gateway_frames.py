"""The router over real sockets: typed errors, ordering, limits, isolation, metrics."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import ServerProcess, body, client, recv_json, recv_until, tag

MALFORMED: list[tuple[str, str | bytes, str]] = [
    ("not_json", "{oops", "invalid_json"),
    ("empty", "", "invalid_json"),
    ("nan", '{"type":"ping","data":{"client_time":NaN}}', "invalid_json"),
    ("infinity", '{"type":"ping","data":{"client_time":-Infinity}}', "invalid_json"),
    ("array", "[]", "not_an_object"),
    ("number", "42", "not_an_object"),
    ("string", '"ping"', "not_an_object"),
    ("null", "null", "not_an_object"),
    ("missing_type", '{"data":{}}', "validation_failed"),
    ("numeric_type", '{"type":1}', "validation_failed"),
    ("unknown_type", '{"type":"drop_tables"}', "unknown_type"),
    ("alias_in_v3", '{"type":"chat","data":{"content":"hi"}}', "unknown_type"),
    ("missing_content", '{"type":"user_message","data":{}}', "validation_failed"),
    ("content_number", '{"type":"user_message","data":{"content":1}}', "validation_failed"),
    ("extra_field", '{"type":"ping","data":{"admin":true}}', "validation_failed"),
    ("extra_envelope_key", '{"type":"ping","payload":{}}', "validation_failed"),
    ("data_is_list", '{"type":"ping","data":[1]}', "validation_failed"),
    ("bad_thread_id", '{"type":"delete_thread","data":{"thread_id":"../x"}}', "validation_failed"),
    ("negative_seq", '{"type":"resume","data":{"last_seq":-5}}', "validation_failed"),
    ("huge_limit", '{"type":"list_threads","data":{"limit":99999}}', "validation_failed"),
    (
        "bool_as_string",
        '{"type":"tool_approval","data":{"run_id":"r","tool_call_id":"c","approved":"y"}}',
        "validation_failed",
    ),
    (
        "deep_metadata",
        '{"type":"user_message","data":{"content":"x","metadata":'
        + '{"a":' * 30
        + "1"
        + "}" * 30
        + "}}",
        "validation_failed",
    ),
    ("deep_json", "[" * 3000 + "]" * 3000, "invalid_json"),
    ("binary_garbage", b"\xff\xfe\x00garbage", "invalid_json"),
    (
        "unknown_thread",
        '{"type":"get_thread_history","data":{"thread_id":"thr_nope"}}',
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
async def test__malformed_frame__typed_error_and_connection_stays_usable(
    server: ServerProcess, frame: str | bytes, code: str
) -> None:
    async with client(server, "mal") as ws:
        await recv_json(ws)  # welcome
        await ws.send(frame)
        error = await recv_json(ws)
        assert error["type"] == "error"
        assert error["data"]["code"] == code
        assert error["data"]["message"]
        await ws.send(json.dumps({"type": "ping", "correlation_id": "after"}))
        pong = await recv_json(ws)
        assert (pong["type"], pong["correlation_id"]) == ("pong", "after")


async def test__validation_error__names_fields_and_echoes_correlation(
    server: ServerProcess,
) -> None:
    async with client(server, "mal") as ws:
        await recv_json(ws)
        await ws.send('{"type":"rename_thread","data":{"thread_id":5},"correlation_id":"c-1"}')
        error = await recv_json(ws)
    assert error["correlation_id"] == "c-1"
    paths = sorted(e["path"] for e in error["data"]["errors"])
    assert paths == ["$.data.thread_id", "$.data.title"]


async def test__v1_error__uses_the_legacy_error_shape(server: ServerProcess) -> None:
    async with client(server, "mal", "v1") as ws:
        await recv_json(ws)
        await ws.send('{"type":"user_message","content":7,"correlation_id":"c-2"}')
        error = await recv_json(ws)
    assert error["event"] == "error"
    assert error["error_code"] == "validation_failed"
    assert error["details"]["errors"][0]["path"] == "$.content"
    assert error["recovery_suggestions"]


async def test__oversized_frame__too_large_and_still_usable(server: ServerProcess) -> None:
    async with client(server, "big") as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "user_message", "data": {"content": "x" * 70_000}}))
        error = await recv_json(ws)
        assert error["data"]["code"] == "too_large"
        await ws.send('{"type":"ping"}')
        assert (await recv_json(ws))["type"] == "pong"


async def test__frames_sent_right_after_handshake__all_processed_in_order(
    server: ServerProcess,
) -> None:
    async with client(server, "eager") as ws:
        for i in range(30):
            await ws.send(json.dumps({"type": "ping", "correlation_id": f"p{i}"}))
        welcome = await recv_json(ws)
        assert welcome["type"] == "connection_established"
        pongs = [await recv_json(ws) for _ in range(30)]
    assert [p["correlation_id"] for p in pongs] == [f"p{i}" for i in range(30)]
    assert all(p["type"] == "pong" for p in pongs)


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__ping__gets_pong_with_correlation_id(server: ServerProcess, version: str) -> None:
    ping = {"type": "ping", "correlation_id": "hb-1"}
    if version != "v1":
        ping["data"] = {"client_time": 1.5}  # type: ignore[assignment]
    async with client(server, "pinger", version) as ws:
        await recv_json(ws)
        await ws.send(json.dumps(ping))
        pong = await recv_json(ws)
    assert tag(pong) == "pong"
    assert pong["correlation_id"] == "hb-1"
    assert body(pong)["server_time"]


async def test__eight_users__each_sees_only_their_own_traffic(server: ServerProcess) -> None:
    users = [f"iso-{i}" for i in range(8)]

    async def session(user: str) -> list[dict[str, Any]]:
        async with client(server, user) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "create_thread", "data": {"title": f"t-{user}"}}))
            await ws.send(json.dumps({"type": "list_threads", "correlation_id": "l"}))
            frames = await recv_until(ws, lambda f: f["type"] == "thread_list")
            await asyncio.sleep(0.3)  # anything misrouted from other users would arrive now
            while True:
                try:
                    frames.append(await recv_json(ws, 0.2))
                except TimeoutError:
                    return frames

    results = await asyncio.gather(*(session(u) for u in users))
    for user, frames in zip(users, results, strict=True):
        created = [f for f in frames if f["type"] == "thread_created"]
        assert [f["data"]["thread"]["title"] for f in created] == [f"t-{user}"]
        listing = next(f for f in frames if f["type"] == "thread_list")
        assert [t["title"] for t in listing["data"]["threads"]] == [f"t-{user}"]
        assert all(user in json.dumps(f) or f["type"] != "thread_created" for f in frames)


async def test__other_users_thread__not_found_and_nothing_leaks(server: ServerProcess) -> None:
    async with client(server, "owner") as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "create_thread", "data": {"title": "secret plans"}}))
        thread_id = (await recv_json(ws))["data"]["thread"]["thread_id"]
    async with client(server, "intruder") as ws:
        await recv_json(ws)
        for request in (
            {"type": "get_thread_history", "data": {"thread_id": thread_id}},
            {"type": "rename_thread", "data": {"thread_id": thread_id, "title": "mine"}},
            {"type": "delete_thread", "data": {"thread_id": thread_id}},
        ):
            await ws.send(json.dumps(request))
            error = await recv_json(ws)
            assert error["data"]["code"] == "not_found"
            assert "secret" not in json.dumps(error)


async def test__metrics__parse_and_move_with_traffic(server: ServerProcess) -> None:
    def scrape() -> dict[str, float]:
        text = httpx.get(f"{server.http}/metrics").text
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = sample.name + json.dumps(sample.labels, sort_keys=True)
                values[key] = sample.value
        return values

    before = scrape()
    async with client(server, "metered") as ws:
        await recv_json(ws)
        await ws.send('{"type":"ping"}')
        await recv_json(ws)
        await ws.send("{bad")
        await recv_json(ws)
        during = scrape()
    pings = 'agentsocket_frames_in_total{"type": "ping"}'
    errors = 'agentsocket_errors_total{"code": "invalid_json"}'
    assert during[pings] == before.get(pings, 0) + 1
    assert during[errors] == before.get(errors, 0) + 1
    assert during['agentsocket_connections{"version": "v3"}'] >= 1


async def test__health_and_readiness(server: ServerProcess) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.http}/healthz")).json() == {"status": "ok"}
        ready = (await http.get(f"{server.http}/readyz")).json()
    assert ready["ready"] is True


async def test__gateway_serves_its_protocol_description(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        schema = (await http.get("/schema/v2.json")).json()
        asyncapi = (await http.get("/asyncapi.json")).json()
        legacy = (await http.get("/asyncapi/v1.json")).json()
        index = (await http.get("/docs")).text
        reference = await http.get("/docs/reference-v3.md")
        missing = await http.get("/schema/v9.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert asyncapi["asyncapi"] == "3.0.0"
    assert "v1" in legacy["info"]["version"] or "v1" in legacy["info"]["title"]
    assert "reference-v3.md" in index
    assert reference.status_code == 200
    assert "agent_started" in reference.text
    assert missing.status_code == 404
