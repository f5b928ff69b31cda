"""Double-texting: a second message for a thread whose run is still going.

Two devices of one user send to the same thread 10 ms apart, on one gateway
(SQLite, memory broker) and on two real gateway nodes sharing Redis and
PostgreSQL (``RUNS=local``: each node runs its own runs, so the policy and
an interrupt's cancel must cross nodes). Every test asserts exactly which
runs ran, which were refused or cancelled, and in which order, from the
user's stream as both devices saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentsocket.store import Store
from tests.e2e.cluster import StreamClient, cluster
from tests.e2e.harness import ServerProcess, body, run_server, tag

pytestmark = [pytest.mark.e2e]

#: The demo agent's ``slow`` word: its ``sleep`` tool waits 5 s (a run that is surely going).
SLOW_PROMPT = "be slow about it"
#: About a second of streamed text (the demo agent waits 10 ms between chunks).
LONG_PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 13)) + "?"
TERMINAL = ("agent_completed", "agent_error", "agent_cancelled")
GAP_SECONDS = 0.010


@dataclass
class Devices:
    """Two connections of one user (on two nodes, or on the one node)."""

    first: StreamClient
    second: StreamClient


@contextlib.asynccontextmanager
async def gateways(request: pytest.FixtureRequest, tmp: Path) -> AsyncIterator[list[ServerProcess]]:
    """One gateway (SQLite, memory broker), or two nodes on Redis and PostgreSQL running
    the runs themselves (``RUNS=local``) or on a worker (``RUNS=queue``)."""
    if request.param == "single_node":
        with run_server(tmp) as server:
            yield [server]
        return
    redis_url = request.getfixturevalue("redis_url")
    postgres_url = request.getfixturevalue("postgres_url")
    queue = request.param == "two_nodes_queue"
    env = {"AGENTSOCKET_RUNS": "queue" if queue else "local"}
    workers = 1 if queue else 0
    async with cluster(tmp, redis_url, postgres_url, gateways=2, workers=workers, env=env) as nodes:
        yield list(nodes.gateways)


@pytest.fixture(
    params=[
        "single_node",
        pytest.param("two_nodes", marks=[pytest.mark.redis, pytest.mark.postgres]),
        # The runs on a worker: it frees the thread and queues the next run.
        pytest.param("two_nodes_queue", marks=[pytest.mark.redis, pytest.mark.postgres]),
    ]
)
async def devices(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Devices]:
    user = f"dt-{uuid.uuid4().hex[:8]}"
    first, second = StreamClient(user), StreamClient(user)
    async with gateways(request, tmp_path) as servers:
        await first.connect(servers[0])
        await second.connect(servers[-1])
        try:
            yield Devices(first, second)
        finally:
            await first.close()
            await second.close()


async def new_thread(device: StreamClient) -> str:
    await device.send("create_thread", title="double texting")
    created = await device.wait_for(lambda f: tag(f) == "thread_created")
    return str(body(created)["thread"]["thread_id"])


async def answer(device: StreamClient, correlation_id: str) -> dict[str, Any]:
    """The direct answer (``message_received`` or ``error``) to one request."""
    return await device.wait_for(
        lambda f: (
            tag(f) in ("message_received", "error") and f.get("correlation_id") == correlation_id
        )
    )


async def send_two(
    devices: Devices, thread_id: str, first: str, second: str, **second_fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``first`` from one device, ``second`` from the other 10 ms later; both answers."""
    await devices.first.send(
        "user_message", content=first, thread_id=thread_id, correlation_id="m1"
    )
    await asyncio.sleep(GAP_SECONDS)
    await devices.second.send(
        "user_message", content=second, thread_id=thread_id, correlation_id="m2", **second_fields
    )
    return await answer(devices.first, "m1"), await answer(devices.second, "m2")


