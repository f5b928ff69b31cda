"""The SDK's connection against a scripted peer: what our server never does on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from agentsocket.client import (
    AuthenticationRefused,
    ConnectionLost,
    InvalidState,
    MessageNotInVersion,
    MissedEvents,
    ProtocolViolation,
    RequestError,
    RequestInterrupted,
    State,
    StateChange,
    connect,
)
from agentsocket.protocol import CloseCode, ErrorCode, UnsupportedVersionError
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from tests.client.scripted import Peer, Scripted

FAST = (0.001, 0.01)


def deleted(n: int) -> s.ThreadDeleted:
    """A stream message whose content says which seq it was sent with."""
    return s.ThreadDeleted(thread_id=f"t{n}")


def marker() -> s.DeprecationNotice:
    return s.DeprecationNotice(version="v3", sunset="2100-01-01", message="m", upgrade_to="v4")


def opened_twice() -> tuple[asyncio.Event, Callable[[StateChange], None]]:
    event = asyncio.Event()
    opened: list[StateChange] = []

    def on_state(change: StateChange) -> None:
        if change.state is State.OPEN:
            opened.append(change)
            if len(opened) == 2:
                event.set()

    return event, on_state


async def test__duplicate_and_older_seqs__delivered_once_in_order() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome(seq=0)
        for seq in (1, 2, 2, 1, 3):
            await peer.send(deleted(seq), seq=seq)
        await peer.send(marker())
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        got = [await asyncio.wait_for(conn.receive(), 10) for _ in range(4)]
    assert [e.seq for e in got] == [1, 2, 3, None]
    assert isinstance(got[-1].message, s.DeprecationNotice)
    assert server.peers[0].headers["authorization"] == "Bearer t"


async def _abort(peer: Peer) -> None:
    peer.ws.transport.abort()


async def _close_slow_consumer(peer: Peer) -> None:
    await peer.ws.close(CloseCode.SLOW_CONSUMER, "outbound queue full")


async def _close_restart(peer: Peer) -> None:
    await peer.ws.close(CloseCode.SERVICE_RESTART, "restart")


@pytest.mark.parametrize("drop", [_abort, _close_slow_consumer, _close_restart])
async def test__dropped__reconnects_resuming_after_last_seq_without_duplicates(
    drop: Callable[[Peer], Awaitable[None]],
) -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome(epoch="e1", seq=5)
        await peer.send(deleted(6), seq=6)
        await peer.send(deleted(7), seq=7)
        await peer.receive()  # a ping: the client has read up to here
        await drop(peer)

    async def second(peer: Peer) -> None:
        await peer.welcome(epoch="e1", seq=9)
        for seq in (7, 8, 9):  # 7 again: a replay overlapping what was delivered
            await peer.send(deleted(seq), seq=seq)
        await peer.hold()

    async with (
        Scripted([first, second]) as server,
        connect(server.url, token="t", backoff=FAST) as conn,
    ):
        await conn.receive()
        await conn.receive()
        pinged = asyncio.create_task(conn.ping())
        got = [await asyncio.wait_for(conn.receive(), 10) for _ in range(2)]
        pinged.cancel()
    assert [e.seq for e in got] == [8, 9]
    assert server.peers[1].query == {"last_seq": "7", "epoch": "e1"}


async def test__stream_gap__reaches_app_and_restarts_the_cursor_in_the_new_epoch() -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome(epoch="e1", seq=3)
        await peer.ws.close(CloseCode.GOING_AWAY, "bye")

    async def second(peer: Peer) -> None:
        await peer.welcome(epoch="e2", seq=0)
        gap = s.StreamGap(epoch="e2", from_seq=1, to_seq=0, reason="epoch_changed")
        await peer.send(gap)
        await peer.send(deleted(1), seq=1)  # below the old cursor, but a new epoch
        await peer.hold()

    async with (
        Scripted([first, second]) as server,
        connect(server.url, token="t", backoff=FAST) as conn,
    ):
        got = [await asyncio.wait_for(conn.receive(), 10) for _ in range(2)]
        assert (conn.cursor.epoch, conn.cursor.last_seq) == ("e2", 1)
    assert isinstance(got[0].message, s.StreamGap)
    assert got[1].seq == 1
    assert server.peers[1].query == {"last_seq": "3", "epoch": "e1"}


async def test__events__stream_gap__raises_missed_events() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        started = s.AgentStarted(run_id="r1", thread_id="t", agent_name="demo")
        await peer.send(started, seq=1)
        await peer.send(s.StreamGap(epoch="e1", from_seq=2, to_seq=5, reason="retention"))
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        seen = []
        with pytest.raises(MissedEvents) as missed:
            async for event in conn.events("r1"):
                seen.append(event)
    assert [e.TYPE for e in seen] == ["agent_started"]
    assert (missed.value.gap.from_seq, missed.value.gap.to_seq) == (2, 5)


async def test__events__other_messages_stay_for_the_iterator() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        fields = {"thread_id": "t", "agent_name": "demo"}
        await peer.send(s.AgentStarted(run_id="other", **fields), seq=1)
        await peer.send(s.AgentStarted(run_id="r1", **fields), seq=2)
        await peer.send(s.AgentStarted(run_id="sub", parent_run_id="r1", **fields), seq=3)
        await peer.send(s.AgentCompleted(run_id="sub", parent_run_id="r1", duration_ms=1, **fields))
        await peer.send(s.AgentCompleted(run_id="r1", duration_ms=2, **fields), seq=5)
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        events = [(e.TYPE, e.run_id) async for e in conn.events("r1")]
        left = await asyncio.wait_for(conn.receive(), 10)
    assert events == [
        ("agent_started", "r1"),
        ("agent_started", "sub"),
        ("agent_completed", "sub"),
        ("agent_completed", "r1"),
    ]
    assert isinstance(left.message, s.AgentStarted)
    assert left.message.run_id == "other"


async def test__invalid_server_frame__protocol_violation_and_close_1002() -> None:
    bad = (
        '{"type":"agent_started","data":{"run_id":5},"timestamp":1,'
        '"server_id":null,"correlation_id":null,"seq":1}'
    )
    closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.ws.send(bad)
        await peer.hold()
        closed.set_result(peer.ws.close_code)

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        with pytest.raises(ProtocolViolation) as violation:
            await asyncio.wait_for(conn.receive(), 10)
        assert conn.state is State.CLOSED
    assert violation.value.error is not None
    assert violation.value.error.code is ErrorCode.VALIDATION_FAILED
    assert violation.value.frame == bad
    assert await asyncio.wait_for(closed, 10) == 1002


async def test__unknown_message_type__skipped() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.ws.send('{"type":"from_the_future","data":{},"timestamp":1,"seq":null}')
        await peer.send(marker())
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        envelope = await asyncio.wait_for(conn.receive(), 10)
    assert isinstance(envelope.message, s.DeprecationNotice)


async def test__server_did_not_echo_the_version__protocol_violation() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.hold()

    async with Scripted([script], echo=False) as server:
        with pytest.raises(ProtocolViolation, match="subprotocol"):
            async with connect(server.url, token="t"):
                pass


async def test__welcome_for_another_version__protocol_violation() -> None:
    async def script(peer: Peer) -> None:
        peer.version = "v2"  # the server speaks v2 although it echoed agentsocket.v3
        await peer.welcome()
        await peer.hold()

    async with Scripted([script]) as server:
        with pytest.raises(ProtocolViolation):
            async with connect(server.url, token="t"):
                pass


async def test__no_pong__connection_dropped_and_reopened() -> None:
    async def silent(peer: Peer) -> None:
        await peer.welcome(heartbeat=0.02)
        await peer.hold()

    async def answering(peer: Peer) -> None:
        await peer.welcome(heartbeat=0.02)
        while True:
            ping = await peer.receive()
            assert isinstance(ping.message, c.Ping)
            pong = s.Pong(server_time=0.0, client_time=ping.message.client_time)
            await peer.send(pong, correlation_id=ping.correlation_id)

    reopened, on_state = opened_twice()
    async with (
        Scripted([silent, answering]) as server,
        connect(
            server.url, token="t", heartbeat_timeout=0.3, backoff=FAST, on_state=on_state
        ) as conn,
    ):
        await asyncio.wait_for(reopened.wait(), 10)
        pong = await conn.ping()
    assert pong.client_time is not None
    assert len(server.peers) >= 2  # more only if this machine stalled past the timeout


async def test__error_reply__request_error_with_the_fields() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        request = await peer.receive()
        detail = s.ErrorDetail(path="$.data.limit", reason="too big")
        refusal = s.Error(code=ErrorCode.VALIDATION_FAILED, message="no", errors=[detail])
        await peer.send(refusal, correlation_id=request.correlation_id)
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        with pytest.raises(RequestError) as refused:
            await conn.list_threads()
    assert refused.value.code is ErrorCode.VALIDATION_FAILED
    assert [(e.path, e.reason) for e in refused.value.errors] == [("$.data.limit", "too big")]


async def test__drop_under_requests__safe_ones_resent_others_interrupted() -> None:
    async def first(peer: Peer) -> None:
        await peer.welcome()
        await peer.receive()
        await peer.receive()
        peer.ws.transport.abort()

    async def second(peer: Peer) -> None:
        await peer.welcome()
        request = await peer.receive()
        assert isinstance(request.message, c.ListThreads)
        await peer.send(
            s.ThreadList(threads=[], has_more=False), correlation_id=request.correlation_id
        )
        await peer.hold()

    async with (
        Scripted([first, second]) as server,
        connect(server.url, token="t", backoff=FAST) as conn,
    ):
        creating = asyncio.create_task(conn.create_thread("x"))
        listing = asyncio.create_task(conn.list_threads())
        with pytest.raises(RequestInterrupted):
            await asyncio.wait_for(creating, 10)
        listed = await asyncio.wait_for(listing, 10)
    assert listed.threads == []


async def test__closed_with_4002__authentication_refused_everywhere() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.receive()
        await peer.ws.close(CloseCode.TOKEN_EXPIRED, "expired: token expired")

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        with pytest.raises(AuthenticationRefused) as refused:
            await conn.ping()
        with pytest.raises(AuthenticationRefused):
            await conn.receive()
    assert refused.value.code is CloseCode.TOKEN_EXPIRED
    assert refused.value.reason == "expired: token expired"


async def test__approval_in_v2__message_not_in_version() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.hold()

    async with (
        Scripted([script], version="v2") as server,
        connect(server.url, token="t", version="v2") as conn,
    ):
        with pytest.raises(MessageNotInVersion) as missing:
            await conn.approve("r1", "call1", approved=True)
    assert (missing.value.type_name, missing.value.version) == ("tool_approval", "v2")


QUESTION = {"run_id": "r1", "thread_id": "t1", "agent_name": "demo"}


def answered(answer: object, interrupt_id: str = "q_1") -> s.InterruptResolved:
    return s.InterruptResolved(
        **QUESTION,
        interrupt_id=interrupt_id,
        kind="question",
        resolution="answered",
        answer=answer,
        answered_by="conn-1",
        message="The question was answered.",
    )


async def test__answer_question__refused_with_the_field_then_resolved() -> None:
    received: list[c.QuestionAnswer] = []

    async def script(peer: Peer) -> None:
        await peer.welcome()
        first = await peer.receive()
        assert isinstance(first.message, c.QuestionAnswer)
        received.append(first.message)
        detail = s.ErrorDetail(
            path="$.data.answer.rating", reason="9 is greater than the maximum of 5"
        )
        refusal = s.Error(
            code=ErrorCode.VALIDATION_FAILED,
            message="the answer does not satisfy the question's schema",
            errors=[detail],
        )
        await peer.send(refusal, correlation_id=first.correlation_id)
        second = await peer.receive()
        assert isinstance(second.message, c.QuestionAnswer)
        received.append(second.message)
        # Another question's resolution first: it does not answer this request.
        await peer.send(answered({"rating": 1}, "q_0"), seq=1)
        await peer.send(answered(second.message.answer), seq=2)
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        with pytest.raises(RequestError) as refused:
            await conn.answer_question("r1", "q_1", {"rating": 9})
        resolution = await conn.answer_question("r1", "q_1", {"rating": 4, "comment": "neat"})
        # The stream message also reaches the application, in order.
        seen = [await conn.receive() for _ in range(2)]
    assert refused.value.code is ErrorCode.VALIDATION_FAILED
    assert [(e.path, e.reason) for e in refused.value.errors] == [
        ("$.data.answer.rating", "9 is greater than the maximum of 5")
    ]
    assert [(m.run_id, m.question_id, m.answer) for m in received] == [
        ("r1", "q_1", {"rating": 9}),
        ("r1", "q_1", {"rating": 4, "comment": "neat"}),
    ]
    assert (resolution.interrupt_id, resolution.answer) == (
        "q_1",
        {"rating": 4, "comment": "neat"},
    )
    assert [e.message.interrupt_id for e in seen if isinstance(e.message, s.InterruptResolved)] == [
        "q_0",
        "q_1",
    ]


async def test__approve_with_edited_arguments__sent_and_answered_by_the_calls_next_event() -> None:
    received: list[c.ToolApproval] = []

    async def script(peer: Peer) -> None:
        await peer.welcome()
        request = await peer.receive()
        assert isinstance(request.message, c.ToolApproval)
        received.append(request.message)
        arguments = request.message.arguments or {}
        await peer.send(
            s.ToolExecuting(
                **QUESTION, tool_call_id="call1", tool_name="announce", arguments=arguments
            ),
            seq=1,
        )
        await peer.hold()

    async with Scripted([script]) as server, connect(server.url, token="t") as conn:
        running = await conn.approve("r1", "call1", True, arguments={"text": "edited"})
    assert [(m.approved, m.arguments) for m in received] == [(True, {"text": "edited"})]
    assert isinstance(running, s.ToolExecuting)
    assert running.arguments == {"text": "edited"}


async def test__answer_question_in_v2__message_not_in_version() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.hold()

    async with (
        Scripted([script], version="v2") as server,
        connect(server.url, token="t", version="v2") as conn,
    ):
        with pytest.raises(MessageNotInVersion) as missing:
            await conn.answer_question("r1", "q_1", {"rating": 4})
    assert (missing.value.type_name, missing.value.version) == ("question_answer", "v2")


async def test__ticket_factory__a_fresh_ticket_in_the_query_of_every_attempt() -> None:
    tickets = iter(["one", "two"])

    async def ticket() -> str:
        return next(tickets)

    async def first(peer: Peer) -> None:
        await peer.welcome()
        await peer.ws.close(CloseCode.SERVICE_RESTART, "restart")

    async def second(peer: Peer) -> None:
        await peer.welcome()
        await peer.hold()

    reopened, on_state = opened_twice()
    async with (
        Scripted([first, second]) as server,
        connect(server.url, ticket_factory=ticket, backoff=FAST, on_state=on_state),
    ):
        await asyncio.wait_for(reopened.wait(), 10)
    assert [p.query.get("ticket") for p in server.peers] == ["one", "two"]
    assert all("authorization" not in p.headers for p in server.peers)


async def test__after_close__requests_raise_invalid_state_and_iteration_ends() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.hold()

    async with Scripted([script]) as server:
        conn = await connect(server.url, token="t")
        await conn.close()
        await conn.close()  # idempotent
        with pytest.raises(InvalidState):
            await conn.ping()
        assert [e async for e in conn] == []
        assert conn.state is State.CLOSED


def test__token_and_ticket_factory__value_error() -> None:
    async def ticket() -> str:
        return "x"

    with pytest.raises(ValueError, match="not both"):
        connect("ws://127.0.0.1:1/ws", token="t", ticket_factory=ticket)


def test__unknown_version__unsupported_version_error() -> None:
    with pytest.raises(UnsupportedVersionError):
        connect("ws://127.0.0.1:1/ws", token="t", version="v9")


async def test__reconnect_off__a_drop_ends_with_connection_lost() -> None:
    async def script(peer: Peer) -> None:
        await peer.welcome()
        await peer.send(marker())
        peer.ws.transport.abort()

    async with (
        Scripted([script]) as server,
        connect(server.url, token="t", reconnect=False) as conn,
    ):
        seen = []
        with pytest.raises(ConnectionLost) as lost:
            async for envelope in conn:
                seen.append(envelope.type)
    assert seen == ["deprecation_notice"]  # what arrived before the drop comes first
    assert lost.value.attempts == 0
    assert len(server.peers) == 1
