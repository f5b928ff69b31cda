"""AGUIAgent through the real Runner against the stand-in AG-UI server: mapping, failures, stop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from agentsocket.agents import ListSink, Runner, RunOutcome
from agentsocket.agents.adapters.ag_ui import AGUIAgent
from agentsocket.agents.adapters.ag_ui.mapping import message_id
from agentsocket.agents.adapters.metrics import AdapterMetrics
from agentsocket.protocol.server_messages import (
    AgentError,
    AgentMessage,
    AgentMessageDelta,
    AgentThinking,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
)
from tests.agents.adapters.agui_standin import (
    AGUIStandin,
    Events,
    Reply,
    Silence,
    Status,
    run_events,
    text,
    tool,
)
from tests.agents.helpers import SAFETY, assert_well_formed, wait_for_event

SECRET = "Bearer s3cret-token"


async def _run(
    url: str, runner: Runner | None = None, **options: Any
) -> tuple[ListSink, RunOutcome]:
    runner = runner or Runner()
    sink = ListSink()
    agent = AGUIAgent("remote", url, {"Authorization": SECRET}, **options)
    try:
        runner.start("u1", "t1", agent, "what is 6*7?", "run_a", sink)
        async with asyncio.timeout(SAFETY):
            outcome = await runner.wait("run_a")
    finally:
        await agent.aclose()
    assert_well_formed(sink.events)
    return sink, outcome


async def _serve(*replies: Reply, **options: Any) -> tuple[ListSink, RunOutcome, AGUIStandin]:
    async with AGUIStandin(list(replies)) as server:
        sink, outcome = await _run(server.url, **options)
    return sink, outcome, server


def _skipped(event_type: str) -> float:
    """The counter as a gateway's registry (one holding :class:`AdapterMetrics`) shows it."""
    registry = CollectorRegistry()
    registry.register(AdapterMetrics())
    value = registry.get_sample_value(
        "agentsocket_ag_ui_events_skipped_total", {"event_type": event_type}
    )
    assert value is not None, "every label is there from the start"
    return value


# --- a run that works ------------------------------------------------------------


async def test__tool_then_text__events_in_order_and_the_request_is_run_agent_input() -> None:
    events = run_events(
        *tool("call_1", "multiply", '{"a": 6, "b": 7}', "42"),
        *text("m1", "6*7 ", "is 42."),
    )

    sink, outcome, server = await _serve(Events(events))

    assert outcome.status == "completed"
    assert sink.types() == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_message_delta",
        "agent_message_delta",
        "agent_message",
        "agent_completed",
    ]
    executing, completed = sink.of_type(ToolExecuting)[0], sink.of_type(ToolCompleted)[0]
    assert (executing.tool_call_id, executing.tool_name, executing.arguments) == (
        "call_1",
        "multiply",
        {"a": 6, "b": 7},
    )
    assert (completed.tool_call_id, completed.status, completed.result) == (
        "call_1",
        "success",
        "42",
    )
    deltas = "".join(d.content for d in sink.of_type(AgentMessageDelta))
    assert deltas == sink.of_type(AgentMessage)[0].content == "6*7 is 42." == outcome.text
    [request] = server.received
    assert request.headers["authorization"] == SECRET
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert (body["threadId"], body["runId"]) == ("t1", "run_a")
    assert (body["tools"], body["state"], body["context"], body["forwardedProps"]) == (
        [],
        {},
        [],
        {},
    )
    assert body["messages"] == [
        {"id": message_id("t1", "user", "what is 6*7?"), "role": "user", "content": "what is 6*7?"}
    ]


async def test__history__earlier_turns_sent_first_with_stable_ids() -> None:
    async def load(user_id: str, thread_id: str) -> list[tuple[str, str, str | None]]:
        return [("user", "hi", "run_0"), ("assistant", "hello!", "run_0")]

    async with AGUIStandin([Events(run_events(*text("m1", "42")))]) as server:
        _, outcome = await _run(server.url, Runner(history=load))

    assert outcome.status == "completed"
    messages = server.received[0].body["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "hi"),
        ("assistant", "hello!"),
        ("user", "what is 6*7?"),
    ]
    assert messages[0]["id"] == message_id("t1", "user", "hi")


async def test__long_history__newest_turns_within_the_caps() -> None:
    async def load(user_id: str, thread_id: str) -> list[tuple[str, str, str | None]]:
        return [("user", f"q{i}", f"run_{i}") for i in range(30)]

    async with AGUIStandin([Events(run_events(*text("m1", "ok")))]) as server:
        await _run(server.url, Runner(history=load), max_history_messages=3)

    contents = [m["content"] for m in server.received[0].body["messages"]]
    assert contents == ["q27", "q28", "q29", "what is 6*7?"]


