"""AG-UI over WebSocket against the real gateway: ``/ws`` with subprotocol ``agentsocket.ag-ui``.

A real ``agentsocket serve`` subprocess (the module's ``server``) and plain
``websockets`` clients. Every frame is read back by the official
``ag_ui.core`` models; each run on the wire (``RUN_STARTED`` to its end) passes
the ``ag-ui-validate`` conformance validator, and everything between runs is a
``CUSTOM`` ``agentsocket.*`` event (``docs/ag-ui.md``, "AG-UI over WebSocket").
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from ag_ui.core import Event
from ag_ui_validate.engine import create_validator
from ag_ui_validate.pytest_plugin import assert_valid_agui
from ag_ui_validate.types import ValidatorOptions
from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol import decode_server
from agentsocket.protocol.ag_ui import RunConverter, encode_event
from tests.e2e.cluster import cluster
from tests.e2e.harness import ServerProcess, client, recv_json, recv_until, run_server
from tests.e2e.sse import run_input
from tests.e2e.test_ag_ui_http import HEX_PROMPT, LONG_PROMPT, _ends, _key
from tests.services import require_postgres, require_redis

pytestmark = pytest.mark.e2e

SUBPROTOCOL = "agentsocket.ag-ui"
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)
_TERMINAL = ("RUN_FINISHED", "RUN_ERROR")


def agui(server: ServerProcess, user: str, query: str = "") -> Any:
    """An AG-UI WebSocket connection of ``user`` (the subprotocol; the query form if given)."""
    if query:
        return client(server, user, None, query=query)
    return client(server, user, None, subprotocols=[SUBPROTOCOL])


def custom(frame: dict[str, Any], name: str) -> bool:
    return bool(frame["type"] == "CUSTOM" and frame["name"] == f"agentsocket.{name}")


async def welcome(ws: ClientConnection) -> dict[str, Any]:
    frame = await recv_json(ws)
    assert custom(frame, "connection_established"), frame
    value: dict[str, Any] = frame["value"]
    return value


async def run_frames(
    ws: ClientConnection, body: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Send ``body`` (if any), then every frame up to the end of the run and its position."""
    if body is not None:
        await ws.send(json.dumps(body))
    frames = await recv_until(ws, lambda f: f["type"] in _TERMINAL, timeout=30)
    frames.append(await recv_json(ws))  # the position after the run's last entry
    assert custom(frames[-1], "position"), frames[-1]
    return frames


