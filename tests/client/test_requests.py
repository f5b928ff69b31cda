"""Which server message answers which request, and what a reconnect resends."""

from __future__ import annotations

import time

from agentsocket.client import RequestError
from agentsocket.client.requests import (
    Pending,
    Requests,
    reply,
    resolved,
    run_end,
    tool_decided,
)
from agentsocket.protocol import ClientEnvelope, ErrorCode, ServerEnvelope, ServerMessage
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s

FIELDS = {"thread_id": "t", "agent_name": "demo"}


def pending(cid: str, *, resend: bool = True, completes: object = None) -> Pending:
    return Pending(
        ClientEnvelope(c.ListThreads(), cid),
        "{}",
        completes or reply(s.ThreadList, cid),  # type: ignore[arg-type]
        resend,
    )


def env(message: ServerMessage, cid: str | None = None, seq: int | None = None) -> ServerEnvelope:
    return ServerEnvelope(message, time.time(), None, cid, seq)


def test__reply_with_the_id__answers_and_is_consumed() -> None:
    requests = Requests()
    mine, other = pending("a"), pending("b")
    requests.add(mine)
    requests.add(other)
    answer = s.ThreadList(threads=[], has_more=False)
    assert requests.route(env(answer, "a")) == ([(mine, answer)], True)


def test__late_reply__consumed_without_an_answer() -> None:
    assert Requests().route(env(s.Pong(server_time=1.0), "gone")) == ([], True)


def test__uncorrelated_message__left_for_the_application() -> None:
    requests = Requests()
    requests.add(pending("a"))
    notice = s.ServerShutdown(reason="bye", reconnect_after=1)
    assert requests.route(env(notice)) == ([], False)


def test__error_with_the_id__request_error_with_every_field() -> None:
    requests = Requests()
    mine = pending("a")
    requests.add(mine)
    detail = s.ErrorDetail(path="$.data.limit", reason="too big")
    error = s.Error(code=ErrorCode.RATE_LIMITED, message="slow", errors=[detail], retry_after=2)
    [(answered, outcome)], consumed = requests.route(env(error, "a"))
    assert answered is mine
    assert consumed
    assert isinstance(outcome, RequestError)
    assert (outcome.code, outcome.message, outcome.retry_after) == (
        ErrorCode.RATE_LIMITED,
        "slow",
        2,
    )
    assert outcome.errors == (detail,)


def test__stream_reply__answers_and_still_reaches_the_application() -> None:
    requests = Requests()
    cid = "a"
    mine = pending(cid, completes=reply(s.ThreadCreated, cid))
    requests.add(mine)
    info = s.ThreadInfo(thread_id="t", title=None, created_at=0, updated_at=0)
    created = s.ThreadCreated(thread=info)
    assert requests.route(env(created, cid, seq=4)) == ([(mine, created)], False)


def test__run_end__any_terminal_event_of_that_run() -> None:
    done = run_end("r1")
    assert done(s.AgentCancelled(run_id="r1", reason="stopped", **FIELDS), None)
    assert done(s.AgentCompleted(run_id="r1", duration_ms=1, **FIELDS), None)
    assert not done(s.AgentCompleted(run_id="r2", duration_ms=1, **FIELDS), None)
    assert not done(s.AgentStarted(run_id="r1", **FIELDS), None)


def test__tool_decided__the_calls_next_event() -> None:
    decided = tool_decided("r1", "call1")
    running = s.ToolExecuting(
        run_id="r1", tool_call_id="call1", tool_name="x", arguments={}, **FIELDS
    )
    other = s.ToolExecuting(
        run_id="r1", tool_call_id="call2", tool_name="x", arguments={}, **FIELDS
    )
    assert decided(running, None)
    assert not decided(other, None)


def test__resolved__that_pauses_interrupt_resolved_only() -> None:
    done = resolved("r1", "q_1")

    def resolution(run_id: str, interrupt_id: str) -> s.InterruptResolved:
        return s.InterruptResolved(
            run_id=run_id,
            interrupt_id=interrupt_id,
            kind="question",
            resolution="answered",
            answer={"rating": 4},
            message="The question was answered.",
            **FIELDS,
        )

    assert done(resolution("r1", "q_1"), None)
    assert not done(resolution("r1", "q_2"), None)
    assert not done(resolution("r2", "q_1"), None)
    assert not done(s.AgentCompleted(run_id="r1", duration_ms=1, **FIELDS), None)


def test__reconnect__resends_safe_and_unsent_interrupts_the_rest() -> None:
    requests = Requests()
    never, safe, unsafe, current = (
        pending("never", resend=False),
        pending("safe"),
        pending("unsafe", resend=False),
        pending("current"),
    )
    for p in (never, safe, unsafe, current):
        requests.add(p)
    safe.sent_on = unsafe.sent_on = 1
    current.sent_on = 2
    assert requests.interrupted(1) == [unsafe]
    assert requests.unsent(2) == [never, safe]
    requests.remove(unsafe)
    assert [p.correlation_id for p in requests] == ["never", "safe", "current"]
    assert len(requests) == 3