async def test__history_cannot_be_loaded__agent_failed_and_nothing_sent() -> None:
    async def load(user_id: str, thread_id: str) -> list[tuple[str, str, str | None]]:
        raise OSError("store down")

    async with AGUIStandin([]) as server:
        _, outcome = await _run(server.url, Runner(history=load))

    assert (outcome.error_code, outcome.retryable) == ("agent_failed", True)
    assert "store down" in (outcome.error_message or "")
    assert server.received == []


async def test__chunks_steps_and_reasoning__streamed_text_and_thinking() -> None:
    events = run_events(
        {"type": "STEP_STARTED", "stepName": "plan"},
        {"type": "REASONING_START", "messageId": "r1"},
        {"type": "REASONING_MESSAGE_START", "messageId": "r1", "role": "reasoning"},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r1", "delta": "Multiply "},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r1", "delta": "them."},
        {"type": "REASONING_MESSAGE_END", "messageId": "r1"},
        {"type": "REASONING_END", "messageId": "r1"},
        {"type": "STEP_FINISHED", "stepName": "plan"},
        {"type": "TOOL_CALL_CHUNK", "toolCallId": "c9", "toolCallName": "mul", "delta": '{"a":'},
        {"type": "TOOL_CALL_CHUNK", "delta": " 6}"},
        {"type": "TOOL_CALL_RESULT", "messageId": "r9", "toolCallId": "c9", "content": "6"},
        {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m1", "delta": "It is "},
        {"type": "TEXT_MESSAGE_CHUNK", "delta": "42."},
    )

    sink, outcome, _ = await _serve(Events(events))

    assert outcome.status == "completed"
    assert [t.content for t in sink.of_type(AgentThinking)] == [
        "Started step: plan",
        "Multiply them.",
        "Finished step: plan",
    ]
    assert sink.of_type(ToolExecuting)[0].arguments == {"a": 6}
    assert sink.of_type(ToolCompleted)[0].result == "6"
    assert sink.of_type(AgentMessage)[0].content == "It is 42." == outcome.text


async def test__events_without_counterpart__counted_and_the_run_goes_on() -> None:
    custom, unknown = _skipped("CUSTOM"), _skipped("UNKNOWN")
    events = run_events(
        {"type": "CUSTOM", "name": "progress", "value": {"pct": 50}},
        {"type": "STATE_SNAPSHOT", "snapshot": {"x": 1}},
        {"type": "THINKING_START", "title": "a retired 0.x event"},
        *text("m1", "done"),
    )

    _sink, outcome, _ = await _serve(Events(events))

    assert outcome.status == "completed"
    assert outcome.text == "done"
    assert _skipped("CUSTOM") == custom + 1
    assert _skipped("UNKNOWN") == unknown + 1
    # Not on prometheus_client's default registry: only on the gateways' own.
    default = REGISTRY.get_sample_value(
        "agentsocket_ag_ui_events_skipped_total", {"event_type": "UNKNOWN"}
    )
    assert default is None


async def test__sse_comments_crlf_and_multiline_data__parsed() -> None:
    events: list[Any] = [
        ": keep-alive\r\n\r\n",
        'data: {"type": "RUN_STARTED",\r\ndata:  "threadId": "t1", "runId": "run_a"}\r\n\r\n',
        *text("m1", "ok"),
        'event: message\ndata: {"type": "RUN_FINISHED", "threadId": "t1", "runId": "run_a"}\n\n',
    ]

    _, outcome, _ = await _serve(Events(events))

    assert (outcome.status, outcome.text) == ("completed", "ok")


# --- interrupts ------------------------------------------------------------------


def _interrupted() -> Events:
    return Events(
        [
            {"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"},
            *tool("call_7", "delete_file", '{"path": "/tmp/x"}', None),
            {
                "type": "RUN_FINISHED",
                "threadId": "t1",
                "runId": "run_a",
                "outcome": {
                    "type": "interrupt",
                    "interrupts": [
                        {"id": "int-1", "reason": "tool_approval", "toolCallId": "call_7"}
                    ],
                },
            },
        ]
    )


