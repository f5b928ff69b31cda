"""The ping fast path is the slow path, byte for byte, wherever it answers.

Both directions against the real codec: a frame :func:`read_ping` takes is one
``decode_client`` accepts as the same ``Ping`` (same values, same types), and
the ``pong`` :func:`pong_frame` writes is the bytes ``encode_server`` writes
for it. Frames the fast path leaves alone still get the slow path's answer
(the core falls back), so "None" is always safe; the lists below make sure
the fast path does answer the shapes clients send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsocket.protocol import (
    ClientEnvelope,
    ProtocolError,
    ServerEnvelope,
    decode_client,
    encode_server,
)
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.fastping import pong_frame, read_ping
from agentsocket.protocol.limits import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS
from agentsocket.protocol.versions import HEAD

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / HEAD.name
MAX_SIZE = 64 * 1024
NOW = 1_764_950_400.123456


def slow_pong(envelope: ClientEnvelope, server_time: float, server_id: str | None) -> bytes:
    """What the router and ``Connection.encode`` send for ``envelope`` (one clock reading)."""
    assert isinstance(envelope.message, c.Ping)
    pong = s.Pong(server_time=server_time, client_time=envelope.message.client_time)
    envelope_out = ServerEnvelope(pong, server_time, server_id, envelope.correlation_id)
    frame = encode_server(envelope_out, HEAD)
    assert frame is not None
    return frame


def assert_same_as_slow(frame: str | bytes, max_size: int = MAX_SIZE) -> bool:
    """True when the fast path answered ``frame`` (and then exactly as the slow path)."""
    fast = read_ping(frame, max_size)
    if fast is None:
        return False
    slow = decode_client(frame, HEAD, max_size)
    assert isinstance(slow, ClientEnvelope), slow
    assert isinstance(slow.message, c.Ping)
    assert slow.correlation_id == fast.correlation_id
    assert slow.message.client_time == fast.client_time
    assert type(slow.message.client_time) is type(fast.client_time)
    for server_id in ("node-a", None):
        assert pong_frame(NOW, fast, server_id) == slow_pong(slow, NOW, server_id)
    return True


def test__golden_ping__answered_with_the_golden_pong() -> None:
    ping = (GOLDEN / "client" / "ping.json").read_bytes()
    golden = orjson.loads((GOLDEN / "server" / "pong.json").read_bytes())
    fast = read_ping(ping, MAX_SIZE)
    assert fast is not None
    pong = pong_frame(golden["data"]["server_time"], fast, golden["server_id"], golden["timestamp"])
    assert pong == orjson.dumps(golden)  # same fields, same order
    assert assert_same_as_slow(ping)


TAKEN: list[Any] = [
    {"type": "ping"},
    {"type": "ping", "correlation_id": "c1"},
    {"type": "ping", "data": {}},
    {"type": "ping", "data": {"client_time": None}, "correlation_id": "x" * 128},
    {"type": "ping", "data": {"client_time": 1757332799.75}, "correlation_id": "req-1"},
    {"type": "ping", "data": {"client_time": 0.0}},
    {"type": "ping", "data": {"client_time": -0.0}},
    {"type": "ping", "data": {"client_time": MIN_EPOCH_SECONDS}},
    {"type": "ping", "data": {"client_time": MAX_EPOCH_SECONDS}},
    {"type": "ping", "data": {"client_time": 1e-300}, "correlation_id": "é😀\u2028"},
    {"correlation_id": "first", "data": {"client_time": 2.5}, "type": "ping"},
]


@pytest.mark.parametrize("frame", TAKEN, ids=range(len(TAKEN)))
def test__plain_pings__fast_path_answers_as_the_slow_path(frame: Any) -> None:
    text = json.dumps(frame, ensure_ascii=False)
    assert assert_same_as_slow(text)
    assert assert_same_as_slow(text.encode())


LEFT: list[Any] = [
    {"type": "ping", "data": {"client_time": 1757332799}},  # int: the model makes it a float
    {"type": "ping", "data": {"client_time": True}},
    {"type": "ping", "data": {"client_time": "1"}},
    {"type": "ping", "data": {"client_time": MAX_EPOCH_SECONDS * 2}},
    {"type": "ping", "data": {"client_time": MIN_EPOCH_SECONDS * 2}},
    {"type": "ping", "data": {"client_time": 1.0, "extra": 1}},
    {"type": "ping", "data": None},
    {"type": "ping", "data": []},
    {"type": "ping", "extra": 1},
    {"type": "ping", "correlation_id": ""},
    {"type": "ping", "correlation_id": "x" * 129},
    {"type": "ping", "correlation_id": "a\x00b"},
    {"type": "ping", "correlation_id": 7},
    {"type": "Ping"},
    {"type": "pong"},
    {"type": "list_threads"},
    ["ping"],
    "ping",
    None,
]


@pytest.mark.parametrize("frame", LEFT, ids=range(len(LEFT)))
def test__other_frames__left_to_the_slow_path(frame: Any) -> None:
    assert read_ping(json.dumps(frame), MAX_SIZE) is None


@pytest.mark.parametrize(
    "frame", [b"", b"{", b"\xff\xfe", '{"type":"ping","correlation_id":"\ud800"}', b"{}" * 300]
)
def test__malformed_or_long_frames__left_to_the_slow_path(frame: str | bytes) -> None:
    assert read_ping(frame, MAX_SIZE) is None


def test__over_the_connections_frame_limit__left_to_the_slow_path() -> None:
    frame = json.dumps({"type": "ping", "correlation_id": "é" * 40}, ensure_ascii=False)
    assert len(frame) < 100 < len(frame.encode()) <= 128
    assert read_ping(frame, 100) is None
    assert read_ping(frame.encode(), 100) is None
    assert isinstance(decode_client(frame, HEAD, 100), ProtocolError)
    assert assert_same_as_slow(frame, 128)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=140),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_times = st.one_of(st.none(), st.floats(MIN_EPOCH_SECONDS, MAX_EPOCH_SECONDS), _values)
_ids = st.one_of(st.none(), st.text(min_size=1, max_size=128), _values)
_plain = st.fixed_dictionaries(
    {"type": st.just("ping")},
    optional={
        "data": st.fixed_dictionaries({}, optional={"client_time": _times}),
        "correlation_id": _ids,
    },
)
_odd = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "pong", "PING"])},
    optional={
        "data": st.one_of(
            st.fixed_dictionaries({}, optional={"client_time": _times, "other": _values}),
            _values,
        ),
        "correlation_id": _ids,
        "seq": _values,
    },
)
_pings = st.one_of(_plain, _odd)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pings)
def test__any_ping_shaped_frame__fast_path_is_the_slow_path_or_steps_aside(frame: Any) -> None:
    assert_same_as_slow(json.dumps(frame))
