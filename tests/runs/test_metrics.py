"""Run metrics read off a real Runner's events: exact counts, and labels from fixed sets only."""

from __future__ import annotations

import asyncio
import time

import orjson
from prometheus_client import CollectorRegistry

from agentsocket.agents import DemoAgent, ListSink, RunContext, Runner, Tool
from agentsocket.delivery.run_queue import RunRequest, decode_request
from agentsocket.protocol.server_messages import AgentEvent, ToolApprovalRequired
from agentsocket.runs.metrics import OTHER, RunMetrics, RunObserver, declared_tools


def _add(a: int, b: int) -> int:
    return a + b


ADD = Tool("add", "Add two numbers.", {"type": "object"}, _add)
PUBLISH = Tool("publish", "Needs approval.", {"type": "object"}, _add, requires_approval=True)


class Scripted:
    """Calls a declared tool, a tool named by the prompt, asks an approval, streams 3 tokens."""

    name = "scripted"
    tools = (ADD, PUBLISH)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.tool(ADD, {"a": 1, "b": 2})
        await ctx.tool(prompt, {})
        await ctx.tool(PUBLISH, {"a": 1, "b": 1})
        async with ctx.message() as message:
            for piece in ("one ", "two ", "three"):
                await asyncio.sleep(0.001)
                await message.write(piece)


