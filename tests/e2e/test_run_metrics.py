"""Issue 15: a scripted run with tools moves every run metric by the expected amount.

Real gateway subprocesses (and, in queue mode, a real worker on Redis and
PostgreSQL), real sockets; ``GET /metrics`` is parsed with prometheus_client's
text parser and compared before and after. Every delta is exact where it can
be known (counts); only durations' sums are merely positive.

The scripted agent calls a declared tool, a tool that fails, a tool named by
the user's prompt (not declared: it must be labelled ``other``), and a tool
that needs approval; then it streams three tokens (``one ``, ``two ``,
``three``: 13 characters).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import (
    ServerProcess,
    body,
    client,
    free_port,
    recv_json,
    recv_until,
    run_server,
    tag,
)

pytestmark = pytest.mark.e2e

SCRIPTED_AGENT = """
import asyncio

from agentsocket.agents import Tool


def add(a, b):
    return a + b


def broken():
    raise RuntimeError("broken on purpose")


def publish(text):
    return text.upper()


ADD = Tool("add", "Add two numbers.", {"type": "object"}, add)
BROKEN = Tool("broken", "Always fails.", {"type": "object"}, broken)
PUBLISH = Tool("publish", "Needs the user's approval.", {"type": "object"}, publish,
               requires_approval=True)


class Scripted:
    name = "scripted"
    tools = (ADD, BROKEN, PUBLISH)

    async def run(self, ctx, prompt):
        await ctx.tool(ADD, {"a": 2, "b": 3})
        await ctx.tool(BROKEN, {})
        await ctx.tool(prompt.split()[0], {})  # the user's word as a tool name
        published = await ctx.tool(PUBLISH, {"text": "hi"})
        async with ctx.message() as message:
            for piece in ("one ", "two ", "three"):
                await asyncio.sleep(0.01)
                await message.write(piece)
        if not published.ok:
            raise RuntimeError("nothing was published")
