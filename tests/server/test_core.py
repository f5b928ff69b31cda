"""The sans-I/O connection core: frames in, actions out — no socket, no task, no clock."""

from __future__ import annotations

import json

import pytest

from agentsocket.protocol import CloseCode, get_version
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.server.core import (
    MAX_CLOSE_REASON,
    AnswerPing,
    Close,
    ConnectionCore,
    Dispatch,
    InvalidState,
    Reply,
    State,
    close_reason,
)
from agentsocket.server.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def core(
    *, rate: float = 100.0, burst: int = 100, user_burst: int = 1000, threshold: int = 3
) -> tuple[ConnectionCore, Clock]:
    clock = Clock()
    return (
        ConnectionCore(
            get_version("v3"),
            bucket=TokenBucket(rate, burst, clock),
            user_bucket=TokenBucket(rate, user_burst, clock),
            max_frame_size=1024,
            abuse_threshold=threshold,
        ),
        clock,
    )


PING = json.dumps({"type": "ping", "correlation_id": "p"})
#: Taken, whichever path: a plain v3 ping is answered by the fast path.
ACCEPTED = (Dispatch, AnswerPing)


def error_code(action: object) -> str:
    assert isinstance(action, Reply)
    assert isinstance(action.message, s.Error)
    return action.message.code.value


# --- requests -----------------------------------------------------------------------------


def test__valid_frame__dispatched_with_its_correlation_id() -> None:
    conn, _ = core()
    [action] = conn.receive_frame(json.dumps({"type": "list_threads", "correlation_id": "p"}))
    assert isinstance(action, Dispatch)
    assert isinstance(action.envelope.message, c.ListThreads)
    assert action.envelope.correlation_id == "p"


def test__plain_v3_ping__answered_by_the_fast_path_with_its_values() -> None:
    conn, _ = core()
    frame = json.dumps({"type": "ping", "data": {"client_time": 1.5e9}, "correlation_id": "p"})
    [action] = conn.receive_frame(frame)
    assert isinstance(action, AnswerPing)
    assert (action.ping.client_time, action.ping.correlation_id) == (1.5e9, "p")


@pytest.mark.parametrize(
    "frame",
    [
        # An int time: the model makes it a float; the slow path reads it.
        {"type": "ping", "data": {"client_time": 1500000000}},
        # Refused by the slow path, with its typed error.
        {"type": "ping", "data": {"client_time": "now"}},
        {"type": "ping", "extra": 1},
    ],
)
def test__other_pings__taken_by_the_slow_path(frame: dict[str, object]) -> None:
    conn, _ = core()
    [action] = conn.receive_frame(json.dumps(frame))
    assert isinstance(action, Dispatch | Reply)
    if isinstance(action, Dispatch):
        assert action.envelope.message == c.Ping(client_time=1.5e9)
    else:
        assert error_code(action) == "validation_failed"


def test__v2_ping__taken_by_the_slow_path() -> None:
    clock = Clock()
    v2 = ConnectionCore(
        get_version("v2"),
        bucket=TokenBucket(100, 100, clock),
        user_bucket=TokenBucket(100, 100, clock),
        max_frame_size=1024,
        abuse_threshold=3,
    )
    [action] = v2.receive_frame(PING)
    assert isinstance(action, Dispatch)


def test__bad_frame__typed_error_reply_and_the_connection_stays_open() -> None:
    conn, _ = core()
    [action] = conn.receive_frame("{not json")
    assert error_code(action) == "invalid_json"
    assert conn.state is State.OPEN


# --- rate limiting ------------------------------------------------------------------------


def test__burst_exhausted__rate_limited_with_retry_after_then_refilled() -> None:
    conn, clock = core(rate=2.0, burst=2)
    assert all(isinstance(conn.receive_frame(PING)[0], ACCEPTED) for _ in range(2))
    [limited] = conn.receive_frame(PING)
    assert error_code(limited) == "rate_limited"
    assert isinstance(limited, Reply)
    assert isinstance(limited.message, s.Error)
    assert limited.message.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert isinstance(conn.receive_frame(PING)[0], ACCEPTED)


def test__user_bucket_shared__limits_across_connections() -> None:
    clock = Clock()
    user = TokenBucket(1.0, 2, clock)
    a, b = (
        ConnectionCore(
            get_version("v3"),
            bucket=TokenBucket(100, 100, clock),
            user_bucket=user,
            max_frame_size=1024,
            abuse_threshold=10,
        )
        for _ in range(2)
    )
    assert isinstance(a.receive_frame(PING)[0], ACCEPTED)
    assert isinstance(b.receive_frame(PING)[0], ACCEPTED)
    assert error_code(a.receive_frame(PING)[0]) == "rate_limited"
    assert error_code(b.receive_frame(PING)[0]) == "rate_limited"


