"""The stream cursor: resume point, duplicate filter, gaps and epochs."""

from __future__ import annotations

import itertools
import time

from hypothesis import given
from hypothesis import strategies as st

from agentsocket.client import StreamCursor
from agentsocket.protocol import ServerEnvelope
from agentsocket.protocol import server_messages as s


def envelope(seq: int | None) -> ServerEnvelope:
    return ServerEnvelope(s.ThreadDeleted(thread_id="t"), time.time(), seq=seq)


def welcome(epoch: str | None = "e1", seq: int = 0) -> s.ConnectionEstablished:
    return s.ConnectionEstablished(
        connection_id="c",
        user_id="u",
        protocol_version="v3" if epoch else "v2",
        server_time=0.0,
        environment="test",
        heartbeat_interval=None,
        max_frame_size=None,
        stream=s.StreamPosition(epoch=epoch, seq=seq) if epoch else None,
    )


def gap(epoch: str, from_seq: int, to_seq: int) -> ServerEnvelope:
    message = s.StreamGap(epoch=epoch, from_seq=from_seq, to_seq=to_seq, reason="epoch_changed")
    return ServerEnvelope(message, time.time())


def test__first_welcome__sets_the_position_later_ones_do_not() -> None:
    cursor = StreamCursor()
    cursor.welcome(welcome("e1", 10))
    assert cursor.resume_query() == {"last_seq": "10", "epoch": "e1"}
    cursor.welcome(welcome("e1", 50))  # a reconnect's welcome: the stream's newest seq
    assert cursor.resume_query() == {"last_seq": "10", "epoch": "e1"}


def test__v1_v2_welcome__no_position_until_a_stream_message() -> None:
    cursor = StreamCursor()
    cursor.welcome(welcome(None))
    assert cursor.resume_query() == {}
    assert cursor.accept(envelope(7))
    assert cursor.resume_query() == {"last_seq": "7"}


def test__accept__drops_seen_and_older_seqs_passes_unsequenced() -> None:
    cursor = StreamCursor(epoch="e1", last_seq=3)
    results = [cursor.accept(envelope(seq)) for seq in (2, 3, 4, 4, None, 6, 5)]
    assert results == [False, False, True, False, True, True, False]
    assert cursor.last_seq == 6


def test__gap__moves_the_cursor_even_backwards_into_a_new_epoch() -> None:
    cursor = StreamCursor(epoch="e1", last_seq=40)
    assert cursor.accept(gap("e2", 1, 0))
    assert (cursor.epoch, cursor.last_seq) == ("e2", 0)
    assert cursor.accept(envelope(1))
    assert cursor.resume_query() == {"last_seq": "1", "epoch": "e2"}


@given(st.lists(st.integers(1, 50), max_size=200))
def test__accepted_seqs__strictly_increasing_whatever_arrives(seqs: list[int]) -> None:
    cursor = StreamCursor()
    accepted = [seq for seq in seqs if cursor.accept(envelope(seq))]
    assert all(a < b for a, b in itertools.pairwise(accepted))
    if seqs:
        assert cursor.last_seq == max(seqs)