def run_events(device: StreamClient, thread_id: str) -> list[tuple[str, str]]:
    """(type, run id) of every root-run lifecycle event of the thread, in stream order."""
    seen = []
    for frame in device.stream:
        data = body(frame)
        kind = tag(frame)
        ours = data.get("thread_id") == thread_id and data.get("parent_run_id") is None
        if ours and kind in ("agent_started", *TERMINAL):
            seen.append((kind, str(data["run_id"])))
    return seen


async def wait_ended(device: StreamClient, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    return await device.wait_for(
        lambda f: tag(f) in TERMINAL and body(f).get("run_id") == run_id, timeout=timeout
    )


def same_stream(devices: Devices) -> None:
    """Both devices saw the same stream entries (the policy's outcome is everyone's)."""
    last = min(devices.first.last_seq, devices.second.last_seq)
    a = [f for f in devices.first.stream if int(f["seq"]) <= last]
    b = [f for f in devices.second.stream if int(f["seq"]) <= last]
    assert [f["seq"] for f in a] == [f["seq"] for f in b]
    assert [tag(f) for f in a] == [tag(f) for f in b]


async def test_enqueue_runs_the_second_message_after_the_first(devices: Devices) -> None:
    thread = await new_thread(devices.first)
    first, second = await send_two(devices, thread, LONG_PROMPT, "what is 2*3?")
    assert tag(first) == tag(second) == "message_received", (first, second)
    run1, run2 = str(body(first)["run_id"]), str(body(second)["run_id"])
    assert body(first)["queued"] is False
    assert body(second)["queued"] is True
    ended = await wait_ended(devices.second, run2)
    assert tag(ended) == "agent_completed"
    await wait_ended(devices.first, run2)
    # Strictly one after the other: the second starts only once the first has ended.
    assert run_events(devices.first, thread) == [
        ("agent_started", run1),
        ("agent_completed", run1),
        ("agent_started", run2),
        ("agent_completed", run2),
    ]
    same_stream(devices)


async def test_reject_refuses_the_second_message_and_names_the_running_run(
    devices: Devices,
) -> None:
    thread = await new_thread(devices.first)
    first, second = await send_two(
        devices, thread, SLOW_PROMPT, "are you done?", double_texting="reject"
    )
    assert tag(first) == "message_received"
    run1 = str(body(first)["run_id"])
    assert tag(second) == "error", second
    assert body(second)["code"] == "conflict"
    assert body(second)["run_id"] == run1
    # Nothing of the refused message was stored: the thread holds only the first.
    await devices.second.send("get_thread_history", thread_id=thread, correlation_id="h")
    history = await devices.second.wait_for(lambda f: f.get("correlation_id") == "h")
    user_texts = [m["content"] for m in body(history)["messages"] if m["role"] == "user"]
    assert user_texts == [SLOW_PROMPT]
    # Stopping the run frees the thread: the next message starts at once.
    await devices.second.send("stop_agent", run_id=run1)
    cancelled = await wait_ended(devices.second, run1)
    assert tag(cancelled) == "agent_cancelled"
    await devices.second.send(
        "user_message",
        content="what is 1*2?",
        thread_id=thread,
        correlation_id="m3",
        double_texting="reject",
    )
    third = await answer(devices.second, "m3")
    assert tag(third) == "message_received"
    assert body(third)["queued"] is False
    run3 = str(body(third)["run_id"])
    assert tag(await wait_ended(devices.first, run3)) == "agent_completed"
    assert run_events(devices.first, thread) == [
        ("agent_started", run1),
        ("agent_cancelled", run1),
        ("agent_started", run3),
        ("agent_completed", run3),
    ]
    same_stream(devices)


async def test_interrupt_cancels_the_running_run_and_starts_the_new_one(
    devices: Devices,
) -> None:
    thread = await new_thread(devices.first)
    first, second = await send_two(
        devices, thread, SLOW_PROMPT, "what is 2*3?", double_texting="interrupt"
    )
    assert tag(first) == tag(second) == "message_received", (first, second)
    run1, run2 = str(body(first)["run_id"]), str(body(second)["run_id"])
    assert body(second)["queued"] is True
    cancelled = await wait_ended(devices.first, run1, timeout=10.0)
    assert tag(cancelled) == "agent_cancelled"
    assert body(cancelled)["reason"] == "interrupted"
    assert tag(await wait_ended(devices.second, run2)) == "agent_completed"
    await wait_ended(devices.first, run2)
    assert run_events(devices.first, thread) == [
        ("agent_started", run1),
        ("agent_cancelled", run1),
        ("agent_started", run2),
        ("agent_completed", run2),
    ]
    same_stream(devices)


async def test_stop_of_a_waiting_run_cancels_it_and_the_line_goes_on(devices: Devices) -> None:
    thread = await new_thread(devices.first)
    first, second = await send_two(devices, thread, LONG_PROMPT, "what is 2*3?")
    await devices.first.send(
        "user_message", content="what is 3*4?", thread_id=thread, correlation_id="m3"
    )
    third = await answer(devices.first, "m3")
    run1, run2, run3 = (str(body(f)["run_id"]) for f in (first, second, third))
    assert body(third)["queued"] is True
    await devices.second.send("stop_agent", run_id=run2)
    stopped = await wait_ended(devices.first, run2)
    assert tag(stopped) == "agent_cancelled"
    assert body(stopped)["reason"] == "user_request"
    assert tag(await wait_ended(devices.first, run3)) == "agent_completed"
    assert run_events(devices.first, thread) == [
        ("agent_started", run1),
        ("agent_cancelled", run2),
        ("agent_completed", run1),
        ("agent_started", run3),
        ("agent_completed", run3),
    ]


async def test_gateway_policy_applies_to_v2_clients_and_bad_values_are_refused(
    tmp_path: Path,
) -> None:
    """A v2 client cannot choose: the gateway's setting (here ``reject``) applies to it,
    and a ``double_texting`` key it sends is not v2's and is left out."""
    with run_server(tmp_path, env={"AGENTSOCKET_DOUBLE_TEXTING": "reject"}) as server:
        v3, v2 = StreamClient("dt-v2"), StreamClient("dt-v2", version="v2")
        await v3.connect(server)
        await v2.connect(server)
        try:
            thread = await new_thread(v3)
            for correlation_id, value in (("b1", "maybe"), ("b2", 7), ("b3", ["enqueue"])):
                await v3.send(
                    "user_message",
                    content="hi",
                    thread_id=thread,
                    correlation_id=correlation_id,
                    double_texting=value,
                )
                refused = await answer(v3, correlation_id)
                assert body(refused)["code"] == "validation_failed"
                assert [e["path"] for e in body(refused)["errors"]] == ["$.data.double_texting"]
            await v3.send(
                "user_message", content=SLOW_PROMPT, thread_id=thread, correlation_id="m1"
            )
            run1 = str(body(await answer(v3, "m1"))["run_id"])
            await v2.send(
                "user_message",
                content="and now?",
                thread_id=thread,
                correlation_id="m2",
                double_texting="enqueue",
            )
            refused = await answer(v2, "m2")
            assert body(refused)["error_code"] == "conflict"
            assert "run_id" not in body(refused)
            assert run1 in body(refused)["error_message"]
            await v3.send("stop_agent", run_id=run1)
            assert tag(await wait_ended(v3, run1)) == "agent_cancelled"
        finally:
            await v3.close()
            await v2.close()


async def test_a_gateway_shutting_down_ends_the_waiting_runs_too(tmp_path: Path) -> None:
    """SIGTERM with a run going and two waiting behind it: the running one ends
    ``shutdown`` as before, and the waiting ones are not left ``running`` forever."""
    with run_server(tmp_path) as server:
        device = StreamClient("dt-shutdown")
        await device.connect(server)
        try:
            thread = await new_thread(device)
            run_ids = []
            for n, prompt in enumerate((SLOW_PROMPT, "what is 1*2?", "what is 2*3?")):
                await device.send(
                    "user_message", content=prompt, thread_id=thread, correlation_id=f"m{n}"
                )
                run_ids.append(str(body(await answer(device, f"m{n}"))["run_id"]))
            await device.wait_for(
                lambda f: tag(f) == "tool_executing" and body(f)["run_id"] == run_ids[0]
            )
        finally:
            await device.close()
        # uvicorn ends by re-raising the signal once it has shut down cleanly.
        assert server.stop() in (0, -signal.SIGTERM)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}")
    try:
        runs = [await store.get_run("dt-shutdown", run_id) for run_id in run_ids]
    finally:
        await store.close()
    assert [run.status for run in runs] == ["cancelled", "cancelled", "cancelled"]