"""

#: The prompt's first word becomes a tool name: a client-controlled value.
HOSTILE = "hostile_tool_name"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return at(after, name, **labels) - at(before, name, **labels)


def label_values(samples: Samples) -> set[str]:
    return {value for _, labels in samples for _, value in labels}


def _ask(content: str, agent: str = "scripted") -> str:
    return json.dumps({"type": "user_message", "data": {"content": content, "agent": agent}})


async def _run(ws: ClientConnection, content: str, approve: bool | None) -> list[dict[str, Any]]:
    """One run: answer its approval (None: stop the run instead); every frame to its end."""
    await ws.send(_ask(content))
    frames = await recv_until(ws, lambda f: f["type"] == "tool_approval_required")
    asked = frames[-1]["data"]
    if approve is None:
        await ws.send(json.dumps({"type": "stop_agent", "data": {"run_id": asked["run_id"]}}))
    else:
        answer = {
            "run_id": asked["run_id"],
            "tool_call_id": asked["tool_call_id"],
            "approved": approve,
        }
        await ws.send(json.dumps({"type": "tool_approval", "data": answer}))
    ends = {"agent_completed", "agent_error", "agent_cancelled"}
    frames += await recv_until(ws, lambda f: f["type"] in ends and not f["data"]["parent_run_id"])
    return frames


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("run-metrics")
    (home / "scripted_agent.py").write_text(SCRIPTED_AGENT)
    env = {"PYTHONPATH": str(home), "AGENTSOCKET_STREAM_MAX_ENTRIES": "20"}
    args = ["--agent", "scripted_agent:Scripted"]
    with run_server(home, env=env, args=args) as server:
        yield server


async def test__scripted_runs_with_tools__every_run_metric_moves_exactly(
    gateway: ServerProcess,
) -> None:
    metrics = f"{gateway.http}/metrics"
    before = await scrape(metrics)
    async with client(gateway, "metered") as ws:
        await recv_json(ws)
        # Hostile: an agent name the client makes up is refused and never becomes a label.
        await ws.send(_ask("hello", agent="evil_agent"))
        refused = await recv_json(ws)
        assert refused["type"] == "error"
        assert refused["data"]["code"] == "not_found"

        # 1: approved, completes. While it waits for the answer, the gauges show it.
        await ws.send(_ask(f"{HOSTILE} please"))
        frames = await recv_until(ws, lambda f: f["type"] == "tool_approval_required")
        waiting = await scrape(metrics)
        assert at(waiting, "agentsocket_approvals_pending") == 1
        assert at(waiting, "agentsocket_runs_in_progress", agent="scripted") == 1
        asked = frames[-1]["data"]
        answer = {"run_id": asked["run_id"], "tool_call_id": asked["tool_call_id"]}
        await ws.send(json.dumps({"type": "tool_approval", "data": {**answer, "approved": True}}))
        done = await recv_until(ws, lambda f: f["type"] == "agent_completed")
        assert [f["data"]["content"] for f in done if f["type"] == "agent_message_delta"] == [
            "one ",
            "two ",
            "three",
        ]
        # 2: denied, then the agent fails (agent_error agent_failed).
        failed = await _run(ws, f"{HOSTILE} again", approve=False)
        assert failed[-1]["type"] == "agent_error"
        assert failed[-1]["data"]["code"] == "agent_failed"
        # 3: stopped while it waits for approval.
        stopped = await _run(ws, f"{HOSTILE} stop", approve=None)
        assert stopped[-1]["type"] == "agent_cancelled"
    after = await scrape(metrics)

    agent = {"agent": "scripted"}
    expected: list[tuple[str, dict[str, str], float]] = [
        ("agentsocket_run_first_event_seconds_count", agent, 3),
        ("agentsocket_run_first_token_seconds_count", agent, 2),
        ("agentsocket_run_duration_seconds_count", {**agent, "outcome": "completed"}, 1),
        ("agentsocket_run_duration_seconds_count", {**agent, "outcome": "error"}, 1),
        ("agentsocket_run_duration_seconds_count", {**agent, "outcome": "cancelled"}, 1),
        ("agentsocket_run_errors_total", {**agent, "code": "agent_failed"}, 1),
        ("agentsocket_runs_in_progress", agent, 0),
        ("agentsocket_run_output_tokens_total", agent, 6),
        ("agentsocket_run_output_characters_total", agent, 26),
        ("agentsocket_run_tokens_per_second_count", agent, 2),
        ("agentsocket_tool_duration_seconds_count", {"tool": "add", "outcome": "success"}, 3),
        ("agentsocket_tool_duration_seconds_count", {"tool": "broken", "outcome": "error"}, 3),
        ("agentsocket_tool_duration_seconds_count", {"tool": "other", "outcome": "error"}, 3),
        ("agentsocket_tool_duration_seconds_count", {"tool": "publish", "outcome": "success"}, 1),
        ("agentsocket_tool_duration_seconds_count", {"tool": "publish", "outcome": "denied"}, 1),
        ("agentsocket_approvals_pending", {}, 0),
        ("agentsocket_approval_wait_seconds_count", {"decision": "approved"}, 1),
        ("agentsocket_approval_wait_seconds_count", {"decision": "denied"}, 1),
        ("agentsocket_approval_wait_seconds_count", {"decision": "ended"}, 1),
        ("agentsocket_runs_total", {"status": "completed"}, 1),
        ("agentsocket_runs_total", {"status": "error"}, 1),
        ("agentsocket_runs_total", {"status": "cancelled"}, 1),
        ("agentsocket_errors_total", {"code": "not_found"}, 1),
    ]
    moved = {
        (name, tuple(labels.items())): delta(before, after, name, **labels)
        for name, labels, _ in expected
    }
    assert moved == {(name, tuple(labels.items())): want for name, labels, want in expected}
    for name in (
        "agentsocket_run_first_event_seconds_sum",
        "agentsocket_run_first_token_seconds_sum",
        "agentsocket_run_tokens_per_second_sum",
    ):
        assert delta(before, after, name, **agent) > 0
    # The first token comes after agent_started, and after the tools.
    assert delta(before, after, "agentsocket_run_first_token_seconds_sum", **agent) > delta(
        before, after, "agentsocket_run_first_event_seconds_sum", **agent
    )
    # Nothing a client sent became a label value.
    assert {HOSTILE, "evil_agent", "please", "again", "stop"}.isdisjoint(label_values(after))
    # Not run in queue mode: nothing waited in a queue.
    assert delta(before, after, "agentsocket_run_queue_wait_seconds_count", **agent) == 0


async def test__resume_on_handshake_and_by_message__and_a_gap__counted(
    gateway: ServerProcess,
) -> None:
    metrics = f"{gateway.http}/metrics"
    before = await scrape(metrics)
    user = StreamClient("resumer")
    await user.connect(gateway)
    for i in range(25):  # past the 20 entries the log keeps
        await user.send("create_thread", title=f"t{i}")
    await user.wait_for(lambda f: f.get("seq") == 25)
    await user.close()
    lagging = StreamClient("resumer")
    # From seq 1: the log now starts at 6, so 2..5 are gone.
    await lagging.connect(gateway, query=f"last_seq=1&epoch={user.epoch}")
    gap = await lagging.wait_for(lambda f: tag(f) == "stream_gap")
    assert body(gap)["reason"] == "retention"
    await lagging.wait_for(lambda f: f.get("seq") == 25)
    await lagging.send("resume", epoch=user.epoch, last_seq=25)  # nothing missed: no gap
    await lagging.send("ping")
    await lagging.wait_for(lambda f: tag(f) == "pong")
    await lagging.close()
    after = await scrape(metrics)
    assert delta(before, after, "agentsocket_resumes_total", via="handshake") == 1
    assert delta(before, after, "agentsocket_resumes_total", via="message") == 1
    assert delta(before, after, "agentsocket_stream_gaps_total", reason="retention") == 1
    assert delta(before, after, "agentsocket_stream_gaps_total", reason="epoch_changed") == 0
    # No connection is backed up now: the queue gauges, read at scrape time, are exactly 0.
    assert at(after, "agentsocket_outbound_queued_frames") == 0
    assert at(after, "agentsocket_outbound_queued_frames_max") == 0
    assert at(after, "agentsocket_event_loop_lag_seconds") >= 0


async def _raw_http(port: int, request: bytes) -> bytes:
    """What the server at ``port`` answers to ``request`` (raw bytes), until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.fixture