def runs(frames: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Check a recorded stream; return its runs, each ``RUN_STARTED`` .. its end.

    Every frame is an AG-UI event (``ag_ui.core``); each run passes ag-ui-validate;
    every frame outside a run is a ``CUSTOM`` ``agentsocket.*`` event.
    """
    found: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] | None = None
    for frame in frames:
        _EVENT.validate_python(frame)
        if frame["type"] == "RUN_STARTED":
            assert current is None, "a run started inside another"
            current = []
        if current is None:
            assert frame["type"] == "CUSTOM", frame
            assert frame["name"].startswith("agentsocket."), frame
            continue
        current.append(frame)
        if frame["type"] in _TERMINAL:
            assert_valid_agui(current)
            found.append(current)
            current = None
    if current is not None:
        assert_valid_prefix(current)
        found.append(current)
    return found


def assert_valid_prefix(frames: list[dict[str, Any]]) -> None:
    """A run cut off mid-way: every rule of ag-ui-validate but the end-of-stream ones."""
    validator = create_validator(ValidatorOptions())
    errors = [d for frame in frames for d in validator.feed(frame) if d.severity == "error"]
    assert errors == [], [f"{d.rule}: {d.message}" for d in errors]


def approve(interrupt: dict[str, Any]) -> dict[str, Any]:
    """The ``resume`` entry approving ``interrupt``."""
    return {"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}


def events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames without the position markers."""
    return [f for f in frames if not custom(f, "position")]


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")


def received(frames: list[dict[str, Any]]) -> dict[str, Any]:
    (ack,) = [f["value"] for f in frames if custom(f, "message_received")]
    return dict(ack)


async def test__subprotocol__welcome_is_custom_with_stream_position(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-hello") as ws:
        assert ws.subprotocol == SUBPROTOCOL
        value = await welcome(ws)
    async with agui(server, "ws-agui-hello", query="protocol=ag-ui") as query_ws:
        assert query_ws.subprotocol is None
        query_value = await welcome(query_ws)

    assert value["user_id"] == query_value["user_id"] == "ws-agui-hello"
    assert value["protocol_version"] == query_value["protocol_version"] == "ag-ui"
    assert {"epoch", "seq"} <= value["stream"].keys()


async def test__hex_question__text_tools_subagent_run__valid(server: ServerProcess) -> None:
    body = run_input(HEX_PROMPT)
    async with agui(server, "ws-agui-hex") as ws:
        await welcome(ws)
        frames = await run_frames(ws, body)

    (run,) = runs(frames)
    kinds = [f["type"] for f in run]
    assert run[0]["runId"] == body["runId"]
    assert run[-1]["type"] == "RUN_FINISHED"
    assert "outcome" not in run[-1]
    assert run[-1]["runId"] == body["runId"]
    assert "SUBAGENT_STARTED" in kinds
    assert "SUBAGENT_FINISHED" in kinds
    assert {f["toolCallName"] for f in run if f["type"] == "TOOL_CALL_START"} == {
        "calculate",
        "convert_base",
    }
    assert any("0x187" in f["content"] for f in run if f["type"] == "TOOL_CALL_RESULT")
    assert "0x187" in text_of(run)
    assert received(frames)["client_message_id"].startswith("ag-ui-")


async def test__failing_agent__run_error_ends_the_run(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-fail") as ws:
        await welcome(ws)
        frames = await run_frames(ws, run_input("please fail"))

    (run,) = runs(frames)
    assert run[-1]["type"] == "RUN_ERROR"
    assert run[-1]["code"] == "agent_failed"


async def test__approval__interrupt_then_resume_over_the_socket(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-approve") as ws:
        await welcome(ws)
        first = await run_frames(ws, run_input("approve an announcement"))
        (interrupted,) = runs(first)
        finished = interrupted[-1]
        (interrupt,) = finished["outcome"]["interrupts"]
        answer = approve(interrupt)
        body = run_input("approved", thread_id=finished["threadId"], resume=[answer])
        second = await run_frames(ws, body)

    assert finished["outcome"]["type"] == "interrupt"
    assert interrupt["reason"] == "tool_approval"
    (continued,) = runs(second)
    assert continued[0]["runId"] == body["runId"]
    assert continued[-1]["type"] == "RUN_FINISHED"
    assert "outcome" not in continued[-1]
    assert any(f["type"] == "TOOL_CALL_RESULT" for f in continued)
    assert "Approved" in text_of(continued)


async def test__survey__question_interrupt__answered_over_the_socket_after_a_refusal(
    server: ServerProcess,
) -> None:
    async with agui(server, "ws-agui-survey") as ws:
        await welcome(ws)
        first = await run_frames(ws, run_input("a quick survey, please"))
        (interrupted,) = runs(first)
        finished = interrupted[-1]
        (interrupt,) = finished["outcome"]["interrupts"]

        def answer(payload: dict[str, Any]) -> dict[str, Any]:
            entry = {"interruptId": interrupt["id"], "status": "resolved", "payload": payload}
            return run_input("answered", thread_id=finished["threadId"], resume=[entry])

        await ws.send(json.dumps(answer({"rating": 9})))
        refusal = await recv_until(ws, lambda f: custom(f, "error"), timeout=30)
        body = answer({"rating": 2})
        second = await run_frames(ws, body)

    assert interrupt["reason"] == "agentsocket.question"
    assert interrupt["responseSchema"]["required"] == ["rating"]
    error = refusal[-1]["value"]
    assert error["code"] == "validation_failed"
    assert [(e["path"], e["reason"]) for e in error["errors"]] == [
        ("$.resume[0].payload.rating", "9 is greater than the maximum of 5")
    ]
    (continued,) = runs(second)
    assert continued[0]["runId"] == body["runId"]
    assert "outcome" not in continued[-1]
    assert text_of(continued) == "Thanks: you rated it 2/5."


async def test__stop_frame__run_finishes_cancelled(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-stop") as ws:
        await welcome(ws)
        await ws.send(json.dumps(run_input("go slow")))
        frames = await recv_until(ws, lambda f: f["type"] == "TOOL_CALL_END")  # sleeping
        run_id = received(frames)["run_id"]
        stop = {"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": run_id}}
        await ws.send(json.dumps(stop))
        frames += await run_frames(ws)

    (run,) = runs(frames)
    assert run[-1]["type"] == "RUN_FINISHED"
    assert run[-1]["outcome"] == {"type": "cancelled"}


async def test__one_run__watched_via_v1_v2_v3_and_ag_ui_ws__each_complete(
    server: ServerProcess,
) -> None:
    user = "ws-agui-dialects"
    body = run_input(HEX_PROMPT)
    async with (
        client(server, user, "v1") as v1,
        client(server, user, "v2") as v2,
        client(server, user, "v3") as v3,
        agui(server, user) as watcher,
        agui(server, user) as runner,
    ):
        for ws in (v1, v2, v3):
            await recv_json(ws)
        await welcome(watcher)
        await welcome(runner)
        mine = await run_frames(runner, body)
        watched = await run_frames(watcher)
        run_id = received(mine)["run_id"]
        seen = {}
        for version, ws in (("v1", v1), ("v2", v2), ("v3", v3)):
            frames = await recv_until(ws, lambda f: _ends(f, run_id))
            decoded = [decode_server(json.dumps(frame), version) for frame in frames]
            assert all(not isinstance(d, Exception) for d in decoded), version
            seen[version] = [d.message for d in decoded if not isinstance(d, Exception)]

    for version in ("v1", "v2"):
        got = [_key(m) for m in seen[version]]
        assert got == [k for k in map(_key, seen["v3"]) if k in set(got)], version
        assert {"agent_completed", "tool_completed"} <= {k[0] for k in got}, version
    # Both AG-UI connections: exactly what the run's v3 messages convert to. The one
    # that started it knows the client's runId; a watcher names the run by our id.
    for frames, agui_run_id in ((mine, body["runId"]), (watched, run_id)):
        (run,) = runs(frames)
        converter = RunConverter(run_id, agui_run_id=agui_run_id)
        expected = [json.loads(encode_event(e)) for m in seen["v3"] for e in converter.convert(m)]
        assert events(run) == expected


async def test__cut_mid_run__reconnect_with_last_seq__rest_exactly_once(
    server: ServerProcess,
) -> None:
    user = "ws-agui-resume"
    async with client(server, user, "v3") as v3:
        await recv_json(v3)
        async with agui(server, user) as ws:
            await welcome(ws)
            first = await cut_after(ws, run_input(LONG_PROMPT), 20)
        # Cut: the run goes on. Reconnect from the last position received.
        position = first[-1]["value"]
        query = f"protocol=ag-ui&last_seq={position['seq']}&epoch={position['epoch']}"
        async with agui(server, user, query=query) as again:
            await welcome(again)
            rest = await run_frames(again)
        run_id = received(first)["run_id"]
        frames = await recv_until(
            v3, lambda f: f["type"] == "agent_completed" and f["data"]["run_id"] == run_id
        )

    (cut,) = runs(first)  # open when cut: valid so far
    (resumed,) = runs(rest)  # restated: valid on its own
    assert cut[-1]["type"] not in _TERMINAL
    assert resumed[0]["type"] == "RUN_STARTED"
    assert resumed[-1]["type"] == "RUN_FINISHED"
    answer = "".join(f["data"]["content"] for f in frames if f["type"] == "agent_message_delta")
    assert text_of(cut) + text_of(resumed) == answer  # every delta exactly once
    results = [f["toolCallId"] for f in cut + resumed if f["type"] == "TOOL_CALL_RESULT"]
    completed = [f["data"]["tool_call_id"] for f in frames if f["type"] == "tool_completed"]
    assert results == completed


async def cut_after(ws: ClientConnection, body: dict[str, Any], positions: int) -> list[Any]:
    """Send ``body`` and read up to the ``positions``-th position marker (then the test cuts)."""
    await ws.send(json.dumps(body))
    frames = [await recv_json(ws, 30)]
    while sum(custom(f, "position") for f in frames) < positions:
        frames.append(await recv_json(ws, 30))
    return frames


@pytest.mark.redis
async def test__redis_cluster__cut_on_one_node__resumed_on_another(tmp_path: Path) -> None:
    redis_url, postgres_url = require_redis(), require_postgres()
    async with cluster(tmp_path, redis_url, postgres_url, gateways=2, workers=1) as nodes:
        a, b = nodes.gateways
        user = f"ws-agui-{uuid.uuid4().hex[:6]}"
        async with client(a, user, "v3") as v3:
            await recv_json(v3)
            async with agui(a, user) as ws:
                await welcome(ws)
                first = await cut_after(ws, run_input(LONG_PROMPT), 20)
            position = first[-1]["value"]
            query = f"protocol=ag-ui&last_seq={position['seq']}&epoch={position['epoch']}"
            async with agui(b, user, query=query) as again:
                await welcome(again)
                rest = await run_frames(again)
            run_id = received(first)["run_id"]
            frames = await recv_until(
                v3, lambda f: f["type"] == "agent_completed" and f["data"]["run_id"] == run_id
            )

    (cut,) = runs(first)
    (resumed,) = runs(rest)
    assert resumed[-1]["type"] == "RUN_FINISHED"
    answer = "".join(f["data"]["content"] for f in frames if f["type"] == "agent_message_delta")
    assert text_of(cut) + text_of(resumed) == answer
    results = [f["toolCallId"] for f in cut + resumed if f["type"] == "TOOL_CALL_RESULT"]
    assert results == [f["data"]["tool_call_id"] for f in frames if f["type"] == "tool_completed"]


async def test__bad_frames__typed_error_events__connection_stays_usable(
    server: ServerProcess,
) -> None:
    async with agui(server, "ws-agui-bad") as ws:
        await welcome(ws)
        bad = [
            "{not json",
            json.dumps({"threadId": 5}),
            json.dumps({"type": "CUSTOM", "name": "agentsocket.format_disk", "value": {}}),
            json.dumps({"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {}}),
            json.dumps(run_input("x" * 70_000)),
            json.dumps(
                run_input(
                    "hi",
                    messages=[
                        {"id": "m-1", "role": "user", "content": "run my tool"},
                        {"id": "m-2", "role": "tool", "toolCallId": "call-x", "content": "42"},
                    ],
                )
            ),
            json.dumps(run_input("   ")),
            json.dumps(
                run_input(
                    "ok",
                    resume=[{"interruptId": "nope", "status": "resolved", "payload": {}}],
                )
            ),
        ]
        errors = []
        for frame in bad:
            await ws.send(frame)
            reply = await recv_json(ws)
            assert custom(reply, "error"), reply
            errors.append(reply["value"])
        frames = await run_frames(ws, run_input("what is 2+2?"))

    codes = [e["code"] for e in errors]
    assert codes == [
        "invalid_json",
        "validation_failed",
        "validation_failed",
        "validation_failed",
        "too_large",
        "unknown_tool",
        "validation_failed",
        "validation_failed",
    ]
    assert {"$.threadId", "$.runId", "$.messages"} <= {i["path"] for i in errors[1]["errors"]}
    unknown_call = {"path": "$.messages[1].toolCallId", "reason": "unknown tool call"}
    assert errors[5]["errors"] == [unknown_call]
    assert errors[7]["errors"][0]["path"] == "$.resume[0].interruptId"
    (run,) = runs(frames)
    assert run[-1]["type"] == "RUN_FINISHED"


async def test__other_users_run__refused_and_never_seen(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-alice") as alice, agui(server, "ws-agui-mallory") as mallory:
        await welcome(alice)
        await welcome(mallory)
        await alice.send(json.dumps(run_input("approve an announcement")))
        frames = await run_frames(alice)
        run_id = received(frames)["run_id"]
        (interrupt,) = runs(frames)[0][-1]["outcome"]["interrupts"]
        answer = approve(interrupt)
        stop = {"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": run_id}}
        await mallory.send(json.dumps(stop))
        stopped = await recv_json(mallory)
        await mallory.send(json.dumps(run_input("ok", resume=[answer])))
        approved = await recv_json(mallory)
        # Alice's answer still works: Mallory's did not take it.
        rest = await run_frames(alice, run_input("ok", resume=[answer]))

    # The first frame Mallory gets after Alice's run is the answer to her own frame.
    assert custom(stopped, "error")
    assert stopped["value"]["code"] == "not_found"
    assert custom(approved, "error")
    assert approved["value"]["code"] == "not_found"
    (continued,) = runs(rest)
    assert continued[-1]["type"] == "RUN_FINISHED"


async def test__same_run_id_again__duplicate_acknowledged_nothing_runs(
    server: ServerProcess,
) -> None:
    body = run_input("what is 2+2?")
    async with agui(server, "ws-agui-again") as ws:
        await welcome(ws)
        first = await run_frames(ws, body)
        await ws.send(json.dumps(body))
        again = await recv_until(ws, lambda f: custom(f, "message_received"))
        await ws.send("{")  # the next frame answers this: no run of the duplicate came first
        after = await recv_json(ws)

    assert received(first)["duplicate"] is False
    assert [f["type"] for f in again] == ["CUSTOM"]
    assert again[-1]["value"]["duplicate"] is True
    assert again[-1]["value"]["run_id"] == received(first)["run_id"]
    assert custom(after, "error")


async def test__run_open_on_the_connection__second_run_input_refused(
    server: ServerProcess,
) -> None:
    async with agui(server, "ws-agui-busy") as ws:
        await welcome(ws)
        await ws.send(json.dumps(run_input("go slow")))
        frames = await recv_until(ws, lambda f: f["type"] == "RUN_STARTED")
        await ws.send(json.dumps(run_input("what is 2+2?")))
        frames += await recv_until(ws, lambda f: custom(f, "error"))
        refused = frames[-1]["value"]
        run_id = received(frames)["run_id"]
        stop = {"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": run_id}}
        await ws.send(json.dumps(stop))
        frames += await run_frames(ws)

    assert refused["code"] == "conflict"
    (run,) = runs(frames)
    assert run[-1]["outcome"] == {"type": "cancelled"}


async def test__unauthorised_or_unknown_dialect__refused_at_handshake(
    server: ServerProcess,
) -> None:
    async with client(server, None, None, subprotocols=[SUBPROTOCOL]) as anonymous:
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(anonymous)
    async with client(server, "ws-agui-x", None, query="protocol=ag-ui-2") as unknown:
        with pytest.raises(ConnectionClosed) as refused:
            await recv_json(unknown)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001
    assert refused.value.rcvd is not None
    assert refused.value.rcvd.code == 4004


async def test__refused_frames_in_a_row__abuse_close_4008(server: ServerProcess) -> None:
    async with agui(server, "ws-agui-abuse") as ws:
        await welcome(ws)
        for _ in range(50):  # abuse_threshold's default
            await ws.send("{not json")
        codes = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                codes.append((await recv_json(ws))["value"]["code"])

    assert set(codes) == {"invalid_json"}
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4008


async def test__over_the_rate_limit__rate_limited_error_with_retry_after(tmp_path: Path) -> None:
    slow = {"AGENTSOCKET_RATE_PER_CONNECTION": "0.05", "AGENTSOCKET_BURST_PER_CONNECTION": "2"}
    with run_server(tmp_path, env=slow) as limited:
        async with agui(limited, "ws-agui-rate") as ws:
            await welcome(ws)
            for _ in range(4):
                await ws.send("{")  # refused either way: by the limit or as bad JSON
            replies = [(await recv_json(ws))["value"] for _ in range(4)]

    codes = [r["code"] for r in replies]
    assert codes[:2] == ["invalid_json", "invalid_json"]  # the burst
    assert codes[2:] == ["rate_limited", "rate_limited"]
    assert all(r["retry_after"] > 0 for r in replies[2:])