@pytest.mark.parametrize("approved", [True, False])
async def test__interrupt__approval_asked_then_the_run_resumes_with_the_answer(
    approved: bool,
) -> None:
    result = "deleted" if approved else None
    resumed = Events(
        run_events(
            *(
                [
                    {
                        "type": "TOOL_CALL_RESULT",
                        "messageId": "res",
                        "toolCallId": "call_7",
                        "content": result,
                    }
                ]
                if result
                else []
            ),
            *text("m2", "Deleted." if approved else "Left alone."),
            run="run_a-resume-1",
        )
    )
    runner = Runner()
    sink = ListSink()
    async with AGUIStandin([_interrupted(), resumed]) as server:
        agent = AGUIAgent("remote", server.url)
        runner.start("u1", "t1", agent, "delete /tmp/x", "run_a", sink)
        async with asyncio.timeout(SAFETY):
            request = await wait_for_event(sink, ToolApprovalRequired)
            reason = None if approved else "no"
            assert runner.resolve_approval("run_a", "call_7", approved, reason, user_id="u1")
            outcome = await runner.wait("run_a")
        await agent.aclose()

    assert_well_formed(sink.events)
    assert (request.tool_call_id, request.tool_name, request.arguments) == (
        "call_7",
        "delete_file",
        {"path": "/tmp/x"},
    )
    assert outcome.status == "completed"
    [done] = sink.of_type(ToolCompleted)
    assert (done.status, done.result) == (("success", "deleted") if approved else ("denied", None))
    second = server.received[1].body
    assert second["runId"] == "run_a-resume-1"
    payload = {"approved": True} if approved else {"approved": False, "reason": "no"}
    assert second["resume"] == [{"interruptId": "int-1", "status": "resolved", "payload": payload}]
    # A stateless server sees the tool call it is resuming, after the prompt.
    assert [m["role"] for m in second["messages"]] == ["user", "assistant"]
    assert second["messages"][1]["toolCalls"][0]["id"] == "call_7"


# --- failures --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:{_free_port()}/agent",
        f"http://me:pa55word@127.0.0.1:{_free_port()}/agent?key=k3y",
        "http://agentsocket-test.invalid/agent",
    ],
)
async def test__server_unreachable__upstream_unreachable_without_credentials(url: str) -> None:
    sink, outcome = await _run(url)

    assert (outcome.status, outcome.error_code, outcome.retryable) == (
        "error",
        "upstream_unreachable",
        True,
    )
    assert sink.types() == ["agent_started", "agent_error"]
    message = outcome.error_message or ""
    assert "/agent" in message
    assert not any(secret in message for secret in ("pa55word", "k3y", "s3cret"))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"url": "ftp://x/agent"}, "http"),
        ({"connect_timeout": 0}, "positive"),
        ({"max_event_bytes": 10, "max_stream_bytes": 5}, "max_event_bytes"),
        ({"max_resumes": -1}, "max_resumes"),
        ({"max_history_chars": -1}, "history caps"),
    ],
)
def test__bad_options__value_error(options: dict[str, Any], fragment: str) -> None:
    url = options.pop("url", "http://127.0.0.1:1/agent")
    with pytest.raises(ValueError, match=fragment):
        AGUIAgent("remote", url, **options)


def test__repr__never_the_headers() -> None:
    agent = AGUIAgent("remote", "http://127.0.0.1:1/agent", {"Authorization": SECRET})

    assert "s3cret" not in repr(agent)
    assert agent.description == "An AG-UI agent at 127.0.0.1"


@pytest.mark.parametrize(
    ("code", "retryable", "expected"),
    [
        (500, True, "upstream_error"),
        (503, True, "upstream_error"),
        (401, False, "upstream_error"),
        (404, False, "upstream_error"),
        (429, True, "upstream_rate_limited"),
        (307, False, "upstream_error"),
    ],
)
async def test__http_error_status__typed_error_with_the_status_and_a_truncated_body(
    code: int, retryable: bool, expected: str
) -> None:
    _sink, outcome, _ = await _serve(Status(code, "server says no " + "x" * 5000))

    assert (outcome.error_code, outcome.retryable) == (expected, retryable)
    message = outcome.error_message or ""
    assert f"HTTP {code}" in message
    assert "server says no" in message or code == 307
    assert len(message) < 500
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        (["data: {not json\n\n"], "not JSON"),
        (['data: ["a list"]\n\n'], "string"),
        ([{"type": "RUN_STARTED", "threadId": "t1"}], "runId"),
        ([{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "x"}], "before RUN_STARTED"),
        (
            run_events({"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "x"}),
            "not open",
        ),
        (run_events({"type": "TOOL_CALL_ARGS", "toolCallId": "nope", "delta": "{}"}), "unknown"),
        (
            run_events(
                {"type": "TOOL_CALL_RESULT", "messageId": "r", "toolCallId": "c", "content": "1"}
            ),
            "unknown",
        ),
        ([*run_events(*text("m1", "hi")), *text("m2", "more")], "after RUN_FINISHED"),
        ([b"data: \xff\xfe\n\n"], "UTF-8"),
    ],
)
async def test__malformed_or_out_of_order__upstream_malformed(
    items: list[Any], fragment: str
) -> None:
    sink, outcome, _ = await _serve(Events(items))

    assert (outcome.error_code, outcome.retryable) == ("upstream_malformed", False)
    assert fragment in (outcome.error_message or "")
    assert sink.types()[-1] == "agent_error"


