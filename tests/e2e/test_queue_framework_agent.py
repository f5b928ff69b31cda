"""A framework agent in worker mode: two gateways and one worker on Redis and PostgreSQL.

The LangGraph adapter's test graph is given to every process with
``AGENTSOCKET_AGENTS`` (as ``--agent`` would); runs go through the Redis run
queue to the worker. A tool question asked on one gateway streams to the
user's connections on both; the follow-up asked on the other gateway sees the
first turn; ``stop_agent`` mid-tool and an ``interrupt()`` approval, sent
through the other gateway, reach the worker's run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph", reason="needs the langgraph extra: pip install -e '.[dev]'")

from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import body, tag

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
AGENT = "tests.agents.adapters.langgraph_graph:build_graph"


@pytest.fixture
async def nodes(tmp_path: Path, redis_url: str, postgres_url: str) -> AsyncIterator[Cluster]:
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=2,
        workers=1,
        env={"PYTHONPATH": str(ROOT), "AGENTSOCKET_AGENTS": AGENT},
    ) as started:
        yield started


async def _start(client: StreamClient, **data: Any) -> dict[str, Any]:
    start = len(client.frames)
    await client.send("user_message", **data)
    return dict(body(await client.wait_for(lambda f: tag(f) == "message_received", start=start)))


def _of_run(client: StreamClient, run_id: str) -> list[dict[str, Any]]:
    return [f for f in client.stream if body(f).get("run_id") == run_id]


async def test__langgraph_agent_through_the_worker(nodes: Cluster) -> None:
    here, there = StreamClient("alice"), StreamClient("alice")
    try:
        await here.connect(nodes.gateways[0])
        await there.connect(nodes.gateways[1])
        first = await _start(here, content="please add")
        await there.wait_terminal(str(first["run_id"]))
        second = await _start(there, content="what is my history?", thread_id=first["thread_id"])
        await here.wait_terminal(str(second["run_id"]))

        nap = await _start(here, content="take a nap")
        await there.wait_for(
            lambda f: tag(f) == "tool_executing" and body(f)["run_id"] == nap["run_id"]
        )
        stopped = time.perf_counter()
        await there.send("stop_agent", run_id=str(nap["run_id"]))
        cancelled = await here.wait_terminal(str(nap["run_id"]))
        stop_seconds = time.perf_counter() - stopped

        delete = await _start(here, content="delete it")
        request = await there.wait_for(lambda f: tag(f) == "tool_approval_required")
        await there.send(
            "tool_approval",
            run_id=str(body(request)["run_id"]),
            tool_call_id=str(body(request)["tool_call_id"]),
            approved=True,
        )
        approved = await here.wait_terminal(str(delete["run_id"]))
    finally:
        await here.close()
        await there.close()

    kinds = [
        tag(f) for f in _of_run(there, str(first["run_id"])) if tag(f) != "agent_message_delta"
    ]
    assert kinds == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_message",
        "agent_completed",
    ]
    answers = [body(f)["content"] for f in here.stream if tag(f) == "agent_message"]
    assert answers[:2] == ["The tool said 5.", "You asked: please add | what is my history?"]
    deltas = [
        body(f)["content"]
        for f in _of_run(here, str(first["run_id"]))
        if tag(f) == "agent_message_delta"
    ]
    assert "".join(deltas) == "The tool said 5."
    assert tag(cancelled) == "agent_cancelled"
    print(f"worker mode: stop_agent -> agent_cancelled in {stop_seconds * 1000:.1f} ms")
    assert tag(approved) == "agent_completed"
    assert answers[-1] == "The tool said deleted x."