async def test_a_full_line_refuses_the_message_and_stores_nothing(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_DOUBLE_TEXTING_QUEUE_DEPTH": "1"}
    with run_server(tmp_path, env=env) as server:
        device = StreamClient("dt-full")
        await device.connect(server)
        try:
            thread = await new_thread(device)
            answers = []
            for n, prompt in enumerate((SLOW_PROMPT, "one", "two")):
                await device.send(
                    "user_message", content=prompt, thread_id=thread, correlation_id=f"m{n}"
                )
                answers.append(await answer(device, f"m{n}"))
            running, waiting, refused = answers
            assert body(waiting)["queued"] is True
            assert tag(refused) == "error"
            assert body(refused)["code"] == "conflict"
            assert body(refused)["run_id"] == body(running)["run_id"]
            assert "1 messages waiting" in body(refused)["message"]
            await device.send("get_thread_history", thread_id=thread, correlation_id="h")
            history = await device.wait_for(lambda f: f.get("correlation_id") == "h")
            contents = [m["content"] for m in body(history)["messages"] if m["role"] == "user"]
            assert contents == [SLOW_PROMPT, "one"]
            await device.send("stop_agent", run_id=body(running)["run_id"])
            ended = await wait_ended(device, str(body(waiting)["run_id"]))
            assert tag(ended) == "agent_completed"
        finally:
            await device.close()


@pytest.mark.redis
@pytest.mark.postgres
async def test_a_node_killed_mid_run__the_surviving_node_starts_the_waiting_run_after_its_end(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """``kill -9`` the node running the thread's run: another node's reaper ends it
    (``gateway_lost``) and then starts the run waiting behind it, in that order."""
    env = {"AGENTSOCKET_RUNS": "local", "AGENTSOCKET_NODE_TTL": "2"}
    async with cluster(tmp_path, redis_url, postgres_url, workers=0, env=env) as nodes:
        node_a, node_b = nodes.gateways
        on_a, on_b = StreamClient("dt-crash"), StreamClient("dt-crash")
        try:
            await on_a.connect(node_a)
            await on_b.connect(node_b)
            thread = await new_thread(on_a)
            await on_a.send(
                "user_message", content=SLOW_PROMPT, thread_id=thread, correlation_id="m1"
            )
            run1 = str(body(await answer(on_a, "m1"))["run_id"])
            await on_b.send(
                "user_message", content="what is 6*7?", thread_id=thread, correlation_id="m2"
            )
            second = await answer(on_b, "m2")
            assert body(second)["queued"] is True
            run2 = str(body(second)["run_id"])
            await on_b.wait_for(lambda f: tag(f) == "tool_executing" and body(f)["run_id"] == run1)

            node_a.process.kill()
            node_a.process.wait()
            lost = await wait_ended(on_b, run1, timeout=20)
            assert (tag(lost), body(lost)["code"]) == ("agent_error", "gateway_lost")
            assert tag(await wait_ended(on_b, run2)) == "agent_completed"
            assert run_events(on_b, thread) == [
                ("agent_started", run1),
                ("agent_error", run1),
                ("agent_started", run2),
                ("agent_completed", run2),
            ]
        finally:
            await on_a.close()
            await on_b.close()
