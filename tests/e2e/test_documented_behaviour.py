"""What the docs promise a client, checked against a real gateway (issue 16's undocumented items).

Each test reads the promise from the published page and checks the behaviour,
so neither can change without the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol import VERSIONS
from agentsocket.protocol.codes import CloseCode
from agentsocket.protocol.reference import DEMO_RUN, protocol_reference
from tests.e2e.harness import ServerProcess, body, client, recv_json, recv_until, run_server, tag

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_DOC = (ROOT / "docs" / "gateway.md").read_text()
CLOSE_DOC = (ROOT / "docs" / "close-codes.md").read_text()
QUESTION = "what is 17*23 in hex?"
SUPPORTED = ", ".join(v.name for v in VERSIONS)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("documented"), args=["--dev"]) as server:
        yield server


def _user_message(version: str, content: str) -> str:
    if version == "v1":
        return json.dumps({"type": "user_message", "content": content, "correlation_id": "q"})
    return json.dumps({"type": "user_message", "data": {"content": content}, "correlation_id": "q"})


def _top_run_done(frame: dict[str, Any]) -> bool:
    return tag(frame) == "agent_completed" and body(frame).get("parent_run_id") is None


@pytest.fixture
def demo_run(server: ServerProcess) -> Any:
    """Ask the demo agent the question; every frame up to the top run's end."""

    async def run(version: str, user: str) -> list[dict[str, Any]]:
        async with client(server, user, version) as ws:
            await recv_json(ws)  # the welcome
            await ws.send(_user_message(version, QUESTION))
            return await recv_until(ws, _top_run_done)

    return run


# --- the order of a run's events -------------------------------------------------------


async def test__demo_run__events_in_the_documented_order(demo_run: Any) -> None:
    frames = await demo_run("v3", "order-v3")
    names = [tag(f) for f in frames]
    assert names.index("message_received") < names.index("agent_started")
    top = body(frames[names.index("agent_started")])["run_id"]
    seen: list[tuple[str, str]] = []
    for frame in frames:
        fields = body(frame)
        if "run_id" not in fields or tag(frame) == "message_received":
            continue
        step = (tag(frame), "top" if fields["run_id"] == top else "sub")
        if step[0] == "agent_message_delta" and seen and seen[-1] == step:
            continue  # the table shows a run of deltas as one row
        seen.append(step)
        if step[1] == "sub":
            assert fields["parent_run_id"] == top

    assert seen == [(head, run) for head, run, _ in DEMO_RUN]
    assert "## A run's events" in protocol_reference("v3")


# --- seqs: gap-free in v3, holes where v1 cannot carry a message ----------------------


async def test__v3_seqs__have_no_holes(demo_run: Any) -> None:
    seqs = [f["seq"] for f in await demo_run("v3", "seqs-v3") if f.get("seq") is not None]

    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert "its `seq`s have no holes" in protocol_reference("v3")


async def test__v1_seqs__skip_the_dropped_deltas_as_documented(demo_run: Any) -> None:
    frames = await demo_run("v1", "seqs-v1")
    seqs = [f["seq"] for f in frames if f.get("seq") is not None]

    holes = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
    assert holes, "v1 drops agent_message_delta, so its seqs skip their numbers"
    assert "agent_message_delta" not in {tag(f) for f in frames}
    assert "sees holes in its `seq`s where those were: a hole is not a loss" in (
        protocol_reference("v1")
    )
    assert "v1 and v2 clients see holes" in GATEWAY_DOC


# --- handshake details -----------------------------------------------------------------


async def _refusal(server: ServerProcess, **options: Any) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        async with client(server, **options) as ws:
            await recv_json(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test__credentials_in_two_places__closed_4001_as_documented(
    server: ServerProcess,
) -> None:
    code, reason = await _refusal(server, query="ticket=abc")

    assert code == CloseCode.UNAUTHORIZED
    assert reason.startswith("malformed_token: credentials were offered in more than one place")
    assert "credentials offered in more than one place" in CLOSE_DOC
    assert "malformed_token: credentials were offered in more than one place" in (
        protocol_reference("v3")
    )


async def test__unsupported_version__reason_as_documented(server: ServerProcess) -> None:
    code, reason = await _refusal(server, version="v9")

    assert code == CloseCode.UNSUPPORTED_VERSION
    assert reason == f"unsupported protocol version(s) v9; supported: {SUPPORTED}"
    assert f"`unsupported protocol version(s) v9; supported: {SUPPORTED}`" in CLOSE_DOC


async def test__binary_frame__handled_like_text(server: ServerProcess) -> None:
    async with client(server, "binary") as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "ping", "correlation_id": "b1"}).encode())
        pong = await recv_json(ws)
        await ws.send(b"\xff\xfe")
        error = await recv_json(ws)

    assert (pong["type"], pong["correlation_id"]) == ("pong", "b1")
    assert (error["type"], error["data"]["code"]) == ("error", "invalid_json")
    assert "A binary frame from the client is read as UTF-8 JSON" in protocol_reference("v3")
    assert "binary frame" in GATEWAY_DOC


async def test__last_seq_not_a_number__ignored_no_replay(server: ServerProcess) -> None:
    async with client(server, "resume-abc") as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "create_thread", "data": {}}))
        await recv_until(ws, lambda f: f["type"] == "thread_created")
    async with client(server, "resume-abc", query="last_seq=abc") as ws:
        welcome = await recv_json(ws)
        await ws.send(json.dumps({"type": "ping", "correlation_id": "p"}))
        first = await recv_json(ws)

    assert welcome["type"] == "connection_established"
    assert first["type"] == "pong"  # nothing was replayed before it
    assert "(`?last_seq=abc`) is ignored without an error" in protocol_reference("v3")
    assert "`?last_seq=abc`" in GATEWAY_DOC


async def test__resume_answered_by_stream_gap__correlation_id_null(server: ServerProcess) -> None:
    async with client(server, "resume-gap") as ws:
        await recv_json(ws)
        resume = {"type": "resume", "data": {"last_seq": 0, "epoch": "gone"}, "correlation_id": "r"}
        await ws.send(json.dumps(resume))
        gap = await recv_json(ws)

    assert gap["type"] == "stream_gap"
    assert gap["correlation_id"] is None
    assert "one caused by a `resume` message has `correlation_id` null" in (
        protocol_reference("v3")
    )


def test__dev_token__response_shape_and_default_user(dev_server: ServerProcess) -> None:
    named = httpx.post(f"{dev_server.http}/auth/dev-token", json={"user_id": "alice"}, timeout=10)
    default = httpx.post(f"{dev_server.http}/auth/dev-token", timeout=10)

    assert sorted(named.json()) == ["expires_in", "token", "user_id"]
    assert (named.json()["user_id"], named.json()["expires_in"]) == ("alice", 3600)
    assert default.json()["user_id"] == "dev-user"
    assert '`{"token": "<jwt>", "user_id": "alice", "expires_in": 3600}`' in GATEWAY_DOC
    assert "the user is `dev-user`" in GATEWAY_DOC
