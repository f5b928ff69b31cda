"""LangGraph, PydanticAI and OpenAI Agents SDK agents behind the real gateway.

One ``agentsocket serve`` subprocess serves the three adapter test agents,
loaded with ``--agent module:factory`` as a user would; real WebSocket clients
speak v1, v2 and v3. The frameworks run on their offline test models; the
Agents SDK agent talks to the chat-completions stand-in in this process.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from tests.agents.standin import StandIn, Stream, finish, serve, text, tool_call
from tests.e2e.harness import ServerProcess, body, client, recv_json, run_server, tag

for _module in ("langgraph", "pydantic_ai", "agents"):
    pytest.importorskip(
        _module, reason=f"needs the framework extras ({_module}): pip install -e '.[dev]'"
    )

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[2]
AGENTS = {
    "langgraph-calc": "tests.agents.adapters.langgraph_graph:build_graph",
    "pydantic-calc": "tests.agents.adapters.pydantic_ai_agent:build_agent",
    "sdk-calc": "tests.agents.adapters.openai_agents_agent:from_env",
}
TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}
SAFETY = 15.0  # seconds; a hang guard, not a performance threshold


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def standin() -> AsyncIterator[StandIn]:
    async for running in serve(StandIn()):
        yield running


@pytest.fixture(scope="module")
def served(standin: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    args = [arg for spec in AGENTS.values() for arg in ("--agent", spec)]
    env = {"OPENAI_BASE_URL": standin.base_url, "OPENAI_API_KEY": "not-a-key"}
    with run_server(tmp_path_factory.mktemp("frameworks"), env=env, args=args, cwd=ROOT) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_script(standin: StandIn) -> None:
    standin.replies.clear()
    standin.requests.clear()


def _frame(version: str, kind: str, **data: Any) -> str:
    if version == "v1":
        return json.dumps({"type": kind, **data})
    return json.dumps({"type": kind, "data": data})


async def _until(ws: ClientConnection, run_id: str, names: set[str]) -> list[Mapping[str, Any]]:
    """The run's frames up to the first named one."""
    frames: list[Mapping[str, Any]] = []
    while True:
        frame = await recv_json(ws, SAFETY)
        if body(frame).get("run_id") == run_id or tag(frame) in names - TERMINAL:
            frames.append(frame)
            if tag(frame) in names:
                return frames


async def _start(
    ws: ClientConnection, version: str, agent: str, content: str, thread_id: str | None = None
) -> Mapping[str, Any]:
    data: dict[str, Any] = {"content": content, "agent": agent}
    if thread_id is not None:
        data["thread_id"] = thread_id
    await ws.send(_frame(version, "user_message", **data))
    while True:
        frame = await recv_json(ws, SAFETY)
        if tag(frame) == "message_received":
            return body(frame)


