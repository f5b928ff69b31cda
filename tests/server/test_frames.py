"""Stream entries are converted once per version per node, whatever the number of connections."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentsocket.protocol import VERSIONS, encode_frame_many, get_version
from agentsocket.protocol import server_messages as s
from agentsocket.server import frames
from agentsocket.server.frames import FrameCache, stream_payload

DELTA = s.AgentMessageDelta(run_id="r", thread_id="t", agent_name="a", message_id="m", content="hi")


def test__many_connections_of_three_versions__one_conversion_per_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[set[str]] = []
    real = encode_frame_many

    def counting(frame: Any, targets: Any) -> Any:
        targets = set(targets)
        calls.append({v.name for v in targets})
        return real(frame, targets)

    monkeypatch.setattr(frames, "encode_frame_many", counting)
    cache = FrameCache(lambda _user: set(VERSIONS))
    payload = stream_payload(DELTA, "node")
    texts = [cache.text("u", 7, payload, version) for version in VERSIONS * 100]  # 300 connections
    assert calls == [{"v1", "v2", "v3"}]
    by_version = {
        version.name: text for version, (_, text) in zip(VERSIONS * 100, texts, strict=True)
    }
    assert json.loads(by_version["v3"] or "")["seq"] == 7
    assert json.loads(by_version["v2"] or "")["type"] == "partial_result"
    assert by_version["v1"] is None  # v1 declares deltas dropped


def test__seq_reused_by_a_new_epoch__not_served_from_cache() -> None:
    cache = FrameCache(lambda _user: {get_version("v3")})
    first = stream_payload(DELTA, "node")
    second = stream_payload(DELTA.model_copy(update={"content": "bye"}), "node")
    v3 = get_version("v3")
    _, old = cache.text("u", 1, first, v3)
    _, new = cache.text("u", 1, second, v3)
    assert json.loads(old or "")["data"]["content"] == "hi"
    assert json.loads(new or "")["data"]["content"] == "bye"
