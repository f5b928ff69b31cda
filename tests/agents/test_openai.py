"""Tests of agentsocket.agents.openai against a stand-in chat-completions server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from agentsocket.agents import (
    CALCULATE,
    CONVERT_BASE,
    ListSink,
    OpenAIChatAgent,
    RunContext,
    Runner,
    RunOutcome,
    Tool,
    tool_spec,
)
from agentsocket.agents.history import Turn, earlier_turns
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
    AgentEvent,
    AgentMessage,
    AgentMessageDelta,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
    Usage,
)
from tests.agents.helpers import assert_well_formed, wait_for_event
from tests.agents.standin import (
    Hang,
    StandIn,
    Status,
    Stream,
    chunk,
    finish,
    serve,
    text,
    tool_call,
    usage,
)

SAFETY = 10.0

# One stand-in server for the whole module (starting and stopping uvicorn per
# test costs more than the tests), so the tests share the module's event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[StandIn]:
    async for running in serve(StandIn()):
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def standin(server: StandIn) -> AsyncIterator[StandIn]:
    server.reset()
    yield server
    server.reset()


async def _run(
    agent: OpenAIChatAgent, runner: Runner | None = None, prompt: str = "hi"
) -> tuple[ListSink, RunOutcome]:
    runner, sink = runner or Runner(), ListSink()
    runner.start("u1", "t1", agent, prompt, "run_a", sink)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    await agent.aclose()
    assert_well_formed(sink.events)
    return sink, outcome


def _agent(standin: StandIn, **options: Any) -> OpenAIChatAgent:
    options.setdefault("api_key", "sk-test")
    return OpenAIChatAgent(standin.base_url, "stand-in-model", **options)


def _describe(event: AgentEvent) -> tuple[Any, ...]:
    if isinstance(event, ToolExecuting):
        return (event.TYPE, event.tool_name, event.arguments)
    if isinstance(event, ToolCompleted):
        return (event.TYPE, event.tool_name, event.status, event.result, event.error)
    if isinstance(event, AgentMessageDelta | AgentMessage):
        return (event.TYPE, event.content)
    if isinstance(event, AgentError):
        return (event.TYPE, event.code, event.retryable)
    return (event.TYPE,)


async def test__text_answer__streamed_deltas_then_the_message(standin: StandIn) -> None:
    standin.script(Stream([*text("Hel", "lo", " there"), finish()]))

    sink, outcome = await _run(_agent(standin, system_prompt="Be brief."))

    assert [_describe(e) for e in sink.events] == [
        ("agent_started",),
        ("agent_message_delta", "Hel"),
        ("agent_message_delta", "lo"),
        ("agent_message_delta", " there"),
        ("agent_message", "Hello there"),
        ("agent_completed",),
    ]
    assert {e.agent_name for e in sink.events} == {"assistant"}
    assert outcome.text == "Hello there"
    [request] = standin.requests
    assert request == {
        "model": "stand-in-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert standin.headers[0]["authorization"] == "Bearer sk-test"
    assert standin.headers[0]["accept"] == "text/event-stream"


async def test__tool_calls__executed_and_sent_back_for_the_next_round(standin: StandIn) -> None:
    standin.script(
        Stream(
            [
                *text("Let me check. "),
                *tool_call(0, "call_up_1", "calculate", '{"expre', 'ssion": "17', '*23"}'),
                *tool_call(1, "call_up_2", "convert_base", '{"number": 391, ', '"base": "hex"}'),
                finish("tool_calls"),
            ]
        ),
        Stream([*text("17*23 = 391, ", "or 0x187."), finish()]),
    )
    agent = _agent(standin, tools=[CALCULATE, CONVERT_BASE], extra_body={"temperature": 0})

    sink, outcome = await _run(agent, prompt="what is 17*23 in hex?")

    assert [_describe(e) for e in sink.events] == [
        ("agent_started",),
        ("agent_message_delta", "Let me check. "),
        ("agent_message", "Let me check. "),
        ("tool_executing", "calculate", {"expression": "17*23"}),
        ("tool_completed", "calculate", "success", 391, None),
        ("tool_executing", "convert_base", {"number": 391, "base": "hex"}),
        ("tool_completed", "convert_base", "success", "0x187", None),
        ("agent_message_delta", "17*23 = 391, "),
        ("agent_message_delta", "or 0x187."),
        ("agent_message", "17*23 = 391, or 0x187."),
        ("agent_completed",),
    ]
    assert outcome.text == "Let me check. \n\n17*23 = 391, or 0x187."
    first, second = standin.requests
    assert first["tools"] == [tool_spec(CALCULATE), tool_spec(CONVERT_BASE)]
    assert first["temperature"] == 0
    assert "tool_choice" not in first
    assert "tool_choice" not in second
    assert second["messages"] == [
        {"role": "user", "content": "what is 17*23 in hex?"},
        {
            "role": "assistant",
            "content": "Let me check. ",
            "tool_calls": [
                {
                    "id": "call_up_1",
                    "type": "function",
                    "function": {"name": "calculate", "arguments": '{"expression": "17*23"}'},
                },
                {
                    "id": "call_up_2",
                    "type": "function",
                    "function": {
                        "name": "convert_base",
                        "arguments": '{"number": 391, "base": "hex"}',
                    },
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_up_1", "content": "391"},
        {"role": "tool", "tool_call_id": "call_up_2", "content": "0x187"},
    ]


async def test__tool_problems__reported_to_the_model_and_the_run_goes_on(
    standin: StandIn,
) -> None:
    standin.script(
        Stream(
            [
                *tool_call(0, "c1", "calculate", '{"expression": "1/0"}'),
                *tool_call(1, "c2", "teleport", "{}"),
                *tool_call(2, "c3", "calculate", "{not json"),
                *tool_call(3, "c4", "calculate", "[1]"),
                finish("tool_calls"),
            ]
        ),
        Stream([*text("Sorry."), finish()]),
    )

    sink, outcome = await _run(_agent(standin, tools=[CALCULATE]))

    assert [_describe(e) for e in sink.events if e.TYPE.startswith("tool_")] == [
        ("tool_executing", "calculate", {"expression": "1/0"}),
        ("tool_completed", "calculate", "error", None, "division by zero"),
        ("tool_executing", "teleport", {}),
        ("tool_completed", "teleport", "error", None, "unknown tool 'teleport'"),
    ]
    assert standin.requests[1]["messages"][2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "error: division by zero"},
        {"role": "tool", "tool_call_id": "c2", "content": "error: unknown tool 'teleport'"},
        {
            "role": "tool",
            "tool_call_id": "c3",
            "content": "error: the arguments must be a JSON object",
        },
        {
            "role": "tool",
            "tool_call_id": "c4",
            "content": "error: the arguments must be a JSON object",
        },
    ]
    assert outcome.status == "completed"


async def test__tool_needing_approval__denied_reason_goes_to_the_model(standin: StandIn) -> None:
    guarded = Tool("wipe", "Wipe.", {"type": "object"}, lambda: "wiped", requires_approval=True)
    standin.script(
        Stream([*tool_call(0, "c1", "wipe", "{}"), finish("tool_calls")]),
        Stream([*text("Okay, I left it."), finish()]),
    )
    runner, sink = Runner(), ListSink()
    agent = _agent(standin, tools=[guarded])
    runner.start("u1", "t1", agent, "wipe it", "run_a", sink)
    request = await wait_for_event(sink, ToolApprovalRequired)
    runner.resolve_approval("run_a", request.tool_call_id, False, "no way")
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    await agent.aclose()

    assert standin.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "denied: no way",
    }


async def test__model_keeps_calling_tools__last_round_forbids_them_then_fails(
    standin: StandIn,
) -> None:
    call = Stream([*tool_call(0, "c1", "calculate", '{"expression": "1"}'), finish("tool_calls")])
    standin.script(call, call)

    sink, outcome = await _run(_agent(standin, tools=[CALCULATE], max_rounds=2))

    assert [r.get("tool_choice") for r in standin.requests] == [None, "none"]
    assert _describe(sink.events[-1]) == ("agent_error", "agent_failed", False)
    assert outcome.error_message == "the model still called tools after 2 rounds"


@pytest.mark.parametrize(
    ("reply", "code", "retryable", "message"),
    [
        (
            Status(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}),
            "upstream_rate_limited",
            True,
            "the model server is rate limiting requests (HTTP 429); retry after 7 seconds",
        ),
        (
            Status(429, "busy"),
            "upstream_rate_limited",
            True,
            "the model server is rate limiting requests (HTTP 429)",
        ),
        (
            Status(500, {"error": {"message": "the GPUs are on fire"}}),
            "upstream_error",
            True,
            "the model server failed (HTTP 500): the GPUs are on fire",
        ),
        (
            Status(503, "maintenance"),
            "upstream_error",
            True,
            "the model server failed (HTTP 503): maintenance",
        ),
        (
            Status(401, {"error": {"message": "bad key"}}),
            "upstream_error",
            False,
            "the model server refused the credentials (HTTP 401): bad key",
        ),
        (
            Status(403, ""),
            "upstream_error",
            False,
            "the model server refused the credentials (HTTP 403): Forbidden",
        ),
        (
            Status(400, {"error": {"message": "unknown model"}}),
            "upstream_error",
            False,
            "the model server refused the request (HTTP 400): unknown model",
        ),
    ],
)
async def test__http_errors__agent_error_with_code_and_retryable(
    standin: StandIn, reply: Status, code: str, retryable: bool, message: str
) -> None:
    standin.script(reply)

    sink, outcome = await _run(_agent(standin))

    assert [_describe(e) for e in sink.events] == [
        ("agent_started",),
        ("agent_error", code, retryable),
    ]
    assert sink.of_type(AgentError)[0].message == message
    assert (outcome.error_code, outcome.retryable) == (code, retryable)


async def test__server_never_answers__upstream_timeout_retryable(standin: StandIn) -> None:
    standin.script(Hang())

    sink, outcome = await _run(_agent(standin, timeout=0.3))

    assert [_describe(e) for e in sink.events] == [
        ("agent_started",),
        ("agent_error", "upstream_timeout", True),
    ]
    assert outcome.error_message is not None
    assert outcome.error_message.startswith("the model server did not respond within 0.3 s")


async def test__stream_stalls_midway__deltas_then_upstream_timeout(standin: StandIn) -> None:
    standin.script(Stream([*text("Part one"), chunk({"content": " and"}), finish()], hang_after=3))

    sink, _ = await _run(_agent(standin, timeout=0.5))

    assert [_describe(e) for e in sink.events] == [
        ("agent_started",),
        ("agent_message_delta", "Part one"),
        ("agent_message_delta", " and"),
        ("agent_error", "upstream_timeout", True),
    ]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Stream([*text("ok"), "{not json", finish()]), "a chunk is not valid"),
        (Stream([{"id": "chatcmpl-1", "object": "chat.completion.chunk"}]), "has no 'choices'"),
        (Stream(text("never", " finished")), "ended before the model finished"),
        (Stream(text("cut"), done=False), "ended before the model finished"),
        (
            Stream([chunk({"tool_calls": [{"index": 0, "id": "c1"}]}), finish("tool_calls")]),
            "tool call 0 has no name",
        ),
    ],
)
async def test__malformed_stream__upstream_malformed_not_retryable(
    standin: StandIn, reply: Stream, message: str
) -> None:
    standin.script(reply)

    sink, outcome = await _run(_agent(standin))

    assert _describe(sink.events[-1]) == ("agent_error", "upstream_malformed", False)
    assert "agent_message" not in sink.types()
    assert outcome.error_message is not None
    assert message in outcome.error_message


async def test__error_object_in_the_stream__upstream_error_retryable(standin: StandIn) -> None:
    standin.script(Stream([{"error": {"message": "overloaded"}}], done=False))

    sink, outcome = await _run(_agent(standin))

    assert _describe(sink.events[-1]) == ("agent_error", "upstream_error", True)
    assert outcome.error_message == "the model server reported an error: overloaded"


async def test__nobody_listening__upstream_error_retryable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = OpenAIChatAgent(f"http://127.0.0.1:{port}/v1", "m", timeout=5)

    sink, outcome = await _run(agent)

    assert _describe(sink.events[-1]) == ("agent_error", "upstream_error", True)
    assert outcome.error_message is not None
    assert outcome.error_message.startswith("could not talk to the model server: ConnectError")


async def test__cancelled_while_streaming__nothing_after_agent_cancelled(standin: StandIn) -> None:
    standin.script(Stream([*text("Thinking about it"), finish()], hang_after=2))
    runner, sink = Runner(), ListSink()
    agent = _agent(standin)
    runner.start("u1", "t1", agent, "hi", "run_a", sink)
    await wait_for_event(sink, AgentMessageDelta)

    runner.cancel("run_a")
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    standin.release.set()  # the server now finishes its stream, to nobody
    await asyncio.sleep(0.1)
    await agent.aclose()

    assert sink.types() == ["agent_started", "agent_message_delta", "agent_cancelled"]


async def test__given_http_client__used_and_left_open(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))
    async with httpx.AsyncClient(headers={"X-Test": "mine"}) as client:
        agent = OpenAIChatAgent(standin.base_url, "m", http_client=client)
        _, outcome = await _run(agent)
        assert not client.is_closed
    assert outcome.text == "ok"
    assert standin.headers[0]["x-test"] == "mine"
    assert "authorization" not in standin.headers[0]


async def test__max_rounds_below_one__value_error() -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        OpenAIChatAgent("http://127.0.0.1:1/v1", "m", max_rounds=0)


async def test__tool_spec__chat_completions_function_format() -> None:
    assert tool_spec(CALCULATE) == {
        "type": "function",
        "function": {
            "name": "calculate",
            "description": CALCULATE.description,
            "parameters": dict(CALCULATE.parameters),
        },
    }


class Thread:
    """A thread's stored messages, kept like the server's store keeps them."""

    def __init__(self, *turns: Turn) -> None:
        self.turns: list[Turn] = list(turns)
        self.loads: list[tuple[str, str]] = []

    async def load(self, user_id: str, thread_id: str) -> list[Turn]:
        self.loads.append((user_id, thread_id))
        return list(self.turns)

    async def run(self, agent: OpenAIChatAgent, prompt: str, run_id: str) -> RunOutcome:
        """Store the prompt, run it, store the answer: as the server does."""
        self.turns.append(("user", prompt, run_id))
        runner, sink = Runner(), ListSink()
        runner.start("u1", "t1", agent, prompt, run_id, sink)
        async with asyncio.timeout(SAFETY):
            outcome = await runner.wait(run_id)
        assert_well_formed(sink.events)
        if outcome.text:
            self.turns.append(("assistant", outcome.text, run_id))
        return outcome


async def test__second_run_in_a_thread__sends_the_first_exchange(standin: StandIn) -> None:
    standin.script(
        Stream([*text("Hello, Ada."), finish()]),
        Stream([*text("You are Ada."), finish()]),
    )
    thread = Thread()
    agent = _agent(standin, system_prompt="Be brief.", history=thread.load)

    await thread.run(agent, "I am Ada.", "run_1")
    outcome = await thread.run(agent, "Who am I?", "run_2")
    await agent.aclose()

    assert outcome.text == "You are Ada."
    assert thread.loads == [("u1", "t1"), ("u1", "t1")]
    assert [r["messages"] for r in standin.requests] == [
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "I am Ada."},
        ],
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "I am Ada."},
            {"role": "assistant", "content": "Hello, Ada."},
            {"role": "user", "content": "Who am I?"},
        ],
    ]


async def test__history__prompt_once_last_and_later_runs_left_out(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))
    thread = Thread(
        ("user", "first", "run_0"),
        ("assistant", "first answer", "run_0"),
        ("user", "now", "run_a"),  # the current prompt, stored before the run
        ("user", "queued after", "run_b"),  # a later run's prompt, already stored
    )

    await _run(_agent(standin, history=thread.load), prompt="now")

    assert standin.requests[0]["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "now"},
    ]


async def test__history__kept_for_every_tool_round(standin: StandIn) -> None:
    standin.script(
        Stream([*tool_call(0, "c1", "calculate", '{"expression": "2+2"}'), finish("tool_calls")]),
        Stream([*text("4"), finish()]),
    )
    thread = Thread(("user", "earlier", "run_0"), ("assistant", "reply", "run_0"))

    await _run(_agent(standin, tools=[CALCULATE], history=thread.load), prompt="2+2?")

    earlier = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "2+2?"},
    ]
    assert [r["messages"][:3] for r in standin.requests] == [earlier, earlier]
    assert thread.loads == [("u1", "t1")]


async def test__history_over_the_message_cap__newest_kept(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))
    turns: list[Turn] = []
    for i in range(15):
        turns += [("user", f"q{i}", f"run_{i}"), ("assistant", f"a{i}", f"run_{i}")]
    thread = Thread(*turns)

    await _run(_agent(standin, history=thread.load, max_history_messages=3), prompt="last")

    assert standin.requests[0]["messages"] == [
        {"role": "assistant", "content": "a13"},
        {"role": "user", "content": "q14"},
        {"role": "assistant", "content": "a14"},
        {"role": "user", "content": "last"},
    ]


async def test__history__default_cap_is_twenty_messages(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))
    thread = Thread(*[("user", f"m{i}", f"run_{i}") for i in range(30)])

    await _run(_agent(standin, history=thread.load))

    sent = [m["content"] for m in standin.requests[0]["messages"]]
    assert sent == [f"m{i}" for i in range(10, 30)] + ["hi"]


async def test__history_over_the_character_budget__older_left_out(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))
    thread = Thread(
        ("user", "x" * 50, "run_0"),
        ("assistant", "y" * 30, "run_0"),
        ("user", "z" * 30, "run_1"),
    )

    await _run(_agent(standin, history=thread.load, max_history_chars=70))

    assert standin.requests[0]["messages"] == [
        {"role": "assistant", "content": "y" * 30},
        {"role": "user", "content": "z" * 30},
        {"role": "user", "content": "hi"},
    ]


async def test__history_loader_fails__agent_failed_retryable(standin: StandIn) -> None:
    async def broken(user_id: str, thread_id: str) -> list[Turn]:
        raise ConnectionError("database is down")

    sink, outcome = await _run(_agent(standin, history=broken))

    assert _describe(sink.events[-1]) == ("agent_error", "agent_failed", True)
    assert outcome.error_message == (
        "could not load the thread's earlier messages: database is down"
    )
    assert standin.requests == []


async def test__as_a_sub_agent__history_not_loaded(standin: StandIn) -> None:
    standin.script(Stream([*text("sub answer"), finish()]))
    thread = Thread(("user", "earlier", "run_0"), ("assistant", "reply", "run_0"))
    sub = _agent(standin, history=thread.load)

    class Delegator:
        name = "delegator"

        async def run(self, ctx: RunContext, prompt: str) -> None:
            await ctx.say(await ctx.delegate(sub, "sub question"))

    runner, sink = Runner(), ListSink()
    runner.start("u1", "t1", Delegator(), "hi", "run_a", sink)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    await sub.aclose()

    assert outcome.text == "sub answer"
    assert standin.requests[0]["messages"] == [{"role": "user", "content": "sub question"}]
    assert thread.loads == []


@pytest.mark.parametrize("option", ["max_history_messages", "max_history_chars"])
async def test__negative_history_cap__value_error(option: str) -> None:
    with pytest.raises(ValueError, match=option):
        OpenAIChatAgent("http://127.0.0.1:1/v1", "m", **{option: -1})  # type: ignore[arg-type]


async def test__earlier_turns__skips_other_roles_and_empty_messages() -> None:
    turns: list[Turn] = [
        ("system", "internal", None),
        ("user", "", "run_0"),
        ("user", "question", "run_0"),
        ("assistant", "answer", "run_0"),
    ]

    assert earlier_turns(turns, "run_1", max_messages=20, max_chars=1000) == [
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "answer"},
    ]


async def test__earlier_turns__zero_caps__nothing() -> None:
    turns: list[Turn] = [("user", "q", "run_0")]

    assert earlier_turns(turns, "run_1", max_messages=0, max_chars=1000) == []
    assert earlier_turns(turns, "run_1", max_messages=5, max_chars=0) == []


async def test__usage_of_each_round__summed_on_agent_completed(standin: StandIn) -> None:
    tool_round = [*tool_call(0, "c1", "calculate", '{"expression": "2*3"}'), finish("tool_calls")]
    # Each usage chunk comes after its round's finish_reason, as OpenAI sends it.
    standin.script(
        Stream([*tool_round, usage(12, 7)]), Stream([*text("6"), finish(), usage(30, 4)])
    )

    sink, _ = await _run(_agent(standin, tools=[CALCULATE]), prompt="2*3?")

    [completed] = [e for e in sink.events if isinstance(e, AgentCompleted)]
    assert completed.usage == Usage(input_tokens=42, output_tokens=11, total_tokens=53)
    assert all(r["stream_options"] == {"include_usage": True} for r in standin.requests)


async def test__include_usage_off__not_asked_and_none_reported(standin: StandIn) -> None:
    standin.script(Stream([*text("ok"), finish()]))

    sink, _ = await _run(_agent(standin, include_usage=False))

    assert "stream_options" not in standin.requests[0]
    [completed] = [e for e in sink.events if isinstance(e, AgentCompleted)]
    assert completed.usage is None


@pytest.mark.parametrize(
    "reported",
    [
        {"prompt_tokens": -1, "completion_tokens": 2},
        {"prompt_tokens": "many", "completion_tokens": 2},
        {"prompt_tokens": 1.5, "completion_tokens": 2},
        "lots",
    ],
    ids=["negative", "text", "fraction", "not-an-object"],
)
async def test__malformed_usage__upstream_malformed(standin: StandIn, reported: object) -> None:
    bad = {"id": "x", "object": "chat.completion.chunk", "choices": [], "usage": reported}
    standin.script(Stream([*text("ok"), finish(), bad]))

    sink, _ = await _run(_agent(standin))

    assert _describe(sink.events[-1]) == ("agent_error", "upstream_malformed", False)
