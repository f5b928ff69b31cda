"""A history's nested stream frames (``thread_history.events``) go down with it."""

from __future__ import annotations

from typing import Any, ClassVar

from agentsocket.protocol import decode_server, encode_server
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.examples import SERVER_EXAMPLES
from agentsocket.protocol.versions import Frame, Version, VersionChange, server_step_down
from agentsocket.protocol.versions.change import map_type


class RenameDeltas(VersionChange):
    """A made-up newer version that renamed the deltas and cannot express approvals."""

    description = "Deltas are `text_piece`; approvals are dropped."
    dropped: ClassVar[dict[str, str]] = {"tool_approval_required": "made up"}

    def server_down(self, frame: Frame) -> Frame:
        return map_type(frame, {"text_piece": "agent_message_delta"})


def nested(kind: str, seq: int) -> dict[str, Any]:
    return {"type": kind, "data": {"run_id": "r"}, "seq": seq, "timestamp": 1.0}


def test__nested_frames__converted_and_dropped_like_live_ones() -> None:
    newer = Version("v9", "made up", (RenameDeltas(),))
    events = [nested("text_piece", 3), nested("tool_approval_required", 4)]
    events.append(nested("agent_completed", 5))
    history: Frame = {
        "type": "thread_history",
        "data": {
            "thread_id": "t",
            "events": events,
        },
    }
    down = server_step_down(history, newer)
    assert down is not None
    assert [(e["type"], e["seq"]) for e in down["data"]["events"]] == [
        ("agent_message_delta", 3),
        ("agent_completed", 5),
    ]
    assert events[0]["type"] == "text_piece"  # the input is untouched


def test__v3_history_with_events__round_trips_v2_and_v1_get_neither_field() -> None:
    envelope = SERVER_EXAMPLES["thread_history"]
    assert isinstance(envelope.message, s.ThreadHistory)
    assert envelope.message.events  # the example carries a run in flight
    v3 = encode_server(envelope, "v3")
    assert v3 is not None
    decoded = decode_server(v3, "v3")
    assert not isinstance(decoded, Exception)
    assert decoded.message == envelope.message
    for old in ("v2", "v1"):
        text = encode_server(envelope, old)
        assert text is not None
        assert b'"events"' not in text
        assert b'"stream_seq"' not in text
    assert encode_server(SERVER_EXAMPLES["user_message_accepted"], "v2") is None
    assert encode_server(SERVER_EXAMPLES["user_message_accepted"], "v1") is None