# --- abuse --------------------------------------------------------------------------------


def test__refused_frames_in_a_row__closed_with_4008_after_the_threshold() -> None:
    conn, _ = core(threshold=3)
    assert len(conn.receive_frame("x")) == 1
    assert len(conn.receive_frame("x")) == 1
    reply, close = conn.receive_frame("x")
    assert error_code(reply) == "invalid_json"
    assert close == Close(CloseCode.ABUSE, "too many refused frames", True)
    assert conn.state is State.CLOSING
    assert conn.receive_frame(PING) == []  # nothing more is read once closing


def test__a_valid_frame__resets_the_refusal_count() -> None:
    conn, _ = core(threshold=3)
    conn.receive_frame("x")
    conn.receive_frame("x")
    conn.receive_frame(PING)
    conn.receive_frame("x")
    conn.receive_frame("x")
    assert conn.state is State.OPEN


def test__rate_limited_frames__count_towards_abuse() -> None:
    conn, _ = core(rate=1.0, burst=1, threshold=2)
    conn.receive_frame(PING)
    conn.receive_frame(PING)
    actions = conn.receive_frame(PING)
    assert isinstance(actions[-1], Close)
    assert actions[-1].code is CloseCode.ABUSE


# --- resume de-duplication ------------------------------------------------------------------


def test__resume_to_an_older_position__never_resends_what_was_sent() -> None:
    conn, _ = core()
    conn.stream_from(10)
    assert [seq for seq in (11, 12, 13) if conn.take_seq(seq)] == [11, 12, 13]
    conn.stream_from(5)  # the client asks again from 5
    assert [seq for seq in range(6, 16) if conn.take_seq(seq)] == [6, 7, 8, 9, 10, 14, 15]


def test__second_resume__keeps_the_first_skip_window_and_grows_it() -> None:
    conn, _ = core()
    conn.stream_from(0)
    for seq in (1, 2, 3):
        conn.take_seq(seq)
    conn.stream_from(0)
    assert [seq for seq in (1, 2, 3, 4) if conn.take_seq(seq)] == [4]
    conn.stream_from(2)
    assert [seq for seq in (3, 4, 5) if conn.take_seq(seq)] == [5]


def test__gap__moves_the_position_past_it() -> None:
    conn, _ = core()
    conn.stream_from(0)
    conn.take_gap(50)
    assert conn.last_seq == 50
    assert conn.take_seq(51)


# --- closing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.NORMAL,
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.TOKEN_EXPIRED,
        CloseCode.ABUSE,
        CloseCode.SLOW_CONSUMER,
        CloseCode.NOT_READY,
    ],
)
def test__close__open_to_closing_to_closed(code: CloseCode) -> None:
    conn, _ = core()
    close = conn.close(code, "why", flush=code is not CloseCode.SLOW_CONSUMER)
    assert close.code is code
    assert conn.close_code is code
    assert conn.state is State.CLOSING
    conn.closed()
    assert conn.state.name == "CLOSED"


def test__close_twice__invalid_state_and_the_first_close_wins() -> None:
    conn, _ = core()
    conn.close(CloseCode.SLOW_CONSUMER, "slow", flush=False)
    with pytest.raises(InvalidState):
        conn.close(CloseCode.NORMAL, "bye")
    assert conn.close_if_open(CloseCode.NORMAL, "bye") is None
    assert conn.close_code is CloseCode.SLOW_CONSUMER


def test__peer_leaves__open_straight_to_closed() -> None:
    conn, _ = core()
    conn.closed()
    assert conn.state is State.CLOSED
    assert conn.close_if_open(CloseCode.NORMAL, "bye") is None
    assert conn.receive_frame(PING) == []


@pytest.mark.parametrize(
    "text",
    [
        "unsupported protocol: " + "\N{GRINNING FACE}" * 40,
        "origin not allowed: " + "é" * 70,
        "x" * 500,
    ],
)
def test__close_reason__at_most_123_bytes_on_a_character_boundary(text: str) -> None:
    reason = close_reason(text)
    raw = reason.encode()
    assert len(raw) <= MAX_CLOSE_REASON
    assert len(raw) >= MAX_CLOSE_REASON - 3  # cut only at the end
    assert text.startswith(reason)
    conn, _ = core()
    assert len(conn.close(CloseCode.FORBIDDEN_ORIGIN, text).reason.encode()) <= MAX_CLOSE_REASON


def test__short_close_reason__unchanged() -> None:
    assert close_reason("bye") == "bye"
