"""Per-user limits hold across gateway nodes on Redis (issue 12, bug 11, the Redis part).

Two real ``agentsocket serve`` nodes (``BROKER=redis``, ``RUNS=local``) and
one user with a connection on each: messages sent at once on both nodes
start at most ``MAX_RUNS_PER_USER`` runs in total; the rest get
``too_many_runs``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.cluster import StreamClient, cluster
from tests.e2e.harness import body, tag

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: The demo agent's ``slow`` word: runs that last 5 s, so none ends during the burst.
SLOW_PROMPT = "be slow about it"
LIMIT = 2
PER_NODE = 4


def answer(frame: dict[str, object]) -> bool:
    return tag(frame) == "message_received" or (
        tag(frame) == "error" and body(frame).get("code") == "too_many_runs"
    )


async def test__concurrent_messages_on_two_nodes__never_more_runs_than_the_limit(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    env = {"AGENTSOCKET_RUNS": "local", "AGENTSOCKET_MAX_RUNS_PER_USER": str(LIMIT)}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        clients = [StreamClient("alice"), StreamClient("alice")]
        try:
            for c, node in zip(clients, nodes.gateways, strict=True):
                await c.connect(node)
            await asyncio.gather(
                *(
                    c.send("user_message", content=SLOW_PROMPT)
                    for c in clients
                    for _ in range(PER_NODE)
                )
            )
            for c in clients:
                await c.wait_for(lambda f, c=c: sum(map(answer, c.frames)) == PER_NODE)
            answers = [tag(f) for c in clients for f in c.frames if answer(f)]
            assert answers.count("message_received") == LIMIT, answers
            assert answers.count("error") == 2 * PER_NODE - LIMIT, answers
            assert await nodes.redis.scard(f"{nodes.prefix}:user-runs:alice") == LIMIT
            assert await nodes.redis.zcard(f"{nodes.prefix}:user-slots:alice") == 0
            async with nodes.store() as store:
                assert await store.count_running("alice") == LIMIT
        finally:
            for c in clients:
                await c.close()
