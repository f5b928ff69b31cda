"""Your agents in worker mode: a gateway and a worker on Redis and PostgreSQL.

The gateway serves ``echo`` and ``extra``; the worker is given only ``echo``.
A run of ``echo`` goes through the worker and sees the thread's history; a run
of ``extra`` ends with ``agent_error`` ``unknown_agent`` instead of hanging; an
approval for a run or call that is not waiting answers ``not_found``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import body, tag

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

QUEUE_AGENTS = """
class Echo:
    name = "echo"

    async def run(self, ctx, prompt):
        turns = await ctx.history()
        await ctx.say(f"{prompt} (after {len(turns)} turns)")


class Extra:
    name = "extra"

    async def run(self, ctx, prompt):
        await ctx.say("never here")
"""


@pytest.fixture
async def nodes(tmp_path: Path, redis_url: str, postgres_url: str) -> AsyncIterator[Cluster]:
    (tmp_path / "queue_agents.py").write_text(QUEUE_AGENTS)
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=1,
        workers=1,
        env={
            "PYTHONPATH": str(tmp_path),
            "AGENTSOCKET_AGENTS": "queue_agents:Echo,queue_agents:Extra",
        },
        worker_env={"AGENTSOCKET_AGENTS": "queue_agents:Echo"},
    ) as started:
        yield started


async def _ask(client: StreamClient, **data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send a user_message; its receipt and its run's terminal event."""
    start = len(client.frames)
    await client.send("user_message", **data)
    ack = body(await client.wait_for(lambda f: tag(f) == "message_received", start=start))
    return dict(ack), await client.wait_terminal(str(ack["run_id"]))


async def test__worker_runs_the_agent_refuses_one_it_lacks_and_unknown_approvals(
    nodes: Cluster,
) -> None:
    alice = StreamClient("alice")
    try:
        await alice.connect(nodes.gateways[0])
        ack, first = await _ask(alice, content="one")
        _, second = await _ask(alice, content="two", thread_id=ack["thread_id"])
        extra, refused = await _ask(alice, content="hi", agent="extra")
        start = len(alice.frames)
        await alice.send(
            "tool_approval", run_id=str(ack["run_id"]), tool_call_id="call_x", approved=True
        )
        unknown = await alice.wait_for(lambda f: tag(f) == "error", start=start)
    finally:
        await alice.close()

    assert (tag(first), tag(second)) == ("agent_completed", "agent_completed")
    answers = [body(f)["content"] for f in alice.stream if tag(f) == "agent_message"]
    assert answers == ["one (after 0 turns)", "two (after 2 turns)"]
    assert tag(refused) == "agent_error"
    assert (body(refused)["code"], body(refused)["retryable"]) == ("unknown_agent", False)
    of_extra = [tag(f) for f in alice.stream if body(f).get("run_id") == extra["run_id"]]
    assert of_extra == ["user_message_accepted", "agent_started", "agent_error"]
    assert body(unknown)["code"] == "not_found"
    async with nodes.store() as store:
        assert (await store.get_run("alice", str(extra["run_id"]))).status == "error"
    assert "no agent 'extra' here" in nodes.workers[0].log()
