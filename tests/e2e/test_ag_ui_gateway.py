"""AG-UI servers behind the real gateway: ``agentsocket serve --ag-ui-agent NAME=URL``.

PydanticAI's and LangGraph's AG-UI servers run as subprocesses with scripted
offline models; the gateway is the real console entry point; clients are
plain WebSocket connections speaking v1, v2 and v3. PydanticAI's deferred tool
(an AG-UI interrupt) is approved or denied by the user over v3.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.agents.adapters.agui_servers.launch import AGUIServer, run_agui_server
from tests.e2e.harness import ServerProcess, body, client, recv_json, run_server, tag

pytestmark = pytest.mark.e2e

TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}
SAFETY = 30.0  # seconds per run; a safety net against hangs, not a performance threshold


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, AGUIServer]]:
    tmp = tmp_path_factory.mktemp("agui-upstreams")
    with contextlib.ExitStack() as stack:
        yield {
            kind: stack.enter_context(run_agui_server(kind, tmp))
            for kind in ("pydantic_ai", "langgraph")
        }


@pytest.fixture(scope="module")
def gateway(
    upstreams: dict[str, AGUIServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    pydantic_ai, langgraph = upstreams["pydantic_ai"].url, upstreams["langgraph"].url
    args = (
        "--ag-ui-agent",
        f"pydantic_ai={pydantic_ai}",
        "--ag-ui-agent",
        f"langgraph={langgraph}",
        "--ag-ui-agent",
        f"slow={pydantic_ai.replace('/agent', '/slow')}",
        "--ag-ui-agent",
        f"janitor={pydantic_ai.replace('/agent', '/approval')}",
        "--default-agent",
        "pydantic_ai",
    )
    with run_server(tmp_path_factory.mktemp("agui-gateway"), args=args) as server:
        yield server


def _frame(version: str, kind: str, **data: Any) -> str:
    if version == "v1":
        return json.dumps({"type": kind, **data})
    return json.dumps({"type": kind, "data": data})


async def _ask(
    ws: ClientConnection, version: str, agent: str, content: str, thread_id: str | None = None
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    fields: dict[str, Any] = {"content": content, "agent": agent}
    if thread_id is not None:
        fields["thread_id"] = thread_id
    await ws.send(_frame(version, "user_message", **fields))
    ack: Mapping[str, Any] | None = None
    events: list[Mapping[str, Any]] = []
    async with asyncio.timeout(SAFETY):
        while True:
            frame = await recv_json(ws, SAFETY)
            if tag(frame) == "message_received":
                ack = body(frame)
            elif ack is not None and body(frame).get("run_id") == ack["run_id"]:
                events.append(frame)
                if tag(frame) in TERMINAL:
                    return ack, events


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
@pytest.mark.parametrize("agent", ["pydantic_ai", "langgraph"])
async def test__ag_ui_agent__tool_then_streamed_answer_and_the_thread_remembered(
    gateway: ServerProcess, upstreams: dict[str, AGUIServer], agent: str, version: str
) -> None:
    user = f"agui-{agent}-{version}"
    async with client(gateway, user, version) as ws:
        await recv_json(ws)
        ack, first = await _ask(ws, version, agent, f"{user}: what is 6 times 7?")
        _, second = await _ask(ws, version, agent, f"{user}: once more?", ack["thread_id"])

    final = "agent_message" if version == "v3" else "final_report"
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    for run, questions in ((first, 1), (second, 2)):
        names = [tag(e) for e in run if tag(e) not in (streamed, "agent_thinking")]
        # v3 clients also get the question's stream copy, the run's first stream message.
        question = ["user_message_accepted"] if version == "v3" else []
        assert names == [
            *question,
            "agent_started",
            "tool_executing",
            "tool_completed",
            final,
            "agent_completed",
        ], names
        completed = body(next(e for e in run if tag(e) == "tool_completed"))
        assert completed["result"] == "42"
        answer = next(body(e)["content"] for e in run if tag(e) == final)
        assert answer == f"The product is 42. Questions so far: {questions}."
        deltas = "".join(body(e)["content"] for e in run if tag(e) == streamed)
        assert deltas == ("" if version == "v1" else answer)  # v1 gets only the final text
        assert all(body(e)["agent_name"] == agent for e in run)
    seen = [s for s in upstreams[agent].seen() if any(user in p for p in s["prompts"])]
    assert [len(s["prompts"]) for s in seen] == [1, 2]
    assert "The product is 42. Questions so far: 1." in seen[1]["answers"]


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__stop_agent_mid_tool__cancelled_and_the_upstream_request_closed(
    gateway: ServerProcess, upstreams: dict[str, AGUIServer], version: str
) -> None:
    upstream = upstreams["pydantic_ai"]
    started, cancelled = len(upstream.started()), len(upstream.cancelled())
    async with client(gateway, f"agui-stop-{version}", version) as ws:
        await recv_json(ws)
        await ws.send(_frame(version, "user_message", content="research x", agent="slow"))
        run_id: str | None = None
        async with asyncio.timeout(SAFETY):
            while True:
                frame = await recv_json(ws, SAFETY)
                if tag(frame) == "message_received":
                    run_id = body(frame)["run_id"]
                if tag(frame) == "tool_executing":
                    break
            await upstream.wait_for("started", started + 1)  # the tool runs on the upstream now
            loop = asyncio.get_running_loop()
            sent = loop.time()
            await ws.send(_frame(version, "stop_agent", run_id=run_id))
            while True:
                frame = await recv_json(ws, SAFETY)
                if tag(frame) in TERMINAL and body(frame).get("run_id") == run_id:
                    break
            ended = loop.time() - sent
            await upstream.wait_for("cancelled", cancelled + 1)  # it saw its request close
            closed = loop.time() - sent
    assert tag(frame) == "agent_cancelled"
    # The acceptance bound (generous for a loaded machine would hide a real hang).
    assert ended < 1.0, f"agent_cancelled after {ended:.2f} s"
    assert closed < 1.0, f"upstream closed after {closed:.2f} s"


@pytest.mark.parametrize("approved", [True, False], ids=["approve", "deny"])
async def test__interrupt__approval_asked_approve_runs_the_tool_deny_does_not(
    gateway: ServerProcess, upstreams: dict[str, AGUIServer], approved: bool
) -> None:
    upstream = upstreams["pydantic_ai"]
    before = len(upstream.deleted())
    async with client(gateway, f"agui-approve-{approved}") as ws:
        await recv_json(ws)
        await ws.send(_frame("v3", "user_message", content="Delete /tmp/x", agent="janitor"))
        async with asyncio.timeout(SAFETY):
            while tag(request := await recv_json(ws, SAFETY)) != "tool_approval_required":
                pass
            answer = {"approved": approved, "reason": None if approved else "keep it"}
            await ws.send(
                _frame(
                    "v3",
                    "tool_approval",
                    run_id=body(request)["run_id"],
                    tool_call_id=body(request)["tool_call_id"],
                    **answer,
                )
            )
            events = []
            while tag(frame := await recv_json(ws, SAFETY)) not in TERMINAL:
                events.append(frame)

    assert tag(frame) == "agent_completed"
    assert (body(request)["tool_name"], body(request)["arguments"]) == (
        "delete_file",
        {"path": "/tmp/x"},
    )
    [done] = [body(e) for e in events if tag(e) == "tool_completed"]
    if approved:
        assert (done["status"], done["result"]) == ("success", "deleted /tmp/x")
        assert upstream.deleted()[before:] == ["/tmp/x"]
    else:
        assert (done["status"], done["error"]) == ("denied", "keep it")
        assert upstream.deleted()[before:] == []
