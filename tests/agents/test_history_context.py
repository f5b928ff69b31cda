"""RunContext.history(): a thread's earlier turns, as every agent sees them."""

from __future__ import annotations

from collections.abc import Sequence

from agentsocket.agents import ListSink, RunContext, Runner
from agentsocket.agents.history import Turn
from agentsocket.protocol.server_messages import AgentError

THREAD: list[Turn] = [
    ("user", "Hi, I am Ada.", "run_1"),
    ("assistant", "Hello, Ada.", "run_1"),
    ("user", "", "run_2"),
    ("system", "note", None),
    ("user", "What is my name?", "run_3"),  # the current run's own prompt
    ("user", "queued later", "run_4"),
]


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[list[dict[str, str]]] = []
        self.sub_seen: list[dict[str, str]] | None = None

    async def run(self, ctx: RunContext, prompt: str) -> None:
        self.seen.append(await ctx.history())
        self.seen.append(await ctx.history())
        await ctx.delegate(Sub(self), "sub")


class Sub:
    name = "sub"

    def __init__(self, parent: Recorder) -> None:
        self.parent = parent

    async def run(self, ctx: RunContext, prompt: str) -> None:
        self.parent.sub_seen = await ctx.history()


async def test__history__earlier_turns_before_this_runs_prompt_loaded_once() -> None:
    calls: list[tuple[str, str]] = []

    async def load(user_id: str, thread_id: str) -> Sequence[Turn]:
        calls.append((user_id, thread_id))
        return THREAD

    agent = Recorder()
    runner = Runner(history=load)
    runner.start("ada", "thread-1", agent, "What is my name?", "run_3", ListSink())
    outcome = await runner.wait("run_3")
    assert outcome.status == "completed"
    expected = [
        {"role": "user", "content": "Hi, I am Ada."},
        {"role": "assistant", "content": "Hello, Ada."},
    ]
    assert agent.seen == [expected, expected]
    assert agent.sub_seen == expected  # a sub-agent is in the same thread
    assert calls == [("ada", "thread-1")]


async def test__no_loader__empty_history() -> None:
    agent = Recorder()
    runner = Runner()
    runner.start("ada", "thread-1", agent, "hi", "run_1", ListSink())
    await runner.wait("run_1")
    assert agent.seen == [[], []]


async def test__loader_fails__agent_failed_retryable() -> None:
    async def load(user_id: str, thread_id: str) -> Sequence[Turn]:
        raise OSError("database is gone")

    sink = ListSink()
    runner = Runner(history=load)
    runner.start("ada", "thread-1", Recorder(), "hi", "run_1", sink)
    outcome = await runner.wait("run_1")
    assert (outcome.status, outcome.error_code, outcome.retryable) == (
        "error",
        "agent_failed",
        True,
    )
    error = sink.events[-1]
    assert isinstance(error, AgentError)
    assert "earlier messages" in error.message
