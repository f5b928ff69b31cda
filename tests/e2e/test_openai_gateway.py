"""The OpenAI-compatible agent behind the real gateway: streamed answer and thread history."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tests.agents.standin import StandIn, Stream, finish, serve, text, tool_call, usage
from tests.e2e.harness import client, recv_json, recv_until, run_server


def _chat(content: str, thread_id: str | None = None) -> str:
    data = {"content": content, "agent": "openai"}
    if thread_id:
        data["thread_id"] = thread_id
    return json.dumps({"type": "user_message", "data": data})


async def test__openai_agent__streams_and_continues_the_thread(tmp_path: Path) -> None:
    async with contextlib.asynccontextmanager(serve)(StandIn()) as standin:
        standin.script(
            Stream([*text("Hello", ", Ada."), finish(), usage(9, 3)]),
            Stream([*text("You said your name is Ada."), finish()]),
        )
        env = {"AGENTSOCKET_OPENAI_BASE_URL": standin.base_url, "AGENTSOCKET_OPENAI_API_KEY": "k"}
        with run_server(tmp_path, env=env) as server:
            async with client(server, "ada") as ws:
                await recv_json(ws)
                await ws.send(_chat("Hi, I am Ada."))
                first = await recv_until(ws, lambda f: f["type"] == "agent_completed")
                thread_id = next(f for f in first if f["type"] == "message_received")["data"][
                    "thread_id"
                ]
                await ws.send(_chat("What is my name?", thread_id))
                second = await recv_until(ws, lambda f: f["type"] == "agent_completed")
    deltas = "".join(f["data"]["content"] for f in first if f["type"] == "agent_message_delta")
    assert deltas == "Hello, Ada."
    answer = next(f for f in second if f["type"] == "agent_message")["data"]["content"]
    assert answer == "You said your name is Ada."
    # The model's reported usage reaches the client; none reported: null.
    assert first[-1]["data"]["usage"] == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
    assert second[-1]["data"]["usage"] is None
    assert all(r["stream_options"] == {"include_usage": True} for r in standin.requests)
    sent = [
        (m["role"], m["content"]) for m in standin.requests[1]["messages"] if m["role"] != "system"
    ]
    assert sent == [
        ("user", "Hi, I am Ada."),
        ("assistant", "Hello, Ada."),
        ("user", "What is my name?"),
    ]


async def test__openai_agent__earlier_tool_calls_sent_in_the_models_format(
    tmp_path: Path,
) -> None:
    async with contextlib.asynccontextmanager(serve)(StandIn()) as standin:
        standin.script(
            Stream(
                [
                    *tool_call(0, "call_m1", "search_history", '{"query": ', '"Lisbon"}'),
                    finish("tool_calls"),
                ]
            ),
            Stream([*text("Nothing about Lisbon yet."), finish()]),
            Stream([*text("I searched for Lisbon before."), finish()]),
        )
        env = {"AGENTSOCKET_OPENAI_BASE_URL": standin.base_url, "AGENTSOCKET_OPENAI_API_KEY": "k"}
        with run_server(tmp_path, env=env) as server:
            async with client(server, "tl-openai") as ws:
                await recv_json(ws)
                await ws.send(_chat("Did I mention Lisbon?"))
                first = await recv_until(ws, lambda f: f["type"] == "agent_completed")
                thread_id = next(f for f in first if f["type"] == "message_received")["data"][
                    "thread_id"
                ]
                await ws.send(_chat("What did you search for?", thread_id))
                await recv_until(ws, lambda f: f["type"] == "agent_completed")
    completed = next(f for f in first if f["type"] == "tool_completed")["data"]
    call_id = completed["tool_call_id"]
    sent = [m for m in standin.requests[2]["messages"] if m["role"] != "system"]
    assert sent == [
        {"role": "user", "content": "Did I mention Lisbon?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "search_history", "arguments": '{"query": "Lisbon"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call_id,
            "content": json.dumps(completed["result"], ensure_ascii=False),
        },
        {"role": "assistant", "content": "Nothing about Lisbon yet."},
        {"role": "user", "content": "What did you search for?"},
    ]