async def _ask(
    ws: ClientConnection, version: str, agent: str, content: str, thread_id: str | None = None
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    ack = await _start(ws, version, agent, content, thread_id)
    return ack, await _until(ws, ack["run_id"], TERMINAL)


def _script_tool_answer(standin: StandIn) -> None:
    standin.script(
        Stream([*tool_call(0, "call_add", "add", '{"a": 2, "b": 3}'), finish("tool_calls")]),
        Stream([*text("The tool ", "said 5."), finish()]),
        Stream([*text("You asked: please add"), finish()]),
    )


@pytest.mark.parametrize("agent", list(AGENTS))
@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__tool_question_then_follow_up__streamed_and_remembered(
    served: ServerProcess, standin: StandIn, agent: str, version: str
) -> None:
    _script_tool_answer(standin)
    async with client(served, f"fw-{agent}-{version}", version) as ws:
        await recv_json(ws)
        ack, first = await _ask(ws, version, agent, "please add")
        _, second = await _ask(ws, version, agent, "what is my history?", ack["thread_id"])

    final = "agent_message" if version == "v3" else "final_report"
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    # v3 clients also get the question's stream copy, the run's first stream message.
    question = ["user_message_accepted"] if version == "v3" else []
    names = [tag(e) for e in first if tag(e) not in (streamed, "agent_thinking")]
    expected = ["agent_started", "tool_executing", "tool_completed", final, "agent_completed"]
    assert names == [*question, *expected]
    completed = next(body(e) for e in first if tag(e) == "tool_completed")
    assert (completed["status"], completed["result"]) == ("success", 5)
    answer = next(body(e)["content"] for e in first if tag(e) == final)
    assert answer == "The tool said 5."
    deltas = "".join(body(e)["content"] for e in first if tag(e) == streamed)
    assert deltas == ("" if version == "v1" else answer)  # v1 clients get only the final text
    follow_up = next(body(e)["content"] for e in second if tag(e) == final)
    assert follow_up.startswith("You asked: please add")
    if agent == "sdk-calc":
        sent = [(m["role"], m.get("content")) for m in standin.requests[-1]["messages"][1:]]
        assert sent == [
            ("user", "please add"),
            ("assistant", "The tool said 5."),
            ("user", "what is my history?"),
        ]


@pytest.mark.parametrize("agent", list(AGENTS))
async def test__stop_agent_mid_tool__cancelled_within_a_second(
    served: ServerProcess, standin: StandIn, agent: str
) -> None:
    standin.script(Stream([*tool_call(0, "call_nap", "nap", "{}"), finish("tool_calls")]))
    async with client(served, f"fw-stop-{agent}") as ws:
        await recv_json(ws)
        ack = await _start(ws, "v3", agent, "take a nap")
        await _until(ws, ack["run_id"], {"tool_executing"})
        started = time.perf_counter()
        await ws.send(_frame("v3", "stop_agent", run_id=ack["run_id"]))
        frames = await _until(ws, ack["run_id"], TERMINAL)
        seconds = time.perf_counter() - started

    assert tag(frames[-1]) == "agent_cancelled"
    print(f"{agent}: stop_agent -> agent_cancelled in {seconds * 1000:.1f} ms")
    assert seconds < SAFETY  # the acceptance's second is reported, not asserted here


@pytest.mark.parametrize("approved", [True, False], ids=["approve", "deny"])
@pytest.mark.parametrize("agent", list(AGENTS))
async def test__approval__approve_runs_the_tool_deny_does_not(
    served: ServerProcess, standin: StandIn, agent: str, approved: bool
) -> None:
    standin.script(
        Stream([*tool_call(0, "call_delete", "delete", '{"path": "x"}'), finish("tool_calls")]),
        Stream([*text("Done."), finish()]),
    )
    async with client(served, f"fw-approve-{agent}") as ws:
        await recv_json(ws)
        ack = await _start(ws, "v3", agent, "delete it")
        frames = await _until(ws, ack["run_id"], {"tool_approval_required"})
        request = body(frames[-1])
        assert (request["tool_name"], request["arguments"]) == ("delete", {"path": "x"})
        answer = {"approved": approved, "reason": None if approved else "not today"}
        await ws.send(
            _frame(
                "v3",
                "tool_approval",
                run_id=request["run_id"],
                tool_call_id=request["tool_call_id"],
                **answer,
            )
        )
        frames = await _until(ws, ack["run_id"], TERMINAL)

    assert tag(frames[-1]) == "agent_completed"
    completed = [body(f) for f in frames if tag(f) == "tool_completed"]
    assert len(completed) == 1
    if agent == "langgraph-calc":  # interrupt() hands the answer to the tool, which reports it
        assert completed[0]["result"] == ("deleted x" if approved else "not deleted: not today")
    elif approved:
        assert (completed[0]["status"], completed[0]["result"]) == ("success", "deleted x")
    else:
        assert (completed[0]["status"], completed[0]["error"]) == ("denied", "not today")
