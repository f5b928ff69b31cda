"""Tests of agentsocket.agents.runner: the run lifecycle and its ordering guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from agentsocket.agents import (
    AgentFailure,
    ListSink,
    RunContext,
    Runner,
    RunOutcome,
    Tool,
)
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentCompleted,
    AgentError,
    AgentEvent,
    AgentMessageDelta,
    AgentThinking,
    ToolApprovalRequired,
    ToolExecuting,
)
from tests.agents.helpers import FuncAgent, assert_well_formed, wait_for_event

SAFETY = 10.0  # seconds; a safety net against hangs, never a performance threshold


async def _sleep_tool(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


SLEEPY = Tool("sleepy", "Sleep.", {"type": "object"}, _sleep_tool)


async def _finish(runner: Runner, run_id: str) -> RunOutcome:
    async with asyncio.timeout(SAFETY):
        return await runner.wait(run_id)


async def test__simple_run__started_first_and_completed_last() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("thinking about " + prompt)
        await ctx.say("hi there")

    runner, sink = Runner(), ListSink()
    handle = runner.start("u1", "t1", FuncAgent("echo", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")

    assert sink.types() == [
        "agent_started",
        "agent_thinking",
        "agent_message_delta",
        "agent_message",
        "agent_completed",
    ]
    assert all(
        (e.run_id, e.thread_id, e.agent_name, e.parent_run_id) == ("run_a", "t1", "echo", None)
        for e in sink.events
    )
    assert outcome.status == "completed"
    assert outcome.text == "hi there"
    assert (outcome.user_id, outcome.thread_id, outcome.agent_name) == ("u1", "t1", "echo")
    assert outcome.error_code is None
    assert handle.done()
    assert (handle.run_id, handle.user_id, handle.thread_id, handle.agent_name) == (
        "run_a",
        "u1",
        "t1",
        "echo",
    )


async def test__agent_raises__agent_error_agent_failed_not_retryable() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("about to break")
        raise KeyError("boom")

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("broken", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")

    assert sink.types() == ["agent_started", "agent_thinking", "agent_error"]
    error = sink.of_type(AgentError)[0]
    assert error.code == AgentErrorCode.AGENT_FAILED
    assert error.retryable is False
    assert "KeyError" in error.message
    assert "boom" in error.message
    assert (outcome.status, outcome.error_code, outcome.retryable) == (
        "error",
        "agent_failed",
        False,
    )


async def test__agent_failure__its_code_message_and_retryable_are_used() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        raise AgentFailure(AgentErrorCode.UPSTREAM_RATE_LIMITED, "slow down", retryable=True)

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")

    error = sink.of_type(AgentError)[0]
    assert (error.code, error.message, error.retryable) == (
        "upstream_rate_limited",
        "slow down",
        True,
    )
    assert (outcome.error_code, outcome.error_message, outcome.retryable) == (
        "upstream_rate_limited",
        "slow down",
        True,
    )


async def test__run_exceeds_timeout__agent_error_timeout_retryable() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("waiting forever")
        await asyncio.sleep(SAFETY * 2)

    runner, sink = Runner(timeout=0.05), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")

    assert sink.types() == ["agent_started", "agent_thinking", "agent_error"]
    error = sink.of_type(AgentError)[0]
    assert (error.code, error.retryable) == ("timeout", True)
    assert outcome.status == "error"
    assert outcome.error_code == "timeout"


async def test__per_run_timeout__overrides_the_runners() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await asyncio.sleep(SAFETY * 2)

    runner, sink = Runner(timeout=None), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink, timeout=0.05)
    outcome = await _finish(runner, "run_a")
    assert outcome.error_code == "timeout"


async def test__timeout_during_sub_run__both_runs_end_with_timeout() -> None:
    async def slow(ctx: RunContext, prompt: str) -> None:
        await asyncio.sleep(SAFETY * 2)

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.delegate(FuncAgent("child", slow), prompt)

    runner, sink = Runner(timeout=0.05), ListSink()
    runner.start("u1", "t1", FuncAgent("parent", parent), "x", "run_a", sink)
    await _finish(runner, "run_a")

    assert_well_formed(sink.events)
    errors = sink.of_type(AgentError)
    assert [(e.agent_name, e.code) for e in errors] == [("child", "timeout"), ("parent", "timeout")]


async def test__cancel_mid_async_tool__nothing_after_agent_cancelled() -> None:
    may_finish = asyncio.Event()

    async def wait_until_allowed() -> str:
        await may_finish.wait()
        return "finished"

    tool = Tool("gated", "Waits until allowed.", {"type": "object"}, wait_until_allowed)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool)
        await ctx.say("should never be said")

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    await wait_for_event(sink, ToolExecuting)

    assert runner.cancel("run_a") is True
    outcome = await _finish(runner, "run_a")
    may_finish.set()  # the tool would now complete, had the run not been cancelled
    await asyncio.sleep(0.05)

    assert sink.types() == ["agent_started", "tool_executing", "agent_cancelled"]
    assert sink.of_type(AgentCancelled)[0].reason == "user_request"
    assert outcome.status == "cancelled"
    assert outcome.reason == "user_request"


async def test__cancel_mid_thread_tool__its_late_result_emits_nothing() -> None:
    release, finished = threading.Event(), threading.Event()

    def blocking() -> str:
        release.wait(SAFETY)
        finished.set()
        return "done"

    tool = Tool("blocking", "Block a thread.", {"type": "object"}, blocking)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool)
        await ctx.say("should never be said")

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    await wait_for_event(sink, ToolExecuting)
    runner.cancel("run_a")
    await _finish(runner, "run_a")

    release.set()  # the thread now returns its result to nobody
    assert await asyncio.to_thread(finished.wait, SAFETY)
    await asyncio.sleep(0.05)

    assert sink.types() == ["agent_started", "tool_executing", "agent_cancelled"]


async def test__cancel_pending_approval__no_event_later_and_approval_is_gone() -> None:
    ran = threading.Event()
    tool = Tool("guarded", "Needs approval.", {"type": "object"}, ran.set, requires_approval=True)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool)

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    runner.cancel("run_a")
    await _finish(runner, "run_a")

    assert runner.resolve_approval("run_a", request.tool_call_id, True) is False
    await asyncio.sleep(0.05)
    assert sink.types() == ["agent_started", "tool_approval_required", "agent_cancelled"]
    assert not ran.is_set()


async def test__cancel_during_sub_run__sub_run_cancelled_before_parent() -> None:
    async def child(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(SLEEPY, {"seconds": SAFETY})

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.delegate(FuncAgent("child", child), prompt)
        await ctx.say("never")

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("parent", parent), "x", "run_a", sink)
    await wait_for_event(sink, ToolExecuting)
    runner.cancel("run_a", reason="stop_button")
    await _finish(runner, "run_a")

    assert_well_formed(sink.events)
    assert [(e.agent_name, e.TYPE) for e in sink.events] == [
        ("parent", "agent_started"),
        ("child", "agent_started"),
        ("child", "tool_executing"),
        ("child", "agent_cancelled"),
        ("parent", "agent_cancelled"),
    ]
    assert {e.reason for e in sink.of_type(AgentCancelled)} == {"stop_button"}


async def test__cancel_before_the_task_runs__started_then_cancelled() -> None:
    ran = False

    async def run(ctx: RunContext, prompt: str) -> None:
        nonlocal ran
        ran = True

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    assert runner.cancel("run_a") is True
    outcome = await _finish(runner, "run_a")

    assert sink.types() == ["agent_started", "agent_cancelled"]
    assert outcome.status == "cancelled"
    assert ran is False


async def test__cancel__unknown_other_users_or_finished_run__false() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await asyncio.sleep(SAFETY)

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    assert runner.cancel("run_nope") is False
    assert runner.cancel("run_a", user_id="u2") is False
    assert runner.cancel("run_a", user_id="u1") is True
    assert runner.cancel("run_a") is True  # already being cancelled: still fine
    await _finish(runner, "run_a")
    assert runner.cancel("run_a") is False
    assert sink.types().count("agent_cancelled") == 1


async def test__cancel_while_event_is_in_the_sink__event_is_delivered_whole() -> None:
    class SlowSink(ListSink):
        def __init__(self) -> None:
            super().__init__()
            self.entered = asyncio.Event()

        async def emit(self, event: AgentEvent) -> None:
            if isinstance(event, AgentThinking):
                self.entered.set()
                await asyncio.sleep(0.05)
            await super().emit(event)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("first")
        await asyncio.sleep(SAFETY)

    runner, sink = Runner(), SlowSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    async with asyncio.timeout(SAFETY):
        await sink.entered.wait()
    runner.cancel("run_a")
    await _finish(runner, "run_a")

    assert sink.types() == ["agent_started", "agent_thinking", "agent_cancelled"]


async def test__agent_ignores_cancellation__run_ends_after_grace_and_later_events_drop() -> None:
    went_on = asyncio.Event()

    async def stubborn(ctx: RunContext, prompt: str) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # misbehaving on purpose
            await asyncio.sleep(SAFETY)
        await asyncio.sleep(0.1)
        await ctx.think("still here")
        went_on.set()

    runner, sink = Runner(cancel_grace=0.02), ListSink()
    runner.start("u1", "t1", FuncAgent("a", stubborn), "x", "run_a", sink)
    await asyncio.sleep(0.01)
    runner.cancel("run_a")
    outcome = await _finish(runner, "run_a")
    async with asyncio.timeout(SAFETY):
        await went_on.wait()

    assert outcome.status == "cancelled"
    assert sink.types() == ["agent_started", "agent_cancelled"]


async def test__on_finish__gets_the_outcome_before_the_terminal_event() -> None:
    seen: list[tuple[RunOutcome, list[str]]] = []
    sink = ListSink()

    async def on_finish(outcome: RunOutcome) -> None:
        seen.append((outcome, sink.types()))

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.say("the answer")

    runner = Runner(on_finish=on_finish)
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    await _finish(runner, "run_a")

    [(outcome, types_then)] = seen
    assert types_then == ["agent_started", "agent_message_delta", "agent_message"]
    assert sink.types()[-1] == "agent_completed"
    assert (outcome.run_id, outcome.status, outcome.text) == ("run_a", "completed", "the answer")


async def test__on_finish_raises__terminal_event_still_emitted() -> None:
    async def on_finish(outcome: RunOutcome) -> None:
        raise RuntimeError("database down")

    async def run(ctx: RunContext, prompt: str) -> None:
        raise AgentFailure(AgentErrorCode.UPSTREAM_ERROR, "nope")

    runner, sink = Runner(on_finish=on_finish), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")
    assert sink.types() == ["agent_started", "agent_error"]
    assert outcome.error_code == "upstream_error"


async def test__on_finish_for_cancelled_run__has_partial_text_and_reason() -> None:
    outcomes: list[RunOutcome] = []

    async def on_finish(outcome: RunOutcome) -> None:
        outcomes.append(outcome)

    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.message() as message:
            await message.write("partial ")
            await asyncio.sleep(SAFETY)

    runner, sink = Runner(on_finish=on_finish), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    await wait_for_event(sink, AgentMessageDelta)
    runner.cancel("run_a")
    await _finish(runner, "run_a")
    assert [(o.status, o.reason, o.text) for o in outcomes] == [
        ("cancelled", "user_request", "partial ")
    ]


async def test__running_count__counts_a_users_runs_until_they_end() -> None:
    gate = asyncio.Event()

    async def run(ctx: RunContext, prompt: str) -> None:
        await gate.wait()

    runner = Runner()
    for run_id, user in (("run_1", "alice"), ("run_2", "alice"), ("run_3", "bob")):
        runner.start(user, "t", FuncAgent("a", run), "x", run_id, ListSink())
    assert (runner.running_count("alice"), runner.running_count("bob")) == (2, 1)
    assert runner.running_count("carol") == 0
    assert runner.get("run_1") is not None

    gate.set()
    for run_id in ("run_1", "run_2", "run_3"):
        await _finish(runner, run_id)
    assert runner.running_count("alice") == 0
    assert runner.get("run_1") is None


async def test__wait__after_the_run_ended_returns_its_outcome() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.say("ok")

    runner = Runner()
    handle = runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", ListSink())
    first = await handle.wait()
    assert await runner.wait("run_a") == first
    with pytest.raises(KeyError):
        await runner.wait("run_unknown")


async def test__start__id_of_a_running_run__value_error() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await asyncio.sleep(SAFETY)

    runner = Runner()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", ListSink())
    with pytest.raises(ValueError, match="already running"):
        runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", ListSink())
    await runner.shutdown()


async def test__shutdown__cancels_every_run_with_the_reason() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await asyncio.sleep(SAFETY)

    runner, sink = Runner(), ListSink()
    for run_id in ("run_1", "run_2"):
        runner.start("u1", "t1", FuncAgent("a", run), "x", run_id, sink)
    await asyncio.sleep(0)
    async with asyncio.timeout(SAFETY):
        await runner.shutdown("server_restart")

    cancelled = sink.of_type(AgentCancelled)
    assert sorted(e.run_id for e in cancelled) == ["run_1", "run_2"]
    assert {e.reason for e in cancelled} == {"server_restart"}
    assert runner.running_count("u1") == 0


async def test__sink_fails_mid_run__run_ends_with_agent_error() -> None:
    class PickySink(ListSink):
        async def emit(self, event: AgentEvent) -> None:
            if isinstance(event, AgentThinking):
                raise ConnectionError("broker gone")
            await super().emit(event)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("hello")

    runner, sink = Runner(), PickySink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    outcome = await _finish(runner, "run_a")
    assert sink.types() == ["agent_started", "agent_error"]
    assert outcome.error_message is not None
    assert "broker gone" in outcome.error_message


async def test__sink_refuses_agent_started__no_events_and_outcome_is_error() -> None:
    class ClosedSink(ListSink):
        async def emit(self, event: AgentEvent) -> None:
            raise ConnectionError("closed")

    ran = False

    async def run(ctx: RunContext, prompt: str) -> None:
        nonlocal ran
        ran = True

    runner = Runner()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", ClosedSink())
    outcome = await _finish(runner, "run_a")
    assert outcome.status == "error"
    assert ran is False


async def test__completed_event__carries_a_duration() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.think("x")

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", FuncAgent("a", run), "x", "run_a", sink)
    await _finish(runner, "run_a")
    assert sink.of_type(AgentCompleted)[0].duration_ms >= 0
