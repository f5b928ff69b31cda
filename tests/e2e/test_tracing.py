"""One trace per run in queue mode: gateway → queue → worker → agent → tool, over real OTLP.

A real gateway and a real worker (subprocesses, Redis, PostgreSQL) export over
OTLP/HTTP to a receiver this test serves (tests/e2e/otlp.py); their JSON log
lines carry the run's trace id. A client-sent ``traceparent`` becomes the
parent of the gateway's span; a malformed one is refused with its field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentsocket.client import connect
from agentsocket.protocol.server_messages import AgentCompleted
from tests.e2e.cluster import Cluster, StreamClient, cluster
from tests.e2e.harness import body, run_server, tag
from tests.e2e.otlp import ReceivedSpan, Receiver, otlp_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

AGENTS = """
from agentsocket.agents import Tool


async def add(a: int, b: int) -> int:
    return a + b


class Calc:
    name = "calc"
    tools = (Tool("add", "Adds two integers.", {"type": "object"}, add),)

    async def run(self, ctx, prompt):
        result = await ctx.tool("add", {"a": 2, "b": 3})
        await ctx.say(f"2 + 3 = {result.value}")
"""

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
#: The span kinds of OTLP's enum.
SERVER, PRODUCER, CONSUMER, INTERNAL = 2, 4, 5, 1


@pytest.fixture
async def traced(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> AsyncIterator[tuple[Cluster, Receiver]]:
    (tmp_path / "traced_agents.py").write_text(AGENTS)
    with otlp_receiver() as receiver:
        async with cluster(
            tmp_path,
            redis_url,
            postgres_url,
            gateways=1,
            workers=1,
            env={
                "PYTHONPATH": str(tmp_path),
                "AGENTSOCKET_AGENTS": "traced_agents:Calc",
                "AGENTSOCKET_LOG_JSON": "true",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                # Nothing is exported on the timer: stopping must export what was buffered.
                "OTEL_BSP_SCHEDULE_DELAY": "600000",
            },
        ) as nodes:
            yield nodes, receiver


async def _run(client: StreamClient, **data: Any) -> str:
    start = len(client.frames)
    await client.send("user_message", **data)
    ack = body(await client.wait_for(lambda f: tag(f) == "message_received", start=start))
    run_id = str(ack["run_id"])
    assert tag(await client.wait_terminal(run_id)) == "agent_completed"
    return run_id


def _chain(spans: list[ReceivedSpan], run_id: str) -> list[ReceivedSpan]:
    """The run's spans from the gateway's accept down to the tool, following parents."""
    (accept,) = [
        s
        for s in spans
        if s.name == "agentsocket.user_message" and s.attributes.get("agentsocket.run_id") == run_id
    ]
    chain = [accept]
    for name in (
        "agentsocket.queue.enqueue",
        "agentsocket.worker.run",
        "invoke_agent calc",
        "execute_tool add",
    ):
        (child,) = [s for s in spans if s.name == name and s.parent_span_id == chain[-1].span_id]
        chain.append(child)
    return chain


def _complete(run_id: str) -> Any:
    def done(spans: list[ReceivedSpan]) -> bool:
        try:
            chain = _chain(spans, run_id)
        except ValueError:
            return False
        return any(
            s.name == "agentsocket.store.end_run" and s.trace_id == chain[0].trace_id for s in spans
        )

    return done


def _json_lines(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


async def test__a_queued_run_is_one_trace_from_gateway_to_tool_in_both_logs(
    traced: tuple[Cluster, Receiver],
) -> None:
    nodes, receiver = traced
    alice = StreamClient("alice")
    try:
        await alice.connect(nodes.gateways[0])
        own = await _run(alice, content="add")
        # The SDK carries the caller's traceparent.
        node = nodes.gateways[0]
        async with connect(node.ws, token=node.token("alice")) as sdk:
            received = await sdk.send_message(
                "add again", traceparent=f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
            )
            last = [event async for event in sdk.events(received.run_id)][-1]
        assert isinstance(last, AgentCompleted)
        joined = received.run_id
        start = len(alice.frames)
        await alice.send("user_message", content="x", traceparent=f"00-{'0' * 32}-{CLIENT_SPAN}-01")
        refused = body(await alice.wait_for(lambda f: tag(f) == "error", start=start))
    finally:
        await alice.close()

    assert refused["code"] == "validation_failed"
    assert [issue["path"] for issue in refused["errors"]] == ["$.data.traceparent"]

    assert receiver.spans() == []
    assert await nodes.stop_all() == []  # SIGTERM: both processes export on their way out
    spans = receiver.spans()
    assert _complete(own)(spans)
    assert _complete(joined)(spans)
    for run_id in (own, joined):
        chain = _chain(spans, run_id)
        trace_id = chain[0].trace_id
        assert [(s.service, s.kind) for s in chain] == [
            ("agentsocket-gateway", SERVER),
            ("agentsocket-gateway", PRODUCER),
            ("agentsocket-worker", CONSUMER),
            ("agentsocket-worker", INTERNAL),
            ("agentsocket-worker", INTERNAL),
        ]
        assert {s.trace_id for s in chain} == {trace_id}
        # The store writes are in the run's trace too: the accept's and the agent's children.
        (stored,) = [
            s
            for s in spans
            if s.name == "agentsocket.store.start_run" and s.parent_span_id == chain[0].span_id
        ]
        (ended,) = [
            s
            for s in spans
            if s.name == "agentsocket.store.end_run" and s.parent_span_id == chain[3].span_id
        ]
        assert stored.trace_id == ended.trace_id == trace_id
        assert chain[3].attributes["agentsocket.run.status"] == "completed"
        assert chain[4].attributes["gen_ai.tool.name"] == "add"
        # Every span of the trace is this run's: one trace per run.
        assert {
            s.attributes.get("agentsocket.run_id") for s in spans if s.trace_id == trace_id
        } <= {
            run_id,
            None,
        }

    own_chain, joined_chain = _chain(spans, own), _chain(spans, joined)
    assert own_chain[0].parent_span_id == ""  # a trace of its own
    assert own_chain[0].trace_id != CLIENT_TRACE
    assert (joined_chain[0].trace_id, joined_chain[0].parent_span_id) == (CLIENT_TRACE, CLIENT_SPAN)

    # The same trace id in both processes' log lines about the run.
    for run_id, trace_id in ((own, own_chain[0].trace_id), (joined, CLIENT_TRACE)):
        gateway = [
            line
            for line in _json_lines(nodes.gateways[0].log())
            if line.get("run_id") == run_id and line["message"] == "run accepted"
        ]
        worker = [
            line
            for line in _json_lines(nodes.workers[0].log())
            if line.get("run_id") == run_id and line["message"] == "run taken"
        ]
        assert [line["trace_id"] for line in gateway] == [trace_id]
        assert [line["trace_id"] for line in worker] == [trace_id]
        assert worker[0]["span_id"] == _chain(spans, run_id)[2].span_id


async def test__local_runs_are_traced_a_stopping_gateway_exports_them_client_parent_off(
    tmp_path: Path,
) -> None:
    (tmp_path / "traced_agents.py").write_text(AGENTS)
    with otlp_receiver() as receiver:
        with run_server(
            tmp_path,
            env={
                "PYTHONPATH": str(tmp_path),
                "AGENTSOCKET_AGENTS": "traced_agents:Calc",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                # Nothing is exported on the timer: only the flush at shutdown can send it.
                "OTEL_BSP_SCHEDULE_DELAY": "600000",
                "AGENTSOCKET_TRACE_CLIENT_PARENT": "false",
            },
        ) as server:
            alice = StreamClient("alice")
            try:
                await alice.connect(server)
                run_id = await _run(
                    alice, content="add", traceparent=f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
                )
            finally:
                await alice.close()
            assert receiver.spans() == []
            server.stop()  # SIGTERM; uvicorn then ends the process with it (exit handlers skipped)
        spans = receiver.spans()
    (accept,) = [s for s in spans if s.name == "agentsocket.user_message"]
    (agent,) = [s for s in spans if s.parent_span_id == accept.span_id and s.name.startswith("i")]
    (tool,) = [s for s in spans if s.parent_span_id == agent.span_id and s.name.startswith("e")]
    assert (agent.name, tool.name) == ("invoke_agent calc", "execute_tool add")
    assert accept.attributes["agentsocket.run_id"] == run_id
    assert {s.trace_id for s in spans} == {accept.trace_id}
    assert {s.service for s in spans} == {"agentsocket-gateway"}
    # The client's traceparent was not trusted: the run's trace is the gateway's own.
    assert (accept.parent_span_id, accept.trace_id != CLIENT_TRACE) == ("", True)
