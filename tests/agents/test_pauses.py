"""Pauses (agentsocket.agents.pauses): stored before they are sent, suspended at shutdown,
continued by replay in another runner, defaults for clients that cannot answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentsocket.agents import ListSink, RunContext, Runner, RunOutcome
from agentsocket.agents.pauses import Pause, Replay, Resolution
from agentsocket.protocol.server_messages import (
    AgentCompleted,
    AgentError,
    AgentMessage,
    AgentQuestion,
    AgentStarted,
    AgentThinking,
    InterruptResolved,
)
from tests.agents.helpers import FuncAgent, assert_well_formed, wait_for_event

SAFETY = 10.0
RATING = {
    "type": "object",
    "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["rating"],
}


class Book:
    """A pause book that keeps what it was given, as the store would."""

    def __init__(self) -> None:
        self.opened: list[Pause] = []
        self.expired: list[Pause] = []

    async def open(self, pause: Pause) -> None:
        self.opened.append(pause)

    async def expire(self, pause: Pause) -> Resolution:
        self.expired.append(pause)
        return pause.resolved_by_default("expired")


async def survey(ctx: RunContext, prompt: str) -> None:
    """Thinks, asks a question inside a sub-run, then says what the answer was."""
    await ctx.think("before the question")
    async with ctx.sub_run("asker") as sub:
        answer = await sub.ask("Rate it", RATING, default={"rating": 3})
        await sub.say(f"rated {answer.value['rating']} ({answer.resolution})")
    await ctx.say("done")


def _start(runner: Runner, sink: ListSink, **kwargs: Any) -> None:
    runner.start("u1", "t1", FuncAgent("agent", survey), "prompt", "run_a", sink, **kwargs)


async def test__shutdown_while_waiting__suspended__nothing_ends_nothing_stored() -> None:
    finished: list[RunOutcome] = []

    async def on_finish(outcome: RunOutcome) -> None:
        finished.append(outcome)

    runner, sink, book = Runner(on_finish=on_finish), ListSink(), Book()
    _start(runner, sink, pauses=book)
    question = await wait_for_event(sink, AgentQuestion)

    async with asyncio.timeout(SAFETY):
        await runner.shutdown()

    assert finished == []  # not stored as ended: another process continues it
    assert [type(e).__name__ for e in sink.events][-1] == "AgentQuestion"
    (pause,) = book.opened
    assert (pause.kind, pause.interrupt_id, pause.node_run_id) == (
        "question",
        question.question_id,
        question.run_id,
    )
    assert pause.sub_run_ids == (question.run_id,)
    assert runner.get("run_a") is None


async def test__continued_by_replay__no_event_twice__same_ids__answer_used() -> None:
    first, sink, book = Runner(), ListSink(), Book()
    _start(first, sink, pauses=book)
    question = await wait_for_event(sink, AgentQuestion)
    await first.shutdown()
    (pause,) = book.opened

    answer = Resolution("answered", answer={"rating": 5}, answered_by="conn_2")
    second, after = Runner(), ListSink()
    _start(second, after, pauses=Book(), replay=Replay.of([(pause, answer)]))
    async with asyncio.timeout(SAFETY):
        outcome = await second.wait("run_a")

    kinds = [type(e).__name__ for e in after.events]
    assert kinds[0] == "InterruptResolved"  # what came before the pause is not sent again
    assert "AgentStarted" not in kinds
    assert "AgentThinking" not in kinds
    resolved = after.of_type(InterruptResolved)[0]
    assert (resolved.run_id, resolved.interrupt_id, resolved.answered_by) == (
        question.run_id,
        question.question_id,
        "conn_2",
    )
    sub_end, root_end = after.of_type(AgentCompleted)
    assert (sub_end.run_id, root_end.run_id) == (question.run_id, "run_a")
    assert outcome.status == "completed"
    assert outcome.text == "done"
    assert_well_formed(sink.events + after.events)
    assert _messages(after) == ["rated 5 (answered)", "done"]


async def test__replay_that_asks_something_else__resume_diverged() -> None:
    first, sink, book = Runner(), ListSink(), Book()
    _start(first, sink, pauses=book)
    await wait_for_event(sink, AgentQuestion)
    await first.shutdown()
    (pause,) = book.opened
    other = Pause(**{**_fields(pause), "prompt": "Something else?"})

    second, after = Runner(), ListSink()
    _start(second, after, replay=Replay.of([(other, Resolution("answered", answer={}))]))
    async with asyncio.timeout(SAFETY):
        outcome = await second.wait("run_a")

    assert (outcome.status, outcome.error_code) == ("error", "resume_diverged")
    assert after.of_type(AgentError)[-1].retryable is True


async def test__unanswerable_client__default_at_once__announced_in_thinking() -> None:
    runner, sink, book = Runner(), ListSink(), Book()
    _start(runner, sink, pauses=book, answerable=False)
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")

    assert book.opened == []  # nothing to wait for, nothing stored
    assert outcome.text == "done"
    assert any(m == "rated 3 (unanswerable)" for m in _messages(sink))
    thoughts = [e.content for e in sink.of_type(AgentThinking)]
    assert "This client cannot answer questions: the default answer applied (the default)." in (
        thoughts
    )
    assert sink.of_type(InterruptResolved)[0].resolution == "unanswerable"
    assert sink.of_type(AgentQuestion) == []


async def test__expired_in_memory__default_applied_and_said() -> None:
    runner, sink, book = Runner(approval_timeout=0.05), ListSink(), Book()
    _start(runner, sink, pauses=book)
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")

    assert [p.kind for p in book.expired] == ["question"]
    resolved = sink.of_type(InterruptResolved)[0]
    assert (resolved.resolution, resolved.answer) == ("expired", {"rating": 3})
    assert "No answer within 0.05 seconds" in resolved.message
    assert "rated 3 (expired)" in _messages(sink)
    assert len(sink.of_type(AgentStarted)) == 2


@pytest.mark.parametrize(
    ("schema", "default"),
    [({"type": "nonsense"}, None), (RATING, {"rating": 9})],
)
async def test__ask__invalid_schema_or_default__value_error(
    schema: dict[str, Any], default: Any
) -> None:
    raised: list[BaseException] = []

    async def asks(ctx: RunContext, prompt: str) -> None:
        try:
            await ctx.ask("?", schema, default=default)
        except ValueError as exc:
            raised.append(exc)

    runner = Runner()
    runner.start("u1", "t1", FuncAgent("agent", asks), "p", "run_a", ListSink())
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")
    assert len(raised) == 1


def _fields(pause: Pause) -> dict[str, Any]:
    return {name: getattr(pause, name) for name in Pause.__dataclass_fields__}


def _messages(sink: ListSink) -> list[str]:
    return [e.content for e in sink.of_type(AgentMessage)]


async def test__waiting_for_a_person__does_not_count_towards_the_run_timeout() -> None:
    runner, sink = Runner(timeout=0.3), ListSink()
    _start(runner, sink, pauses=Book())
    question = await wait_for_event(sink, AgentQuestion)
    await asyncio.sleep(0.5)  # longer than the whole run may take: the clock is stopped

    answer = Resolution("answered", answer={"rating": 2})
    assert runner.resolve(question.run_id, question.question_id, answer, user_id="u1")
    async with asyncio.timeout(SAFETY):
        outcome = await runner.wait("run_a")
    assert outcome.status == "completed"
    assert "rated 2 (answered)" in _messages(sink)


async def test__answer__only_the_runs_user__only_once() -> None:
    runner, sink = Runner(), ListSink()
    _start(runner, sink, pauses=Book())
    question = await wait_for_event(sink, AgentQuestion)
    answer = Resolution("answered", answer={"rating": 1})

    assert runner.pending(question.run_id, question.question_id, "mallory") is None
    assert not runner.resolve(question.run_id, question.question_id, answer, user_id="mallory")
    assert runner.pending(question.run_id, question.question_id, "u1") is not None
    assert runner.resolve(question.run_id, question.question_id, answer, user_id="u1")
    assert not runner.resolve(question.run_id, question.question_id, answer, user_id="u1")
    async with asyncio.timeout(SAFETY):
        await runner.wait("run_a")


async def test__replay_that_ends_before_its_last_pause__resume_diverged() -> None:
    first, sink, book = Runner(), ListSink(), Book()
    _start(first, sink, pauses=book)
    await wait_for_event(sink, AgentQuestion)
    await first.shutdown()
    (pause,) = book.opened

    async def asks_nothing(ctx: RunContext, prompt: str) -> None:
        await ctx.say("no question this time")

    second, after = Runner(), ListSink()
    replay = Replay.of([(pause, Resolution("answered", answer={"rating": 1}))])
    agent = FuncAgent("agent", asks_nothing)
    second.start("u1", "t1", agent, "prompt", "run_a", after, replay=replay)
    async with asyncio.timeout(SAFETY):
        outcome = await second.wait("run_a")

    assert (outcome.status, outcome.error_code) == ("error", "resume_diverged")
    assert [type(e).__name__ for e in after.events] == ["AgentError"]
