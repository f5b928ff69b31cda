"""Per-user limits hold across gateway nodes on Redis (issue 12, bug 11, the Redis part).

Two real ``agentsocket serve`` nodes (``BROKER=redis``): messages sent at
once on both nodes start at most ``MAX_RUNS_PER_USER`` runs in total (the
rest get ``too_many_runs``), and handshakes at once on both nodes open at
most ``MAX_CONNECTIONS_PER_USER`` connections of a user (the rest: 4005).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol import CloseCode
from tests.e2e.cluster import StreamClient, cluster
from tests.e2e.harness import ServerProcess, body, client, recv_json, tag

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


async def _hold_connection(server: ServerProcess, stop: asyncio.Event) -> int:
    """Connect as alice: 0 if welcomed (held until ``stop``), else the close code."""
    async with contextlib.AsyncExitStack() as stack:
        websocket = await stack.enter_async_context(client(server, "alice"))
        try:
            assert tag(await recv_json(websocket)) == "connection_established"
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1
        await stop.wait()
        return 0


async def test__concurrent_handshakes_on_two_nodes__connections_per_user_capped(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    env = {"AGENTSOCKET_MAX_CONNECTIONS_PER_USER": "3"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        stop = asyncio.Event()
        held = [
            asyncio.create_task(_hold_connection(node, stop))
            for node in nodes.gateways
            for _ in range(3)
        ]
        try:
            done: set[asyncio.Task[int]] = set()
            async with asyncio.timeout(15):  # generous: the refusals come at handshake
                while len(done) < 3:
                    finished, _ = await asyncio.wait(held, return_when=asyncio.FIRST_COMPLETED)
                    done |= finished
                    await asyncio.sleep(0.2)  # a fourth refusal or success would show here too
                done = {task for task in held if task.done()}
            refusals = [task.result() for task in done]
            assert refusals == [CloseCode.TOO_MANY_CONNECTIONS] * 3, refusals
            assert await nodes.redis.zcard(f"{nodes.prefix}:conns:alice") == 3
        finally:
            stop.set()
            results = await asyncio.gather(*held, return_exceptions=True)
        assert results.count(0) == 3, results
        # Closed connections give their leases back: alice may connect again.
        await asyncio.sleep(0.5)
        assert await nodes.redis.zcard(f"{nodes.prefix}:conns:alice") == 0
        assert await _hold_connection(nodes.gateways[1], stop) == 0
