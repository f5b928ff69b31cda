"""Following a thread's runs in flight from a history answer: literal frames, no socket."""

from __future__ import annotations

import time
from typing import Any

from agentsocket.client.rejoin import RunFollower
from agentsocket.protocol import ServerEnvelope, ServerMessage
from agentsocket.protocol import server_messages as s

RUN = {"run_id": "run_1", "thread_id": "thr_1", "agent_name": "demo", "parent_run_id": None}
SUB = {**RUN, "run_id": "sub_1", "parent_run_id": "run_1"}


def frame(kind: str, seq: int, **data: Any) -> s.StreamFrame:
    return s.StreamFrame(type=kind, data=data, seq=seq, timestamp=1.0)


def history(*events: s.StreamFrame, cut: int | None = 9) -> s.ThreadHistory:
    return s.ThreadHistory(
        thread_id="thr_1", messages=[], has_more=False, events=list(events), stream_seq=cut
    )


def live(message: ServerMessage, seq: int | None) -> ServerEnvelope:
    return ServerEnvelope(message, time.time(), seq=seq)


def test__snapshot__decoded_in_order_and_the_run_open() -> None:
    follower = RunFollower(
        history(
            frame("agent_started", 5, **RUN),
            frame("agent_started", 6, **SUB),
            frame("agent_message_delta", 7, **RUN, message_id="m", content="4"),
        ),
        "v3",
    )
    assert [type(m) for m in follower.snapshot] == [
        s.AgentStarted,
        s.AgentStarted,
        s.AgentMessageDelta,
    ]
    assert not follower.done


def test__live_past_the_cut__fresh_at_or_before__not() -> None:
    follower = RunFollower(history(frame("agent_started", 5, **RUN)), "v3")
    delta = s.AgentMessageDelta(**RUN, message_id="m", content="2")
    assert follower.concerns(live(delta, 9))
    assert not follower.fresh(live(delta, 9))
    assert follower.fresh(live(delta, 10))


def test__sub_runs_of_followed_runs__concern_others_not() -> None:
    follower = RunFollower(history(frame("agent_started", 5, **RUN)), "v3")
    sub = s.AgentThinking(**{**SUB, "run_id": "sub_9"}, content="x")
    other = s.AgentThinking(**{**RUN, "run_id": "run_2"}, content="x")
    assert follower.concerns(live(sub, 11))
    assert not follower.concerns(live(other, 12))
    assert not follower.concerns(live(s.ThreadDeleted(thread_id="thr_1"), 13))
    assert not follower.concerns(live(s.AgentStarted(**RUN), None))  # not a stream message
    gap = s.StreamGap(epoch="e", from_seq=1, to_seq=3, reason="retention")
    assert follower.concerns(live(gap, None))


def test__root_terminal__done_sub_run_terminal__not() -> None:
    follower = RunFollower(history(frame("agent_started", 5, **RUN)), "v3")
    follower.track(s.AgentCompleted(**SUB, duration_ms=1.0))
    assert not follower.done
    follower.track(s.AgentCompleted(**RUN, duration_ms=1.0))
    assert follower.done


def test__terminal_inside_the_snapshot__done_at_once() -> None:
    follower = RunFollower(
        history(
            frame("agent_started", 5, **RUN),
            frame("agent_cancelled", 6, **RUN, reason="user_request"),
        ),
        "v3",
    )
    assert follower.done


def test__unknown_or_malformed_snapshot_frames__skipped() -> None:
    follower = RunFollower(
        history(
            frame("agent_levitated", 5, **RUN),
            frame("agent_started", 6, run_id="run_1"),  # fields missing
            frame("agent_started", 7, **RUN),
        ),
        "v3",
    )
    assert [type(m) for m in follower.snapshot] == [s.AgentStarted]


def test__no_cut__nothing_in_flight_everything_fresh() -> None:
    follower = RunFollower(history(cut=None), "v3")
    assert follower.done
    assert follower.snapshot == []
    assert follower.fresh(live(s.AgentStarted(**RUN), 1))
