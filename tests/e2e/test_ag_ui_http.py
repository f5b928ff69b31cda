"""AG-UI over HTTP against the real gateway: ``POST /ag-ui`` answered with SSE.

A real ``agentsocket serve`` subprocess (the module's ``server``) and plain
httpx streaming clients. Every stream is checked with the official
``ag_ui.core`` models and the ``ag-ui-validate`` conformance validator.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from ag_ui.core import Event
from ag_ui_validate.pytest_plugin import assert_valid_agui
from pydantic import TypeAdapter

from agentsocket.agents.demo import SURVEY_SCHEMA
from agentsocket.protocol import decode_server
from agentsocket.protocol.ag_ui import RunConverter, encode_event
from tests.e2e.cluster import cluster
from tests.e2e.harness import ServerProcess, client, recv_json, recv_until
from tests.e2e.sse import SseEvent, post_run, run_input
from tests.e2e.sse import events as read_events
from tests.services import in_ci, require_postgres, require_redis

pytestmark = pytest.mark.e2e

HEX_PROMPT = "what is 17*23 in hex?"
#: About 220 stream messages: long enough to cut the stream in the middle.
LONG_PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 25)) + " in hex?"
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
ROOT = Path(__file__).resolve().parents[2]
HTTP_AGENT = ROOT / "tests" / "e2e" / "node" / "http_agent.mjs"


def check(events: list[SseEvent]) -> list[dict[str, Any]]:
    """The events' data, each read by ``ag_ui.core``, the whole validated by ag-ui-validate."""
    for event in events:
        _EVENT.validate_python(event.data)
    data = [event.data for event in events]
    assert_valid_agui(data)
    return data


def our_run_id(events: list[SseEvent]) -> str:
    return events[0].id.split("/", 1)[0]


def text_of(events: list[SseEvent]) -> str:
    return "".join(e.data["delta"] for e in events if e.type == "TEXT_MESSAGE_CONTENT")


async def test__hex_question__sse_stream__tool_call_result_answer_valid(
    server: ServerProcess,
) -> None:
    body = run_input(HEX_PROMPT)
    events = await post_run(server.http, server.token("sse-hex"), body)

    check(events)
    kinds = [e.type for e in events]
    assert kinds[0] == "RUN_STARTED"
    assert events[0].data["runId"] == body["runId"]
    assert kinds[-1] == "RUN_FINISHED"
    assert "outcome" not in events[-1].data
    assert "SUBAGENT_STARTED" in kinds  # the calculator specialist
    calls = {e.data["toolCallName"] for e in events if e.type == "TOOL_CALL_START"}
    assert calls == {"calculate", "convert_base"}
    results = [e.data["content"] for e in events if e.type == "TOOL_CALL_RESULT"]
    assert any("0x187" in result for result in results)
    assert "0x187" in text_of(events)
    ids = [e.id for e in events]
    assert len(set(ids)) == len(ids)