async def test__not_an_event_stream__upstream_malformed() -> None:
    _, outcome, _ = await _serve(Events(run_events(), content_type="application/json"))

    assert outcome.error_code == "upstream_malformed"
    assert "application/json" in (outcome.error_message or "")


@pytest.mark.parametrize(
    "items",
    [
        run_events(*text("m1", "x" * 5000)),  # one event over the cap
        ["data: " + "y" * 5000],  # a line that never ends
    ],
)
async def test__event_over_the_byte_cap__upstream_too_large(items: list[Any]) -> None:
    _, outcome, _ = await _serve(Events(items, end="hang"), max_event_bytes=4096)

    assert (outcome.error_code, outcome.retryable) == ("upstream_too_large", False)
    assert "4096 bytes" in (outcome.error_message or "")


async def test__stream_over_its_byte_cap__upstream_too_large() -> None:
    many = [{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m0", "delta": "z" * 500}] * 40
    items = run_events({"type": "TEXT_MESSAGE_START", "messageId": "m0"}, *many)
    _, outcome, _ = await _serve(
        Events(items, end="hang"), max_event_bytes=4096, max_stream_bytes=8192
    )

    assert outcome.error_code == "upstream_too_large"


@pytest.mark.parametrize("end", ["drop", "close"])
async def test__stream_ends_before_run_finished__upstream_disconnected(end: str) -> None:
    items = [{"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"}, *text("m1", "half")]

    sink, outcome, _ = await _serve(Events(items, end=end))  # type: ignore[arg-type]

    assert (outcome.error_code, outcome.retryable) == ("upstream_disconnected", True)
    assert sink.of_type(AgentMessage)[0].content == "half"


async def test__run_error_event__upstream_error_with_the_servers_message() -> None:
    items = [
        {"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"},
        {"type": "RUN_ERROR", "message": "model overloaded", "code": "overloaded"},
    ]

    _, outcome, _ = await _serve(Events(items))

    assert outcome.error_code == "upstream_error"
    assert "model overloaded (overloaded)" in (outcome.error_message or "")


async def test__open_tool_call_when_the_run_fails__completed_as_error() -> None:
    items = [
        {"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"},
        *tool("c1", "search", "{}", None),
        {"type": "RUN_ERROR", "message": "boom"},
    ]

    sink, _, _ = await _serve(Events(items))

    [done] = sink.of_type(ToolCompleted)
    assert (done.tool_call_id, done.status) == ("c1", "error")


@pytest.mark.parametrize("reply", [Silence(), Events(run_events()[:1], end="hang")])
async def test__server_silent__upstream_timeout(reply: Reply) -> None:
    _, outcome, _ = await _serve(reply, read_timeout=0.2)

    assert (outcome.error_code, outcome.retryable) == ("upstream_timeout", True)


# --- stopping --------------------------------------------------------------------


async def test__stop_mid_stream__cancelled_and_the_upstream_request_closed() -> None:
    items = [
        {"type": "RUN_STARTED", "threadId": "t1", "runId": "run_a"},
        *tool("c1", "slow_search", "{}", None),
    ]
    runner = Runner()
    sink = ListSink()
    async with AGUIStandin([Events(items, end="hang")]) as server:
        agent = AGUIAgent("remote", server.url)
        runner.start("u1", "t1", agent, "search", "run_a", sink)
        async with asyncio.timeout(SAFETY):
            await wait_for_event(sink, ToolExecuting)
            assert runner.cancel("run_a", user_id="u1")
            outcome = await runner.wait("run_a")
        # The acceptance bound: the upstream sees its request closed within a second.
        await asyncio.wait_for(server.client_closed.wait(), 1.0)
        await agent.aclose()

    assert outcome.status == "cancelled"
    assert sink.types()[-1] == "agent_cancelled"
    assert not sink.of_type(AgentError)


async def test__no_free_pooled_connection__upstream_timeout_saying_so() -> None:
    runner, holding, waiting = Runner(), ListSink(), ListSink()
    items = [*run_events()[:1], {"type": "STEP_STARTED", "stepName": "hold"}]
    async with (
        AGUIStandin([Events(items, end="hang")]) as server,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as http,
    ):
        holder = AGUIAgent("holder", server.url, http_client=http)
        waiter = AGUIAgent("waiter", server.url, read_timeout=0.3, http_client=http)
        runner.start("u1", "t1", holder, "hi", "run_1", holding)
        async with asyncio.timeout(SAFETY):
            await wait_for_event(holding, AgentThinking)  # the holder has the only connection
            runner.start("u1", "t1", waiter, "hi", "run_2", waiting)
            outcome = await runner.wait("run_2")
            runner.cancel("run_1")
            await runner.wait("run_1")

    assert outcome.error_code == "upstream_timeout"
    assert "no free connection within 0.3 s" in (outcome.error_message or "")
