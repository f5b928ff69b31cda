"""Stream entries are encoded once per version per node; the head frame is never re-parsed."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from agentsocket.protocol import VERSIONS, ServerEnvelope, ServerMessage, get_version, head_frame
from agentsocket.protocol import server_messages as s
from agentsocket.runs.stream import stream_payload
from agentsocket.server.frames import FrameEncoder, with_seq

DELTA = s.AgentMessageDelta(run_id="r", thread_id="t", agent_name="a", message_id="m", content="hi")
THINKING = s.AgentThinking(run_id="r", thread_id="t", agent_name="a", content="hmm")


def test__with_seq__written_into_the_bytes() -> None:
    payload = stream_payload(DELTA, "node", "cid")
    frame = json.loads(with_seq(payload, 42))
    assert frame["seq"] == 42
    assert frame["correlation_id"] == "cid"
    assert frame["data"]["content"] == "hi"


def test__payload_of_an_older_node_with_null_seq__seq_replaced() -> None:
    frame = json.loads(stream_payload(DELTA, "node"))
    old_payload = orjson.dumps({**frame, "seq": None})
    assert json.loads(with_seq(old_payload, 7))["seq"] == 7
    assert with_seq(old_payload, 7).count(b'"seq"') == 1


def test__head_version__never_parses_the_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(orjson, "loads", refuse)
    encoder = FrameEncoder(lambda: {get_version("v3")})
    text = encoder.frame(3, stream_payload(DELTA, "node"), get_version("v3"))
    assert text is not None
    assert '"seq":3' in text


def test__300_connections_of_three_versions__one_encode_per_version() -> None:
    encoder = FrameEncoder(lambda: set(VERSIONS))
    payload = stream_payload(DELTA, "node")
    texts = {v.name: encoder.frame(7, payload, v) for v in VERSIONS * 100}
    assert encoder.encodes == 3
    assert json.loads(texts["v3"] or "")["seq"] == 7
    assert json.loads(texts["v2"] or "")["type"] == "partial_result"
    assert texts["v1"] is None  # v1 declares deltas dropped


def test__declared_drop__reported_once_per_entry_and_version() -> None:
    dropped: list[tuple[str, str]] = []
    encoder = FrameEncoder(lambda: set(VERSIONS), on_dropped=lambda v, t: dropped.append((v, t)))
    payload = stream_payload(DELTA, "node")
    for _ in range(10):
        encoder.frame(1, payload, get_version("v1"))
    assert dropped == [("v1", "agent_message_delta")]


def test__seq_reused_by_a_new_epoch__not_served_from_cache() -> None:
    v3 = get_version("v3")
    encoder = FrameEncoder(lambda: {v3})
    old = encoder.frame(1, stream_payload(DELTA, "node"), v3)
    new = encoder.frame(1, stream_payload(DELTA.model_copy(update={"content": "bye"}), "n"), v3)
    assert json.loads(old or "")["data"]["content"] == "hi"
    assert json.loads(new or "")["data"]["content"] == "bye"


def test__invalid_outbound_frame__logged_counted_and_dropped_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    invalid: list[tuple[str, str]] = []
    v3 = get_version("v3")
    encoder = FrameEncoder(
        lambda: {v3}, validate=True, on_invalid=lambda v, t: invalid.append((v, t))
    )
    frame = json.loads(stream_payload(THINKING, "node"))
    frame["data"]["content"] = 12  # not a string: fails the client's validation
    assert encoder.frame(1, orjson.dumps(frame), v3) is None
    assert invalid == [("v3", "agent_thinking")]
    assert "fails validation" in caplog.text


@pytest.mark.parametrize(
    "message",
    [
        DELTA,
        THINKING,
        s.ThreadDeleted(thread_id="thr_é😀"),
        s.ToolCompleted(
            run_id="r",
            thread_id="t",
            agent_name="a",
            tool_call_id="c",
            tool_name="calc",
            status="success",
            result={"value": 1e20, "nested": [1, 2.5, None, "x"]},
            duration_ms=2,
        ),
    ],
)
def test__stream_payload__the_head_frame_without_seq(message: ServerMessage) -> None:
    payload = json.loads(stream_payload(message, "node", "cid"))
    expected = head_frame(ServerEnvelope(message, payload["timestamp"], "node", "cid"))
    del expected["seq"]
    assert payload == json.loads(orjson.dumps(expected))


def test__head_only__entry_to_many_connections__one_encode__new_epoch_payload_encoded_again() -> (
    None
):
    encoder = FrameEncoder(lambda: {get_version("v3")})
    v3 = get_version("v3")
    payload = stream_payload(DELTA, "node")
    texts = {encoder.frame(7, payload, v3) for _ in range(100)}
    assert encoder.encodes == 1
    assert len(texts) == 1
    encoder.frame(8, payload, v3)
    assert encoder.encodes == 2
    other = stream_payload(DELTA.model_copy(update={"content": "new epoch"}), "node")
    assert "new epoch" in (encoder.frame(8, other, v3) or "")  # same seq, another epoch's entry
    assert encoder.encodes == 3
