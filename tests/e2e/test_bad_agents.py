"""Bad agents never hurt the gateway: each ends its run with a typed agent_error.

Real gateway subprocess serving, beside a good agent, one that crashes, one
that hangs, one that swallows cancellation and one that raises SystemExit
(and one whose tool sleeps, to be stopped mid-tool).
Each run ends with its code (``agent_failed`` for a crash, ``timeout`` for a
hang, even one that ignores cancellation); the traceback is in the log, not
in any frame; no answer is stored for it; another user's run meanwhile
completes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.harness import ServerProcess, client, recv_json, recv_until, run_server

BAD_AGENTS = """
import asyncio

from agentsocket.agents import Tool


async def nap(seconds):
    await asyncio.sleep(seconds)
    return "rested"


NAP = Tool("nap", "Sleep for a while.", {"type": "object"}, nap)


class Napper:
    name = "napper"

    async def run(self, ctx, prompt):
        await ctx.tool(NAP, {"seconds": 3600})
        await ctx.say("rested")


class Good:
    name = "good"

    async def run(self, ctx, prompt):
        await ctx.say("fine, thanks")


class Crasher:
    name = "crasher"

    async def run(self, ctx, prompt):
        await ctx.say("half an answer")
        raise ValueError("bad state in the agent")


class Sleeper:
    name = "sleeper"

    async def run(self, ctx, prompt):
        await ctx.think("thinking forever")
        await asyncio.sleep(3600)


class Stubborn:
    name = "stubborn"

    async def run(self, ctx, prompt):
        await ctx.think("never stopping")
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass


class Exiter:
    name = "exiter"

    async def run(self, ctx, prompt):
        raise SystemExit(3)
"""

NAMES = ("Good", "Crasher", "Sleeper", "Stubborn", "Exiter", "Napper")
TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("bad-agents")
    (home / "bad_agents.py").write_text(BAD_AGENTS)
    args: list[str] = []
    for name in NAMES:
        args += ["--agent", f"bad_agents:{name}"]
    env = {"AGENTSOCKET_RUN_TIMEOUT": "1.5", "AGENTSOCKET_AGENT_CANCEL_GRACE": "0.5"}
    with run_server(home, env=env, args=args, cwd=home) as server:
        yield server


def _ask(agent: str, content: str = "hello") -> str:
    return json.dumps({"type": "user_message", "data": {"content": content, "agent": agent}})


async def _run(ws: ClientConnection, agent: str) -> tuple[str, list[dict[str, Any]]]:
    await ws.send(_ask(agent))
    ack = (await recv_until(ws, lambda f: f["type"] == "message_received"))[-1]
    run_id = ack["data"]["run_id"]
    frames = await recv_until(
        ws, lambda f: f["type"] in TERMINAL and f["data"].get("run_id") == run_id, timeout=10
    )
    return ack["data"]["thread_id"], frames


async def _stored(ws: ClientConnection, thread_id: str) -> list[tuple[str, str]]:
    await ws.send(json.dumps({"type": "get_thread_history", "data": {"thread_id": thread_id}}))
    page = (await recv_until(ws, lambda f: f["type"] == "thread_history"))[-1]
    return [(m["role"], m["content"]) for m in page["data"]["messages"]]


@pytest.mark.parametrize(
    ("agent", "code", "retryable"),
    [
        ("crasher", "agent_failed", False),
        ("exiter", "agent_failed", False),
        ("sleeper", "timeout", True),
        ("stubborn", "timeout", True),
    ],
)
async def test__bad_agent__typed_error_no_traceback_nothing_half_stored_others_served(
    gateway: ServerProcess, agent: str, code: str, retryable: bool
) -> None:
    async def bad() -> tuple[str, list[dict[str, Any]], list[tuple[str, str]]]:
        async with client(gateway, f"victim-{agent}") as ws:
            await recv_json(ws)
            thread_id, frames = await _run(ws, agent)
            return thread_id, frames, await _stored(ws, thread_id)

    async def good() -> list[str]:
        # Another user's runs, one after another while the bad one lasts.
        answers = []
        async with client(gateway, f"bystander-{agent}") as ws:
            await recv_json(ws)
            for _ in range(3):
                _, frames = await _run(ws, "good")
                answers += [f["data"]["content"] for f in frames if f["type"] == "agent_message"]
        return answers

    (_, frames, stored), answers = await asyncio.gather(bad(), good())
    end = frames[-1]
    assert end["type"] == "agent_error"
    assert (end["data"]["code"], end["data"]["retryable"]) == (code, retryable)
    assert all("Traceback" not in json.dumps(f) for f in frames)
    assert stored == [("user", "hello")]  # the run's partial text is not stored as an answer
    assert answers == ["fine, thanks"] * 3
    if code == "agent_failed":
        log = gateway.log()
        assert "Traceback" in log
        assert f"agent {agent} failed in run {end['data']['run_id']}" in log


async def test__stop_an_agent_that_ignores_cancellation__cancelled_after_the_grace(
    gateway: ServerProcess,
) -> None:
    async with client(gateway, "stopper") as ws:
        await recv_json(ws)
        await ws.send(_ask("stubborn"))
        frames = await recv_until(ws, lambda f: f["type"] == "agent_thinking")
        run_id = frames[-1]["data"]["run_id"]
        await ws.send(json.dumps({"type": "stop_agent", "data": {"run_id": run_id}}))
        end = await recv_until(ws, lambda f: f["type"] in TERMINAL, timeout=5)
    assert end[-1]["type"] == "agent_cancelled"
    assert end[-1]["data"]["reason"] == "user_request"
    assert "ignored cancellation" in gateway.log()


async def test__stop_a_plain_agent_mid_tool__cancelled_at_once(gateway: ServerProcess) -> None:
    async with client(gateway, "napper") as ws:
        await recv_json(ws)
        await ws.send(_ask("napper"))
        frames = await recv_until(ws, lambda f: f["type"] == "tool_executing")
        run_id = frames[-1]["data"]["run_id"]
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "stop_agent", "data": {"run_id": run_id}}))
        end = await recv_until(ws, lambda f: f["type"] in TERMINAL, timeout=5)
        seconds = time.perf_counter() - sent
    assert [f["type"] for f in end] == ["agent_cancelled"]
    assert (end[-1]["data"]["run_id"], end[-1]["data"]["reason"]) == (run_id, "user_request")
    # The acceptance's second is reported, as for the frameworks (test_framework_agents.py).
    print(
        f"plain agent loaded with --agent: stop_agent -> agent_cancelled in {seconds * 1000:.1f} ms"
    )


async def test__gateway_alive_after_the_bad_agents(gateway: ServerProcess) -> None:
    async with client(gateway, "after") as ws:
        await recv_json(ws)
        await _run(ws, "exiter")
        _, frames = await _run(ws, "good")
    assert frames[-1]["type"] == "agent_completed"
    assert gateway.process.poll() is None
