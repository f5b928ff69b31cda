"""A framework agent in worker mode: two gateways and one worker on Redis and PostgreSQL.

The LangGraph adapter's test graph is given to every process with
``AGENTSOCKET_AGENTS`` (as ``--agent`` would); runs go through the Redis run
queue to the worker. A tool question asked on one gateway streams to the
user's connections on both; the follow-up asked on the other gateway sees the
first turn; ``stop_agent`` mid-tool and an ``interrupt()`` approval, sent
through the other gateway, reach the worker's run; in v1, v2 and v3 (one
cluster for the three).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("langgraph", reason="needs the langgraph extra: pip install -e '.[dev]'")

from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import body, tag
from tests.services import require_postgres, require_redis

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="module"),
]

ROOT = Path(__file__).resolve().parents[2]
AGENT = "tests.agents.adapters.langgraph_graph:build_graph"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    # One cluster for the three versions: the services are checked here, not per test.
    async with cluster(
        tmp_path_factory.mktemp("langgraph-cluster"),
        require_redis(),
        require_postgres(),
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
    return [f for f in client.frames if body(f).get("run_id") == run_id]


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__langgraph_agent_through_the_worker(nodes: Cluster, version: str) -> None:
    user = f"alice-{version}"
    here, there = StreamClient(user, version), StreamClient(user, version)
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

        approved: dict[str, Any] | None = None
        if version == "v3":  # approvals are new in v3
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

    final = "agent_message" if version == "v3" else "final_report"
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    # v3 clients also get the question's stream copy, the run's first stream message.
    question = ["user_message_accepted"] if version == "v3" else []
    kinds = [tag(f) for f in _of_run(there, str(first["run_id"])) if tag(f) != streamed]
    assert kinds == [
        *question,
        "agent_started",
        "tool_executing",
        "tool_completed",
        final,
        "agent_completed",
    ]
    answers = [body(f)["content"] for f in here.frames if tag(f) == final]
    assert answers[:2] == ["The tool said 5.", "You asked: please add | what is my history?"]
    deltas = [body(f)["content"] for f in _of_run(here, str(first["run_id"])) if tag(f) == streamed]
    assert "".join(deltas) == ("" if version == "v1" else "The tool said 5.")  # v1: no deltas
    assert tag(cancelled) == "agent_cancelled"
    print(f"worker mode, {version}: stop_agent -> agent_cancelled in {stop_seconds * 1000:.1f} ms")
    if approved is not None:
        assert tag(approved) == "agent_completed"
        assert answers[-1] == "The tool said deleted x."