async def queue_nodes(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> AsyncIterator[tuple[Cluster, int]]:
    (tmp_path / "scripted_agent.py").write_text(SCRIPTED_AGENT)
    port = free_port()
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=1,
        workers=1,
        env={"PYTHONPATH": str(tmp_path), "AGENTSOCKET_AGENTS": "scripted_agent:Scripted"},
        worker_env={"AGENTSOCKET_WORKER_METRICS_PORT": str(port)},
    ) as started:
        yield started, port


@pytest.mark.redis
@pytest.mark.postgres
async def test__queue_mode__the_worker_records_the_run_and_its_queue_wait(
    queue_nodes: tuple[Cluster, int],
) -> None:
    nodes, port = queue_nodes
    gateway = nodes.gateways[0]
    worker_metrics = f"http://127.0.0.1:{port}/metrics"
    # Hostile peers on the worker's metrics port get an HTTP error, and the worker goes on.
    assert b"Error code: 400" in await _raw_http(port, b"\x00\xff\xfe garbage\r\n\r\n")
    too_long = b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n"
    assert (await _raw_http(port, too_long)).startswith(b"HTTP/1.0 414")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(worker_metrics, content=b"x" * 100_000)).status_code == 405
    before, gateway_before = await scrape(worker_metrics), await scrape(f"{gateway.http}/metrics")
    user = StreamClient("queued")
    await user.connect(gateway)
    await user.send("user_message", content=f"{HOSTILE} queued", agent="scripted")
    asked = await user.wait_for(lambda f: tag(f) == "tool_approval_required")
    await user.send(
        "tool_approval",
        run_id=body(asked)["run_id"],
        tool_call_id=body(asked)["tool_call_id"],
        approved=True,
    )
    end = await user.wait_terminal(body(asked)["run_id"])
    assert tag(end) == "agent_completed"
    await user.close()
    after = await scrape(worker_metrics)
    gateway_after = await scrape(f"{gateway.http}/metrics")
    agent = {"agent": "scripted"}
    for name, labels, want in [
        ("agentsocket_run_queue_wait_seconds_count", agent, 1),
        ("agentsocket_run_first_event_seconds_count", agent, 1),
        ("agentsocket_run_first_token_seconds_count", agent, 1),
        ("agentsocket_run_duration_seconds_count", {**agent, "outcome": "completed"}, 1),
        ("agentsocket_run_output_tokens_total", agent, 3),
        ("agentsocket_tool_duration_seconds_count", {"tool": "other", "outcome": "error"}, 1),
        ("agentsocket_tool_duration_seconds_count", {"tool": "publish", "outcome": "success"}, 1),
        ("agentsocket_approval_wait_seconds_count", {"decision": "approved"}, 1),
    ]:
        assert delta(before, after, name, **labels) == want, name
    assert delta(before, after, "agentsocket_run_queue_wait_seconds_sum", **agent) >= 0
    # The first event comes after the queue wait: its time includes it.
    assert delta(before, after, "agentsocket_run_first_event_seconds_sum", **agent) >= delta(
        before, after, "agentsocket_run_queue_wait_seconds_sum", **agent
    )
    assert at(after, "agentsocket_event_loop_lag_seconds") >= 0
    # The run executed on the worker: the gateway's run metrics did not move.
    first_events = "agentsocket_run_first_event_seconds_count"
    assert delta(gateway_before, gateway_after, first_events, **agent) == 0
    assert HOSTILE not in label_values(after)