def test__ag_ui_client_http_agent__hex_question__tool_call_result_and_answer(
    server: ServerProcess,
) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@ag-ui" / "client").is_dir():
        reason = "needs node and `npm ci` (@ag-ui/client from package-lock.json)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(
        [node, str(HTTP_AGENT), f"{server.http}/ag-ui", server.token("sse-node"), HEX_PROMPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    messages = json.loads(done.stdout)["messages"]

    calls = {
        call["id"]: call["function"]["name"]
        for message in messages
        for call in message.get("toolCalls", [])
    }
    results = {m["toolCallId"]: m["content"] for m in messages if m["role"] == "tool"}
    assert sorted(calls.values()) == ["calculate", "convert_base"]
    assert results.keys() == calls.keys()
    convert = next(i for i, name in calls.items() if name == "convert_base")
    assert results[convert] == "0x187"
    answer = messages[-1]
    assert answer["role"] == "assistant"
    assert "0x187" in answer["content"]


async def test__same_thread_id__second_run__continues_our_thread(server: ServerProcess) -> None:
    token = server.token("sse-thread")
    first = await post_run(server.http, token, run_input("what is 2+2?"))
    thread_id = first[0].data["threadId"]  # unknown ids start a thread: ours
    second = await post_run(server.http, token, run_input("what is 3+3?", thread_id=thread_id))

    assert second[0].data["threadId"] == thread_id
    check(second)


async def test__failing_agent__run_error_last(server: ServerProcess) -> None:
    events = await post_run(server.http, server.token("sse-fail"), run_input("please fail"))

    check(events)
    assert events[-1].type == "RUN_ERROR"
    assert events[-1].data["code"] == "agent_failed"


async def test__stop_over_websocket__sse_run_finishes_cancelled(server: ServerProcess) -> None:
    user = "sse-stop"
    headers = {"Authorization": f"Bearer {server.token(user)}"}
    received: list[SseEvent] = []
    async with client(server, user) as ws:
        await recv_json(ws)
        async with (
            httpx.AsyncClient(base_url=server.http, timeout=30) as http,
            http.stream("POST", "/ag-ui", json=run_input("go slow"), headers=headers) as response,
        ):
            async for event in read_events(response):
                received.append(event)
                if event.type == "TOOL_CALL_END":  # the sleep tool is running
                    stop = {"type": "stop_agent", "data": {"run_id": our_run_id(received)}}
                    await ws.send(json.dumps(stop))

    check(received)
    assert received[-1].type == "RUN_FINISHED"
    assert received[-1].data["outcome"] == {"type": "cancelled"}


async def test__approval__interrupt_then_resume_entry__continuation_runs(
    server: ServerProcess,
) -> None:
    token = server.token("sse-approve")
    first = await post_run(server.http, token, run_input("approve an announcement"))

    check(first)
    finished = first[-1].data
    assert finished["type"] == "RUN_FINISHED"
    (interrupt,) = finished["outcome"]["interrupts"]
    assert interrupt["reason"] == "tool_approval"
    resume = [{"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}]
    body = run_input("approved", thread_id=finished["threadId"], resume=resume)
    second = await post_run(server.http, token, body)

    check(second)
    assert second[0].data["runId"] == body["runId"]
    assert second[-1].type == "RUN_FINISHED"
    assert "outcome" not in second[-1].data
    assert any(e.type == "TOOL_CALL_RESULT" for e in second)


async def test__survey__question_interrupt__refused_answer_named__then_answered_once(
    server: ServerProcess,
) -> None:
    """The demo's question ends the AG-UI run with an interrupt carrying its schema; a resume
    payload out of the schema is refused naming the field, the question stays open; a valid
    one streams the continuation; answering again is a conflict."""
    token = server.token("sse-survey")
    auth = {"Authorization": f"Bearer {token}"}
    first = await post_run(server.http, token, run_input("a quick survey, please"))

    check(first)
    finished = first[-1].data
    (interrupt,) = finished["outcome"]["interrupts"]
    assert interrupt["reason"] == "agentsocket.question"
    assert interrupt["message"] == "How would you rate this demo?"
    assert interrupt["responseSchema"] == SURVEY_SCHEMA
    assert datetime.fromisoformat(interrupt["expiresAt"]) > datetime.now(UTC)

    def answer(payload: dict[str, Any]) -> dict[str, Any]:
        entry = {"interruptId": interrupt["id"], "status": "resolved", "payload": payload}
        return run_input("answered", thread_id=finished["threadId"], resume=[entry])

    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        wrong = await http.post("/ag-ui", json=answer({"rating": 9}), headers=auth)
    assert (wrong.status_code, wrong.json()["error"]) == (422, "validation_failed")
    assert wrong.json()["errors"] == [
        {"path": "$.resume[0].payload.rating", "reason": "9 is greater than the maximum of 5"}
    ]

    body = answer({"rating": 4, "comment": "neat"})
    second = await post_run(server.http, token, body)
    check(second)
    assert second[0].data["runId"] == body["runId"]
    assert "outcome" not in second[-1].data
    assert text_of(second) == 'Thanks: you rated it 4/5 and said "neat".'

    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        again = await http.post("/ag-ui", json=answer({"rating": 5}), headers=auth)
    assert (again.status_code, again.json()["error"]) == (409, "conflict")


async def test__cut_mid_run__last_event_id__every_event_exactly_once(
    server: ServerProcess,
) -> None:
    user = "sse-cut"
    token = server.token(user)
    body = run_input(LONG_PROMPT)
    async with client(server, user) as ws:
        await recv_json(ws)
        first = await post_run(server.http, token, body, stop_after=12)
        rest = await post_run(server.http, token, body, last_event_id=first[-1].id)
        # What a v3 watcher of the same user saw, converted here: the reference stream.
        run_id = our_run_id(first)
        frames = await recv_until(
            ws, lambda f: f["type"] == "agent_completed" and f["data"]["run_id"] == run_id
        )

    whole = first + rest
    check(whole)
    converter = RunConverter(run_id, agui_run_id=body["runId"])
    expected = []
    for frame in frames:
        decoded = decode_server(json.dumps(frame), "v3")
        assert not isinstance(decoded, Exception)
        expected += [json.loads(encode_event(e)) for e in converter.convert(decoded.message)]
    assert [e.data for e in whole] == expected
    ids = [e.id for e in whole]
    assert len(set(ids)) == len(ids)


async def test__one_run__watched_via_v1_v2_v3_and_ag_ui__each_complete(
    server: ServerProcess,
) -> None:
    user = "sse-dialects"
    body = run_input(HEX_PROMPT)
    async with (
        client(server, user, "v1") as v1,
        client(server, user, "v2") as v2,
        client(server, user, "v3") as v3,
    ):
        for ws in (v1, v2, v3):
            await recv_json(ws)  # the welcome
        sse = await post_run(server.http, server.token(user), body)
        run_id = our_run_id(sse)
        seen = {}
        for version, ws in (("v1", v1), ("v2", v2), ("v3", v3)):
            frames = await recv_until(ws, lambda f: _ends(f, run_id))
            decoded = [decode_server(json.dumps(frame), version) for frame in frames]
            assert all(not isinstance(d, Exception) for d in decoded), version
            seen[version] = [d.message for d in decoded if not isinstance(d, Exception)]

    check(sse)
    # Each old version gets, in order, every message of the run it can express.
    for version in ("v1", "v2"):
        got = [_key(m) for m in seen[version]]
        assert got == [k for k in map(_key, seen["v3"]) if k in set(got)], version
        assert {"agent_completed", "tool_completed"} <= {k[0] for k in got}, version
    converter = RunConverter(run_id, agui_run_id=body["runId"])
    expected = [json.loads(encode_event(e)) for m in seen["v3"] for e in converter.convert(m)]
    assert [e.data for e in sse] == expected


def _key(message: Any) -> tuple[str, str | None, str | None, str | None]:
    """What identifies a message across versions (old versions round timestamps)."""
    return (
        message.TYPE,
        getattr(message, "run_id", None),
        getattr(message, "tool_call_id", None),
        getattr(message, "content", None),
    )


def _ends(frame: dict[str, Any], run_id: str) -> bool:
    """The run's ``agent_completed``, in v1 (flat ``event``), v2 (envelope) or v3."""
    data = frame.get("data", frame)
    kind = frame.get("event") or (data.get("event") if frame["type"] == "system_message" else None)
    kind = kind or frame.get("type")
    return kind == "agent_completed" and data.get("run_id") == run_id


async def test__refusals__typed_json_errors(server: ServerProcess) -> None:
    token = server.token("sse-refused")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        missing = await http.post("/ag-ui", json=run_input("hi"))
        forged = await http.post(
            "/ag-ui", json=run_input("hi"), headers={"Authorization": "Bearer nope"}
        )
        malformed = await http.post("/ag-ui", json={"threadId": 5}, headers=auth)
        no_prompt = await http.post("/ag-ui", json=run_input("  "), headers=auth)
        oversized = await http.post(
            "/ag-ui", json=run_input("x" * 1_100_000), headers=auth, timeout=30
        )
        long_prompt = await http.post("/ag-ui", json=run_input("x" * 40_000), headers=auth)
        unknown_agent = await http.post(
            "/ag-ui", json=run_input("hi", forwardedProps={"agent": "nobody"}), headers=auth
        )
        bad_id = await http.post(
            "/ag-ui", json=run_input("hi"), headers={**auth, "Last-Event-ID": "whatever"}
        )
        # A front end returning a frontend tool's result: no call of ours waits for it.
        tool_result = [
            {"id": "m-1", "role": "user", "content": "draw a chart"},
            {"id": "m-2", "role": "tool", "toolCallId": "call-chart", "content": "drawn"},
        ]
        unknown_tool = await http.post(
            "/ag-ui", json=run_input("hi", messages=tool_result), headers=auth
        )

    assert (missing.status_code, missing.json()["error"]) == (401, "missing_token")
    assert forged.status_code == 401
    assert (malformed.status_code, malformed.json()["error"]) == (422, "validation_failed")
    paths = {issue["path"] for issue in malformed.json()["errors"]}
    assert {"$.threadId", "$.runId", "$.messages"} <= paths
    assert no_prompt.status_code == 422
    assert (oversized.status_code, oversized.json()["error"]) == (413, "too_large")
    assert (bad_id.status_code, bad_id.json()["error"]) == (400, "invalid_last_event_id")
    assert long_prompt.status_code == 422
    assert long_prompt.json()["errors"][0]["path"] == "$.messages"
    assert (unknown_agent.status_code, unknown_agent.json()["error"]) == (404, "not_found")
    assert (unknown_tool.status_code, unknown_tool.json()["error"]) == (422, "unknown_tool")
    assert unknown_tool.json()["errors"] == [
        {"path": "$.messages[1].toolCallId", "reason": "unknown tool call"}
    ]


async def test__foreign_or_lost_last_event_id__refused_nothing_leaks(
    server: ServerProcess,
) -> None:
    body = run_input("what is 2+2?")
    alice = await post_run(server.http, server.token("sse-alice"), body)
    mallory = {"Authorization": f"Bearer {server.token('sse-mallory')}"}
    run_id, position = alice[-1].id.split("/", 1)
    epoch, rest = position.split(":", 1)
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        foreign = await http.post(
            "/ag-ui", json=body, headers={**mallory, "Last-Event-ID": alice[0].id}
        )
        unknown = await http.post(
            "/ag-ui", json=body, headers={**mallory, "Last-Event-ID": f"run_x/{position}"}
        )
        lost = await http.post(
            "/ag-ui",
            json=body,
            headers={
                "Authorization": f"Bearer {server.token('sse-alice')}",
                "Last-Event-ID": f"{run_id}/lost-{epoch}:{rest}",
            },
        )
        again = await http.post(
            "/ag-ui", json=body, headers={"Authorization": f"Bearer {server.token('sse-alice')}"}
        )

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()  # another user's run reads as none at all
    assert (lost.status_code, lost.json()["error"]) == (410, "stream_lost")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")


@pytest.mark.redis
async def test__redis_cluster__cut_on_one_node__resumed_on_another(tmp_path: Path) -> None:
    redis_url, postgres_url = require_redis(), require_postgres()
    async with cluster(tmp_path, redis_url, postgres_url, gateways=2, workers=1) as nodes:
        a, b = nodes.gateways
        body = run_input(LONG_PROMPT)
        user = f"sse-{uuid.uuid4().hex[:6]}"
        first = await post_run(a.http, a.token(user), body, stop_after=12)
        rest = await post_run(b.http, b.token(user), body, last_event_id=first[-1].id)

    whole = first + rest
    check(whole)
    assert whole[-1].type == "RUN_FINISHED"
    ids = [e.id for e in whole]
    assert len(set(ids)) == len(ids)
    assert "0x" in text_of(whole)


async def test__second_run_on_a_busy_thread__waits_then_streams_after_the_first(
    server: ServerProcess,
) -> None:
    """The gateway's double-texting default (``enqueue``) over AG-UI: the second POST's
    stream opens at once, and its run starts only once the first has finished."""
    token = server.token("sse-double-texting")
    first = await post_run(server.http, token, run_input("what is 2+2?"))
    thread_id = first[0].data["threadId"]
    finished_at: dict[str, float] = {}

    async def timed(prompt: str, name: str) -> list[SseEvent]:
        events = await post_run(server.http, token, run_input(prompt, thread_id=thread_id))
        finished_at[name] = asyncio.get_running_loop().time()
        return events

    busy, waiting = await asyncio.gather(
        timed(LONG_PROMPT, "long"), _after(0.05, timed("what is 3+3?", "short"))
    )

    check(busy)
    check(waiting)
    assert busy[-1].type == waiting[-1].type == "RUN_FINISHED"
    assert "3+3 = 6" in text_of(waiting)
    # The short one waited its turn behind the long one.
    assert finished_at["long"] < finished_at["short"]


async def _after(seconds: float, awaitable: Awaitable[list[SseEvent]]) -> list[SseEvent]:
    await asyncio.sleep(seconds)
    return await awaitable