class AskingSink(ListSink):
    """A ListSink that tells when an approval is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()

    async def emit(self, event: AgentEvent) -> None:
        await super().emit(event)
        if isinstance(event, ToolApprovalRequired):
            self.asked.set()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def _approve_when_asked(runner: Runner, sink: AskingSink, approved: bool) -> None:
    await asyncio.wait_for(sink.asked.wait(), 10)
    asked = sink.of_type(ToolApprovalRequired)[0]
    assert runner.running_count("u") == 1
    assert runner.resolve_approval(asked.run_id, asked.tool_call_id, approved)


async def test__scripted_run__every_run_metric_moves_by_the_expected_amount() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [Scripted()])
    runner, sink = Runner(), AskingSink()
    request = RunRequest("run_1", "u", "t", "scripted", "evil_tool", accepted_at=time.time())
    handle = runner.start("u", "t", Scripted(), "evil_tool", "run_1", observer.watch(request, sink))
    await _approve_when_asked(runner, sink, approved=True)
    outcome = await handle.wait()
    assert outcome.status == "completed"

    agent = {"agent": "scripted"}
    assert value(registry, "agentsocket_run_first_event_seconds_count", **agent) == 1
    assert value(registry, "agentsocket_run_first_token_seconds_count", **agent) == 1
    assert (
        value(registry, "agentsocket_run_duration_seconds_count", **agent, outcome="completed") == 1
    )
    assert value(registry, "agentsocket_runs_in_progress", **agent) == 0
    assert value(registry, "agentsocket_run_output_tokens_total", **agent) == 3
    assert value(registry, "agentsocket_run_output_characters_total", **agent) == 13
    assert value(registry, "agentsocket_run_tokens_per_second_count", **agent) == 1
    tools = "agentsocket_tool_duration_seconds_count"
    assert value(registry, tools, tool="add", outcome="success") == 1
    assert value(registry, tools, tool="publish", outcome="success") == 1
    assert value(registry, tools, tool=OTHER, outcome="error") == 1  # the prompt's tool name
    assert value(registry, tools, tool="evil_tool", outcome="error") == 0
    assert value(registry, "agentsocket_approval_wait_seconds_count", decision="approved") == 1
    assert "evil_tool" not in _label_values(registry)


async def test__approval_denied__denied_tool_and_decision_counted() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [Scripted()])
    runner, sink = Runner(), AskingSink()
    request = RunRequest("run_2", "u", "t", "scripted", "add")
    handle = runner.start("u", "t", Scripted(), "add", "run_2", observer.watch(request, sink))
    await _approve_when_asked(runner, sink, approved=False)
    await handle.wait()
    tools = "agentsocket_tool_duration_seconds_count"
    assert value(registry, tools, tool="add", outcome="success") == 1
    # The prompt named a declared tool (called without its arguments): its own label.
    assert value(registry, tools, tool="add", outcome="error") == 1
    assert value(registry, tools, tool="publish", outcome="denied") == 1
    assert value(registry, "agentsocket_approval_wait_seconds_count", decision="denied") == 1
    # No accepted_at (a run started by other code): nothing measured from it.
    assert value(registry, "agentsocket_run_first_event_seconds_count", agent="scripted") == 0


async def test__cancelled_while_waiting_for_approval__approval_ended_and_run_cancelled() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [Scripted()])
    runner, sink = Runner(), AskingSink()
    request = RunRequest("run_3", "u", "t", "scripted", "x", accepted_at=time.time())
    handle = runner.start("u", "t", Scripted(), "x", "run_3", observer.watch(request, sink))
    await asyncio.wait_for(sink.asked.wait(), 10)
    assert value(registry, "agentsocket_approvals_pending") == 1
    assert value(registry, "agentsocket_runs_in_progress", agent="scripted") == 1
    assert runner.cancel("run_3")
    await handle.wait()
    assert value(registry, "agentsocket_approvals_pending") == 0
    assert value(registry, "agentsocket_approval_wait_seconds_count", decision="ended") == 1
    assert value(registry, "agentsocket_runs_in_progress", agent="scripted") == 0
    duration = "agentsocket_run_duration_seconds_count"
    assert value(registry, duration, agent="scripted", outcome="cancelled") == 1
    assert value(registry, "agentsocket_run_first_token_seconds_count", agent="scripted") == 0


async def test__agent_not_in_the_set__labelled_other() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [DemoAgent()])
    sink = ListSink()
    request = RunRequest("run_4", "u", "t", "scripted", "hi", accepted_at=time.time())
    runner = Runner(approval_timeout=0.01)  # nobody answers: denied at once
    await runner.start("u", "t", Scripted(), "y", "run_4", observer.watch(request, sink)).wait()
    assert value(registry, "agentsocket_run_first_event_seconds_count", agent=OTHER) == 1
    assert "scripted" not in _label_values(registry)


async def test__failing_agent__error_counted_by_its_code() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [DemoAgent()])
    request = RunRequest("run_5", "u", "t", "demo", "please fail")
    run = Runner().start(
        "u", "t", DemoAgent(), "please fail", "run_5", observer.watch(request, ListSink())
    )
    assert (await run.wait()).status == "error"
    labels = {"agent": "demo", "code": "agent_failed"}
    assert value(registry, "agentsocket_run_errors_total", **labels) == 1


def test__queue_wait__observed_from_queued_at() -> None:
    registry = CollectorRegistry()
    observer = RunObserver(RunMetrics(registry), [DemoAgent()])
    observer.dequeued(RunRequest("r", "u", "t", "demo", "p", queued_at=time.time() - 2.0))
    observer.dequeued(RunRequest("r", "u", "t", "nope", "p"))  # no queued_at: not observed
    assert value(registry, "agentsocket_run_queue_wait_seconds_count", agent="demo") == 1
    assert value(registry, "agentsocket_run_queue_wait_seconds_sum", agent="demo") >= 2.0
    assert value(registry, "agentsocket_run_queue_wait_seconds_count", agent=OTHER) == 0


def test__declared_tools__the_agents_and_their_specialists_tools() -> None:
    names = declared_tools([DemoAgent()])
    assert {"sleep", "announce", "calculate", "convert_base", "convert_units", "now"} <= names


def test__run_request__decodes_with_fields_a_newer_gateway_added() -> None:
    raw = orjson.dumps(
        {
            "run_id": "r",
            "user_id": "u",
            "thread_id": "t",
            "agent": "a",
            "prompt": "p",
            "accepted_at": 1.5,
            "a_field_of_the_future": "00-abc",
        }
    )
    request = decode_request({b"request": raw})
    assert request == RunRequest("r", "u", "t", "a", "p", accepted_at=1.5)
    old = orjson.dumps(
        {"run_id": "r", "user_id": "u", "thread_id": "t", "agent": "a", "prompt": "p"}
    )
    assert decode_request({b"request": old}).accepted_at is None


def _label_values(registry: CollectorRegistry) -> set[str]:
    return {v for family in registry.collect() for s in family.samples for v in s.labels.values()}


async def test__questions__pending_while_asked__answered_or_expired_by_resolution() -> None:
    registry = CollectorRegistry()
    demo = DemoAgent()
    observer = RunObserver(RunMetrics(registry), [demo])
    runner = Runner(approval_timeout=0.05)
    request = RunRequest("run_q", "u", "t", "demo", "survey")
    sink = observer.watch(request, ListSink())
    outcome = await runner.start("u", "t", demo, "survey", "run_q", sink).wait()

    assert outcome.text == "No answer came, so no rating."
    assert value(registry, "agentsocket_approvals_pending") == 0
    wait = "agentsocket_approval_wait_seconds_count"
    assert value(registry, wait, decision="expired") == 1
    assert value(registry, wait, decision="ended") == 0
