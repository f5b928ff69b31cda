"""A new user serves their own agent: ``agentsocket serve --dev --agent myagent:agent``.

The agent is ``docs/examples/myagent.py`` (the example of docs/agents.md,
"Serve your agent"), copied into a fresh directory and loaded from there by
the real console script, exactly as a user would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.harness import ServerProcess, body, client, recv_json, run_server, tag

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "myagent.py"
CONSOLE_SCRIPT = Path(sys.executable).with_name("agentsocket")
TERMINAL = {"agent_completed", "agent_error", "agent_cancelled"}
CHAT = (sys.executable, "-m", "agentsocket", "chat")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("newuser")
    shutil.copy(EXAMPLE, home / "myagent.py")
    with run_server(
        home,
        # The console script, not `python -m`: its sys.path does not hold the cwd.
        module=(str(CONSOLE_SCRIPT), "serve"),
        args=("--dev", "--agent", "myagent:agent"),
        env={"PYTHONPATH": ""},
        cwd=home,
    ) as server:
        yield server


def _chat(version: str, content: str, thread_id: str | None) -> str:
    data: dict[str, Any] = {"content": content}
    if thread_id is not None:
        data["thread_id"] = thread_id
    if version == "v1":
        return json.dumps({"type": "user_message", **data})
    return json.dumps({"type": "user_message", "data": data})


async def _ask(
    ws: ClientConnection, version: str, content: str, thread_id: str | None = None
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    await ws.send(_chat(version, content, thread_id))
    ack: Mapping[str, Any] | None = None
    events: list[Mapping[str, Any]] = []
    while True:
        frame = await recv_json(ws, 15)
        if tag(frame) == "message_received":
            ack = body(frame)
        elif ack is not None and body(frame).get("run_id") == ack["run_id"]:
            events.append(frame)
            if tag(frame) in TERMINAL:
                return ack, events


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__own_agent__tool_streamed_answer_and_thread_history(
    served: ServerProcess, version: str
) -> None:
    async with client(served, f"newuser-{version}", version) as ws:
        await recv_json(ws)
        ack, first = await _ask(ws, version, "hello there agent")
        _, second = await _ask(ws, version, "and again", ack["thread_id"])

    final = "agent_message" if version == "v3" else "final_report"
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    # v3 clients also get the question's stream copy, the run's first stream message.
    question = ["user_message_accepted"] if version == "v3" else []
    names = [tag(e) for e in first if tag(e) != streamed]
    expected = ["agent_started", "tool_executing", "tool_completed", final, "agent_completed"]
    assert names == [*question, *expected]
    assert body(next(e for e in first if tag(e) == "tool_completed"))["result"] == 3
    answer = next(body(e)["content"] for e in first if tag(e) == final)
    assert answer == "That is 3 words."
    deltas = "".join(body(e)["content"] for e in first if tag(e) == streamed)
    if version == "v1":
        assert deltas == ""  # a declared drop: v1 clients get only the final text
    else:
        assert deltas == answer
    assert all(body(e)["agent_name"] == "counter" for e in first)
    follow_up = next(body(e)["content"] for e in second if tag(e) == final)
    assert follow_up == 'That is 2 words. Before, you said "hello there agent".'


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__welcome__lists_the_agents_in_v3_only(served: ServerProcess, version: str) -> None:
    async with client(served, "newuser-welcome", version) as ws:
        welcome = body(await recv_json(ws))
    if version == "v3":
        assert welcome["agents"] == [
            {"name": "counter", "description": "Counts your words and remembers what you said."}
        ]
        assert welcome["default_agent"] == "counter"
    else:
        assert "agents" not in welcome
        assert "default_agent" not in welcome


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test__unknown_agent__not_found_listing_the_agents(
    served: ServerProcess, version: str
) -> None:
    async with client(served, "newuser-pick", version) as ws:
        await recv_json(ws)
        data = {"content": "hi", "agent": "nope"}
        frame = (
            {"type": "user_message", **data}
            if version == "v1"
            else {"type": "user_message", "data": data}
        )
        await ws.send(json.dumps(frame))
        error = await recv_json(ws)
    assert tag(error) == "error"
    fields = body(error)
    code, text = (
        (fields["error_code"], fields["error_message"])
        if version == "v1"
        else (fields["code"], fields["message"])
    )
    assert code == "not_found"
    assert text == "no agent 'nope'; available: counter"
    if version == "v3":
        assert fields["errors"] == [
            {"path": "$.data.agent", "reason": "unknown agent; available: counter"}
        ]


def test__chat_cli__lists_and_picks_the_agent(served: ServerProcess) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSOCKET_TOKEN"}
    done = subprocess.run(
        [*CHAT, served.ws, "--user", "newuser-chat", "--agent", "counter"],
        input="/agent\none two\n/agent nope\nthree\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "* counter  Counts your words and remembers what you said." in done.stdout
    assert "counter: That is 2 words." in done.stdout
    assert "no agent 'nope'; available: counter" in done.stdout
