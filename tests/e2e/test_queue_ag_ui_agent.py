"""The AG-UI adapter in worker mode: two gateways and one worker on Redis and PostgreSQL.

PydanticAI's AG-UI server runs as a subprocess with its scripted offline
model; every gateway and the worker get it with ``--ag-ui-agent NAME=URL``
(the same options everywhere); runs go through the Redis run queue to the
worker. In v1, v2 and v3: a tool question asked on one gateway streams to the
user's connection on the other; the follow-up asked there sees the first
turn; ``stop_agent`` sent through the other gateway mid-tool ends the run with
``agent_cancelled``, and the upstream sees its request closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("pydantic_ai", reason="needs the pydantic-ai extra: pip install -e '.[dev]'")
pytest.importorskip("ag_ui", reason="needs the ag-ui extra: pip install -e '.[dev]'")

from tests.agents.adapters.agui_servers.launch import AGUIServer, run_agui_server
from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import body, tag
from tests.services import require_postgres, require_redis

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="module"),
]

SAFETY = 20.0  # seconds; a hang guard, not a performance threshold


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AGUIServer]:
    with run_agui_server("pydantic_ai", tmp_path_factory.mktemp("agui-upstream")) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(
    tmp_path_factory: pytest.TempPathFactory, upstream: AGUIServer
) -> AsyncIterator[Cluster]:
    # One cluster for the three versions: the services are checked here, not per test.
    redis_url, postgres_url = require_redis(), require_postgres()
    tmp_path = tmp_path_factory.mktemp("agui-cluster")
    args = (
        "--ag-ui-agent",
        f"calculator={upstream.url}",
        "--ag-ui-agent",
        f"slow={upstream.url.replace('/agent', '/slow')}",
    )
    async with cluster(tmp_path, redis_url, postgres_url, gateways=2, workers=1, args=args) as up:
        yield up


async def _start(client: StreamClient, **data: Any) -> dict[str, Any]:
    start = len(client.frames)
    await client.send("user_message", **data)
    return dict(body(await client.wait_for(lambda f: tag(f) == "message_received", start=start)))


def _of_run(client: StreamClient, run_id: str) -> list[dict[str, Any]]:
    return [f for f in client.frames if body(f).get("run_id") == run_id]


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
async def test__ag_ui_agent_through_the_worker(
    nodes: Cluster, upstream: AGUIServer, version: str
) -> None:
    user = f"agui-worker-{version}"
    here, there = StreamClient(user, version), StreamClient(user, version)
    try:
        await here.connect(nodes.gateways[0])
        await there.connect(nodes.gateways[1])
        first = await _start(here, content=f"{user}: what is 6 times 7?", agent="calculator")
        await there.wait_terminal(str(first["run_id"]), SAFETY)
        second = await _start(
            there, content=f"{user}: once more?", agent="calculator", thread_id=first["thread_id"]
        )
        await here.wait_terminal(str(second["run_id"]), SAFETY)

        started, cancelled = len(upstream.started()), len(upstream.cancelled())
        slow = await _start(here, content="research x", agent="slow")
        await there.wait_for(
            lambda f: tag(f) == "tool_executing" and body(f)["run_id"] == slow["run_id"], SAFETY
        )
        async with asyncio.timeout(SAFETY):
            await upstream.wait_for("started", started + 1)  # the tool runs on the upstream now
        sent = time.perf_counter()
        await there.send("stop_agent", run_id=str(slow["run_id"]))
        stopped = await here.wait_terminal(str(slow["run_id"]), SAFETY)
        ended = time.perf_counter() - sent
        async with asyncio.timeout(SAFETY):
            await upstream.wait_for("cancelled", cancelled + 1)  # it saw its request close
        closed = time.perf_counter() - sent
        # The stopping connection, on the other gateway, sees the end too.
        stopped_there = await there.wait_terminal(str(slow["run_id"]), SAFETY)
    finally:
        await here.close()
        await there.close()

    final = "agent_message" if version == "v3" else "final_report"
    streamed = "agent_message_delta" if version == "v3" else "partial_result"
    # v3 clients also get the question's stream copy, the run's first stream message.
    question = ["user_message_accepted"] if version == "v3" else []
    # Each run as the user's connection on the other gateway saw it.
    for client, run, questions in ((there, first, 1), (here, second, 2)):
        events = _of_run(client, str(run["run_id"]))
        names = [tag(e) for e in events if tag(e) not in (streamed, "agent_thinking")]
        assert names == [
            *question,
            "agent_started",
            "tool_executing",
            "tool_completed",
            final,
            "agent_completed",
        ], names
        completed = body(next(e for e in events if tag(e) == "tool_completed"))
        assert (completed["status"], completed["result"]) == ("success", "42")
        answer = next(body(e)["content"] for e in events if tag(e) == final)
        assert answer == f"The product is 42. Questions so far: {questions}."
        deltas = "".join(body(e)["content"] for e in events if tag(e) == streamed)
        assert deltas == ("" if version == "v1" else answer)  # v1 gets only the final text
        assert all(body(e)["agent_name"] == "calculator" for e in events)
    seen = [s for s in upstream.seen() if any(user in p for p in s["prompts"])]
    assert [len(s["prompts"]) for s in seen] == [1, 2]  # the second request carried the first
    assert "The product is 42. Questions so far: 1." in seen[1]["answers"]

    assert tag(stopped) == "agent_cancelled"
    assert tag(stopped_there) == "agent_cancelled"
    print(
        f"worker mode, {version}: stop_agent -> agent_cancelled in {ended * 1000:.0f} ms, "
        f"upstream request closed in {closed * 1000:.0f} ms"
    )
