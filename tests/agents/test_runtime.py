"""Tests of agentsocket.agents.runtime: what a RunContext turns into events."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentsocket.agents import (
    AgentFailure,
    ListSink,
    RunContext,
    Runner,
    RunOutcome,
    Tool,
    ToolContext,
    ToolResult,
    split_chunks,
)
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
    AgentMessage,
    AgentMessageDelta,
    AgentStarted,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
    Usage,
)
from tests.agents.helpers import FuncAgent, RunFunc, assert_well_formed, wait_for_event

SAFETY = 10.0
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


def _add(a: int, b: int) -> int:
    return a + b


ADD = Tool("add", "Add two numbers.", NO_ARGS, _add)


async def _run(
    func: RunFunc, runner: Runner | None = None, tools: tuple[Tool, ...] = ()
) -> tuple[ListSink, RunOutcome]:
    runner = runner or Runner()
    sink = ListSink()
    runner.start("u1", "t1", FuncAgent("agent", func, tools), "prompt", "run_a", sink)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    assert_well_formed(sink.events)
    return sink, outcome


# --- tools ---------------------------------------------------------------------


async def test__tool_success__executing_then_completed_with_result() -> None:
    results: list[ToolResult] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        results.append(await ctx.tool(ADD, {"a": 2, "b": 3}))

    sink, _ = await _run(run)

    executing, completed = sink.of_type(ToolExecuting)[0], sink.of_type(ToolCompleted)[0]
    assert sink.types() == ["agent_started", "tool_executing", "tool_completed", "agent_completed"]
    assert (executing.tool_name, executing.arguments) == ("add", {"a": 2, "b": 3})
    assert executing.tool_call_id.startswith("call_")
    assert completed.tool_call_id == executing.tool_call_id
    assert (completed.status, completed.result, completed.error) == ("success", 5, None)
    assert completed.duration_ms >= 0
    [result] = results
    assert (result.ok, result.value, result.error, result.tool_call_id) == (
        True,
        5,
        None,
        executing.tool_call_id,
    )


async def test__tool_raises__completed_error_and_the_run_goes_on() -> None:
    def broken() -> None:
        raise ValueError("bad input")

    results: list[ToolResult] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        results.append(await ctx.tool(Tool("broken", "Fails.", NO_ARGS, broken)))
        await ctx.say("recovered")

    sink, outcome = await _run(run)

    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.status, completed.error, completed.result) == ("error", "bad input", None)
    assert (results[0].ok, results[0].status, results[0].error) == (False, "error", "bad input")
    assert outcome.status == "completed"
    assert outcome.text == "recovered"


async def test__tool_raises_without_message__error_names_the_exception() -> None:
    async def broken() -> None:
        raise LookupError

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(Tool("broken", "Fails.", NO_ARGS, broken))

    sink, _ = await _run(run)
    assert sink.of_type(ToolCompleted)[0].error == "LookupError"


async def test__tool_called_with_wrong_arguments__completed_error() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(ADD, {"a": 1, "c": 2})

    sink, _ = await _run(run)
    completed = sink.of_type(ToolCompleted)[0]
    assert completed.status == "error"
    assert completed.error is not None
    assert "'c'" in completed.error


async def test__tool_by_name__found_in_agent_tools_then_runner_tools() -> None:
    def shout(text: str) -> str:
        return text.upper()

    runner = Runner(tools=[Tool("shout", "Upper case.", NO_ARGS, shout)])
    values: list[Any] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        values.append((await ctx.tool("add", {"a": 1, "b": 1})).value)
        values.append((await ctx.tool("shout", {"text": "hi"})).value)

    await _run(run, runner, tools=(ADD,))
    assert values == [2, "HI"]


async def test__unknown_tool_name__completed_error_and_run_goes_on() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        result = await ctx.tool("teleport", {"to": "mars"})
        assert not result.ok

    sink, outcome = await _run(run)
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.tool_name, completed.status) == ("teleport", "error")
    assert completed.error == "unknown tool 'teleport'"
    assert sink.of_type(ToolExecuting)[0].arguments == {"to": "mars"}
    assert outcome.status == "completed"


async def test__sync_tool__runs_in_a_worker_thread() -> None:
    def where() -> int:
        return threading.get_ident()

    idents: list[Any] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        idents.append((await ctx.tool(Tool("where", "Thread id.", NO_ARGS, where))).value)

    await _run(run)
    assert idents[0] != threading.get_ident()


async def test__context_tool__gets_the_runs_user_and_ids() -> None:
    def whoami(context: ToolContext, greeting: str) -> str:
        return f"{greeting} {context.user_id} {context.thread_id} {context.run_id}"

    tool = Tool("whoami", "Who am I.", NO_ARGS, whoami, takes_context=True)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool, {"greeting": "hello"})

    sink, _ = await _run(run)
    assert sink.of_type(ToolCompleted)[0].result == "hello u1 t1 run_a"


async def test__tool_result_not_json__event_has_its_repr_agent_gets_the_object() -> None:
    marker = object()
    got: list[Any] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        got.append((await ctx.tool(Tool("obj", "Object.", NO_ARGS, lambda: marker))).value)

    sink, _ = await _run(run)
    assert got == [marker]
    assert sink.of_type(ToolCompleted)[0].result == repr(marker)


def test__tool_with_invalid_name__value_error() -> None:
    with pytest.raises(ValueError, match="tool name"):
        Tool("no spaces", "x", NO_ARGS, _add)


# --- approvals -----------------------------------------------------------------


def _guarded(calls: list[str]) -> Tool:
    def act(what: str) -> str:
        calls.append(what)
        return f"did {what}"

    return Tool("act", "Does something.", NO_ARGS, act, requires_approval=True)


async def _approval_run(
    answer: tuple[bool, str | None] | None, runner: Runner | None = None
) -> tuple[ListSink, list[str], list[ToolResult]]:
    runner = runner or Runner()
    calls: list[str] = []
    results: list[ToolResult] = []
    tool = _guarded(calls)

    async def run(ctx: RunContext, prompt: str) -> None:
        results.append(await ctx.tool(tool, {"what": "it"}))

    sink = ListSink()
    runner.start("u1", "t1", FuncAgent("agent", run), "x", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    if answer is not None:
        assert runner.resolve_approval("run_a", request.tool_call_id, *answer) is True
        assert runner.resolve_approval("run_a", request.tool_call_id, *answer) is False
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    assert_well_formed(sink.events)
    return sink, calls, results


async def test__approval_granted__tool_runs_after_the_request() -> None:
    sink, calls, results = await _approval_run((True, None))

    assert sink.types() == [
        "agent_started",
        "tool_approval_required",
        "interrupt_resolved",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]
    request = sink.of_type(ToolApprovalRequired)[0]
    assert (request.tool_name, request.arguments, request.timeout_seconds) == (
        "act",
        {"what": "it"},
        120.0,
    )
    call_ids = {e.tool_call_id for e in sink.events if hasattr(e, "tool_call_id")}
    assert call_ids == {request.tool_call_id}
    assert calls == ["it"]
    assert results[0].ok
    assert results[0].value == "did it"


async def test__approval_denied__completed_denied_with_reason_and_tool_not_run() -> None:
    sink, calls, results = await _approval_run((False, "not today"))

    assert sink.types() == [
        "agent_started",
        "tool_approval_required",
        "interrupt_resolved",
        "tool_completed",
        "agent_completed",
    ]
    completed = sink.of_type(ToolCompleted)[0]
    assert (completed.status, completed.error) == ("denied", "not today")
    assert calls == []
    assert (results[0].status, results[0].error) == ("denied", "not today")


async def test__approval_denied_without_reason__default_reason() -> None:
    sink, _, _ = await _approval_run((False, None))
    assert sink.of_type(ToolCompleted)[0].error == "the user denied this tool call"


async def test__approval_times_out__denied_and_tool_not_run() -> None:
    sink, calls, _ = await _approval_run(None, Runner(approval_timeout=0.05))

    completed = sink.of_type(ToolCompleted)[0]
    assert completed.status == "denied"
    assert completed.error == "no approval within 0.05 seconds"
    assert sink.of_type(ToolApprovalRequired)[0].timeout_seconds == 0.05
    assert calls == []


async def test__approval_from_another_user__refused() -> None:
    runner, sink = Runner(), ListSink()
    calls: list[str] = []
    tool = _guarded(calls)

    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool, {"what": "it"})

    runner.start("alice", "t1", FuncAgent("agent", run), "x", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    assert runner.resolve_approval("run_a", request.tool_call_id, True, user_id="mallory") is False
    assert runner.resolve_approval("run_a", "call_unknown", True) is False
    assert runner.resolve_approval("run_a", request.tool_call_id, True, user_id="alice") is True
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    assert calls == ["it"]


async def test__approval_in_a_sub_run__resolved_with_the_sub_run_id() -> None:
    runner, sink = Runner(), ListSink()
    calls: list[str] = []
    tool = _guarded(calls)

    async def child(ctx: RunContext, prompt: str) -> None:
        await ctx.tool(tool, {"what": "nested"})

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.delegate(FuncAgent("child", child), prompt)

    runner.start("u1", "t1", FuncAgent("parent", parent), "x", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    assert request.run_id != "run_a"
    assert request.parent_run_id == "run_a"
    assert runner.resolve_approval("run_a", request.tool_call_id, True) is False
    assert runner.resolve_approval(request.run_id, request.tool_call_id, True) is True
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    assert calls == ["nested"]


# --- messages ------------------------------------------------------------------


async def test__message_stream__a_delta_per_write_then_the_whole_message() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.message() as message:
            await message.write("Hel")
            await message.write("")
            await message.write("lo")
            assert message.text == "Hello"

    sink, outcome = await _run(run)

    deltas, [whole] = sink.of_type(AgentMessageDelta), sink.of_type(AgentMessage)
    assert [d.content for d in deltas] == ["Hel", "lo"]
    assert whole.content == "Hello"
    assert {d.message_id for d in deltas} == {whole.message_id}
    assert whole.message_id.startswith("msg_")
    assert outcome.text == "Hello"


async def test__message_stream_nothing_written__no_message_events() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.message():
            pass

    sink, _ = await _run(run)
    assert sink.types() == ["agent_started", "agent_completed"]


async def test__message_stream_block_raises__no_whole_message_and_agent_error() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.message() as message:
            await message.write("half an ans")
            raise RuntimeError("lost my train of thought")

    sink, outcome = await _run(run)
    assert sink.types() == ["agent_started", "agent_message_delta", "agent_error"]
    assert outcome.text == "half an ans"


async def test__message_stream_write_after_end__runtime_error() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.message() as message:
            await message.write("done")
        with pytest.raises(RuntimeError, match="has ended"):
            await message.write("more")

    _, outcome = await _run(run)
    assert outcome.status == "completed"


async def test__say__streams_chunks_that_add_up_to_the_text() -> None:
    text = "The quick brown fox jumps over the lazy dog, twice over."

    async def run(ctx: RunContext, prompt: str) -> None:
        assert await ctx.say(text, chunk=10) == text

    sink, _ = await _run(run)
    pieces = [d.content for d in sink.of_type(AgentMessageDelta)]
    assert len(pieces) > 1
    assert all(len(piece) <= 10 for piece in pieces)
    assert "".join(pieces) == text
    assert sink.of_type(AgentMessage)[0].content == text


async def test__two_messages__run_text_has_one_paragraph_each() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        await ctx.say("first")
        await ctx.say("second")
        assert ctx.text == "first\n\nsecond"

    _, outcome = await _run(run)
    assert outcome.text == "first\n\nsecond"


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("", 5, []),
        ("abc", 5, ["abc"]),
        ("hello world", 8, ["hello ", "world"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("a b c d", 3, ["a ", "b ", "c d"]),
        ("line one\nline two", 12, ["line one\n", "line two"]),
    ],
)
def test__split_chunks__examples(text: str, size: int, expected: list[str]) -> None:
    assert split_chunks(text, size) == expected


@given(st.text(), st.integers(min_value=1, max_value=40))
def test__split_chunks__rejoins_and_respects_the_size(text: str, size: int) -> None:
    pieces = split_chunks(text, size)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= size for piece in pieces)


def test__split_chunks__size_zero__value_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_chunks("abc", 0)


# --- delegation ----------------------------------------------------------------


async def test__delegate__sub_run_has_its_own_id_parent_and_returns_its_text() -> None:
    answers: list[str] = []

    async def child(ctx: RunContext, prompt: str) -> None:
        assert ctx.parent_run_id == "run_a"
        assert ctx.agent_name == "child"
        assert (ctx.user_id, ctx.thread_id) == ("u1", "t1")
        await ctx.think("child thinking")
        await ctx.say(f"child answer to {prompt}", chunk=100)

    async def parent(ctx: RunContext, prompt: str) -> None:
        answers.append(await ctx.delegate(FuncAgent("child", child), "the question"))
        await ctx.say("parent done")

    sink, outcome = await _run(parent)

    sub_run = sink.of_type(AgentStarted)[1]
    assert sub_run.run_id.startswith("run_")
    assert sub_run.run_id != "run_a"
    assert sub_run.parent_run_id == "run_a"
    child_events = [e for e in sink.events if e.run_id == sub_run.run_id]
    assert [e.TYPE for e in child_events] == [
        "agent_started",
        "agent_thinking",
        "agent_message_delta",
        "agent_message",
        "agent_completed",
    ]
    assert all(e.parent_run_id == "run_a" and e.agent_name == "child" for e in child_events)
    assert answers == ["child answer to the question"]
    assert outcome.text == "parent done"


async def test__delegate_sub_agent_fails__its_error_then_the_parents() -> None:
    async def child(ctx: RunContext, prompt: str) -> None:
        raise AgentFailure(AgentErrorCode.UPSTREAM_TIMEOUT, "model slow", retryable=True)

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.delegate(FuncAgent("child", child), prompt)

    sink, outcome = await _run(parent)
    errors = sink.of_type(AgentError)
    assert [(e.agent_name, e.code, e.retryable) for e in errors] == [
        ("child", "upstream_timeout", True),
        ("agent", "upstream_timeout", True),
    ]
    assert outcome.error_code == "upstream_timeout"


async def test__delegate_failure_caught__parent_completes() -> None:
    async def child(ctx: RunContext, prompt: str) -> None:
        raise ValueError("child broke")

    async def parent(ctx: RunContext, prompt: str) -> None:
        with pytest.raises(ValueError, match="child broke"):
            await ctx.delegate(FuncAgent("child", child), prompt)
        await ctx.say("handled")

    sink, outcome = await _run(parent)
    assert [(e.agent_name, e.TYPE) for e in sink.events if e.TYPE.startswith("agent_e")] == [
        ("child", "agent_error")
    ]
    assert outcome.status == "completed"


async def test__sub_context_used_after_its_run_ended__runtime_error() -> None:
    kept: list[RunContext] = []

    async def child(ctx: RunContext, prompt: str) -> None:
        kept.append(ctx)

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.delegate(FuncAgent("child", child), prompt)
        with pytest.raises(RuntimeError, match="has ended"):
            await kept[0].think("too late")

    sink, outcome = await _run(parent)
    assert outcome.status == "completed"
    assert "agent_thinking" not in sink.types()


async def test__nested_delegation__grandchild_parent_is_the_child() -> None:
    async def grandchild(ctx: RunContext, prompt: str) -> None:
        await ctx.say("deep")

    async def child(ctx: RunContext, prompt: str) -> None:
        await ctx.say(await ctx.delegate(FuncAgent("grandchild", grandchild), prompt))

    async def parent(ctx: RunContext, prompt: str) -> None:
        await ctx.say(await ctx.delegate(FuncAgent("child", child), prompt))

    sink, outcome = await _run(parent)
    started = {e.agent_name: e for e in sink.of_type(AgentStarted)}
    assert started["child"].parent_run_id == "run_a"
    assert started["grandchild"].parent_run_id == started["child"].run_id
    assert outcome.text == "deep"


# --- primitives for adapters of other frameworks ------------------------------------


async def test__tool_call_report_succeeded__executing_then_completed_with_the_frameworks_id() -> (
    None
):
    async def run(ctx: RunContext, prompt: str) -> None:
        report = await ctx.tool_call("lookup", {"q": "x"}, call_id="fw_1")
        result = await report.succeeded({"found": 2})
        assert result.ok

    sink, outcome = await _run(run)

    assert outcome.status == "completed"
    assert sink.types() == ["agent_started", "tool_executing", "tool_completed", "agent_completed"]
    started, done = sink.of_type(ToolExecuting)[0], sink.of_type(ToolCompleted)[0]
    assert (started.tool_call_id, started.tool_name, started.arguments) == (
        "fw_1",
        "lookup",
        {"q": "x"},
    )
    assert (done.tool_call_id, done.status, done.result, done.error) == (
        "fw_1",
        "success",
        {"found": 2},
        None,
    )


async def test__tool_call_report_failed_twice__completed_error_once_then_runtime_error() -> None:
    errors: list[str] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        report = await ctx.tool_call("lookup")
        await report.failed("upstream said no")
        try:
            await report.succeeded(1)
        except RuntimeError as exc:
            errors.append(str(exc))

    sink, _ = await _run(run)

    done = sink.of_type(ToolCompleted)
    assert [(d.status, d.error) for d in done] == [("error", "upstream said no")]
    assert len(errors) == 1
    assert done[0].tool_call_id.startswith("call_")


async def test__ask_approval__request_then_the_users_decision() -> None:
    runner = Runner()
    sink = ListSink()
    decisions: list[tuple[bool, str | None]] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        decision = await ctx.ask_approval("delete_file", {"path": "/tmp/x"}, call_id="fw_9")
        decisions.append((decision.approved, decision.reason))

    runner.start("u1", "t1", FuncAgent("agent", run), "prompt", "run_a", sink)
    async with asyncio.timeout(SAFETY):
        request = await wait_for_event(sink, ToolApprovalRequired)
        assert runner.resolve_approval("run_a", "fw_9", False, "no", user_id="u1")
        await runner.wait("run_a")

    assert (request.tool_call_id, request.tool_name, request.arguments) == (
        "fw_9",
        "delete_file",
        {"path": "/tmp/x"},
    )
    assert decisions == [(False, "no")]


async def test__history__earlier_turns_of_the_thread_without_the_current_prompt() -> None:
    stored = [
        ("user", "first question", "run_0"),
        ("assistant", "first answer", "run_0"),
        ("user", "prompt", "run_a"),
    ]
    seen: list[tuple[str, str]] = []

    async def load(user_id: str, thread_id: str) -> list[tuple[str, str, str | None]]:
        seen.append((user_id, thread_id))
        return list(stored)

    turns: list[list[dict[str, str]]] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        turns.append(await ctx.history())

    await _run(run, Runner(history=load))

    assert seen == [("u1", "t1")]
    assert turns == [
        [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
        ]
    ]


async def test__history_without_a_loader__empty() -> None:
    turns: list[list[dict[str, str]]] = []

    async def run(ctx: RunContext, prompt: str) -> None:
        turns.append(await ctx.history())

    await _run(run)

    assert turns == [[]]


# --- sub_run() and tool_denied(), for adapters ---------------------------------


async def test__sub_run__started_and_completed_inside_the_parent() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.sub_run("helper") as sub:
            assert (sub.agent_name, sub.parent_run_id) == ("helper", "run_a")
            await sub.say("from the helper")
        await ctx.say("from the parent")

    sink, outcome = await _run(run)

    sub_id = next(e.run_id for e in sink.events if e.agent_name == "helper")
    assert [
        (e.run_id == sub_id, e.TYPE) for e in sink.events if e.TYPE != "agent_message_delta"
    ] == [
        (False, "agent_started"),
        (True, "agent_started"),
        (True, "agent_message"),
        (True, "agent_completed"),
        (False, "agent_message"),
        (False, "agent_completed"),
    ]
    assert outcome.text == "from the parent"


async def test__sub_run_block_raises__sub_run_error_then_the_parents() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        async with ctx.sub_run("helper"):
            raise ValueError("broken helper")

    sink, outcome = await _run(run)

    errors = sink.of_type(AgentError)
    assert [(e.agent_name, e.code) for e in errors] == [
        ("helper", AgentErrorCode.AGENT_FAILED),
        ("agent", AgentErrorCode.AGENT_FAILED),
    ]
    assert outcome.status == "error"


async def test__tool_denied__completed_denied_without_executing() -> None:
    async def run(ctx: RunContext, prompt: str) -> None:
        result = await ctx.tool_denied("delete_file", "not today", call_id="fw_3")
        assert (result.status, result.error) == ("denied", "not today")
        await ctx.tool_denied("delete_file", call_id="fw_4")

    sink, _ = await _run(run)

    assert sink.of_type(ToolExecuting) == []
    done = sink.of_type(ToolCompleted)
    assert [(c.tool_call_id, c.status, c.error) for c in done] == [
        ("fw_3", "denied", "not today"),
        ("fw_4", "denied", "the user denied this tool call"),
    ]


@pytest.mark.parametrize("call_id", ["has space", "x" * 129, "", "é"])
async def test__ask_approval_with_an_id_a_client_cannot_send__a_new_id(call_id: str) -> None:
    runner = Runner()
    sink = ListSink()

    async def run(ctx: RunContext, prompt: str) -> None:
        decision = await ctx.ask_approval("publish", call_id=call_id)
        await ctx.say(f"approved: {decision.approved}")

    runner.start("u1", "t1", FuncAgent("agent", run), "prompt", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    assert request.tool_call_id.startswith("call_")
    assert runner.resolve_approval("run_a", request.tool_call_id, True)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    assert outcome.text == "approved: True"


# --- usage ------------------------------------------------------------------------


async def test__report_usage__summed_per_run_and_sub_runs_keep_their_own() -> None:
    async def child(ctx: RunContext, prompt: str) -> None:
        ctx.report_usage(5, 1)
        await ctx.say("child")

    async def parent(ctx: RunContext, prompt: str) -> None:
        ctx.report_usage(100, 20)
        await ctx.delegate(FuncAgent("child", child), "q")
        ctx.report_usage(50, 7, total_tokens=60)  # a total as the model reported it
        await ctx.say("done")

    sink, _ = await _run(parent)

    by_run = {e.run_id: e.usage for e in sink.of_type(AgentCompleted)}
    child_run = sink.of_type(AgentStarted)[1].run_id
    assert by_run == {
        child_run: Usage(input_tokens=5, output_tokens=1, total_tokens=6),
        "run_a": Usage(input_tokens=150, output_tokens=27, total_tokens=180),
    }


async def test__no_usage_reported__usage_is_null() -> None:
    async def agent(ctx: RunContext, prompt: str) -> None:
        await ctx.say("hi")

    sink, _ = await _run(agent)

    assert sink.of_type(AgentCompleted)[0].usage is None


@pytest.mark.parametrize(
    ("counts", "bad"),
    [
        ((-1, 2, None), "input"),
        ((1, -2, None), "output"),
        ((1, 2, -3), "total"),
        ((1.5, 2, None), "input"),
        ((True, 2, None), "input"),
        (("7", 2, None), "input"),
    ],
)
async def test__report_usage__bad_counts__value_error_and_nothing_counted(
    counts: tuple[Any, Any, Any], bad: str
) -> None:
    errors: list[str] = []

    async def agent(ctx: RunContext, prompt: str) -> None:
        try:
            ctx.report_usage(*counts)
        except ValueError as exc:
            errors.append(str(exc))
        await ctx.say("hi")

    sink, _ = await _run(agent)

    assert len(errors) == 1
    assert errors[0].startswith(f"{bad}_tokens must be")
    assert sink.of_type(AgentCompleted)[0].usage is None
