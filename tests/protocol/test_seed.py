"""The seed incident's two consumers read our welcome literally, each in its version."""

from __future__ import annotations

import json

import pytest

from agentsocket.protocol import ServerEnvelope, decode_server, encode_server
from agentsocket.protocol.server_messages import ConnectionEstablished, StreamPosition


@pytest.fixture
def welcome() -> ServerEnvelope:
    message = ConnectionEstablished(
        connection_id="conn_1",
        user_id="user123",
        protocol_version="v3",
        server_time=1757332800.0,
        environment="staging",
        heartbeat_interval=25,
        max_frame_size=65536,
        stream=StreamPosition(epoch="ep", seq=0),
    )
    return ServerEnvelope(message, timestamp=1757332800.0, server_id="node-a")


def test__v1_welcome__seed_old_test__passes_literally(welcome: ServerEnvelope) -> None:
    frame = encode_server(welcome, "v1")
    assert frame is not None
    msg = json.loads(frame)
    assert msg.get("event") == "connection_established" and msg.get("connection_ready")  # noqa: PT018 - the seed's literal check
    assert msg == {
        "event": "connection_established",
        "connection_ready": True,
        "user_id": "user123",
        "server_time": "2025-09-08T12:00:00+00:00",
        "environment": "staging",
    }


def test__v2_welcome__seed_option_1__passes_literally(welcome: ServerEnvelope) -> None:
    frame = encode_server(welcome, "v2")
    assert frame is not None
    msg = json.loads(frame)
    # The seed's literal check, kept as one expression.
    seed_option_1 = (
        msg.get("type") == "system_message"
        and msg.get("data", {}).get("event") == "connection_established"
        and msg.get("data", {}).get("connection_ready")
    )
    assert seed_option_1
    assert msg == {
        "type": "system_message",
        "data": {
            "event": "connection_established",
            "connection_id": "conn_1",
            "user_id": "user123",
            "connection_ready": True,
            "server_time": "2025-09-08T12:00:00+00:00",
            "environment": "staging",
        },
        "timestamp": 1757332800.0,
        "server_id": "node-a",
        "correlation_id": None,
    }


def test__v3_welcome__is_its_own_type_with_seq_and_settings(welcome: ServerEnvelope) -> None:
    frame = encode_server(welcome, "v3")
    assert frame is not None
    msg = json.loads(frame)
    assert msg["type"] == "connection_established"
    assert msg["seq"] is None
    assert msg["data"]["heartbeat_interval"] == 25
    assert msg["data"]["stream"] == {"epoch": "ep", "seq": 0}


def test__seed_incident__v1_consumer_on_v2_frame__does_not_match(welcome: ServerEnvelope) -> None:
    """The incident itself: the flat check fails on the envelope, hence two versions."""
    frame = encode_server(welcome, "v2")
    assert frame is not None
    msg = json.loads(frame)
    assert not (msg.get("event") == "connection_established" and msg.get("connection_ready"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test__seed_frames__read_by_sdk__give_head_welcome(version: str) -> None:
    seed = {
        "v1": {
            "event": "connection_established",
            "connection_ready": True,
            "user_id": "user123",
            "server_time": "2025-09-08T12:00:00+00:00",
            "environment": "staging",
        },
        "v2": {
            "type": "system_message",
            "data": {
                "event": "connection_established",
                "connection_id": "conn_1",
                "user_id": "user123",
                "connection_ready": True,
                "server_time": "2025-09-08T12:00:00+00:00",
                "environment": "staging",
            },
            "timestamp": 1699123456.789,
            "server_id": "node-a",
            "correlation_id": None,
        },
    }[version]
    envelope = decode_server(json.dumps(seed), version)
    assert isinstance(envelope, ServerEnvelope)
    assert isinstance(envelope.message, ConnectionEstablished)
    assert envelope.message.user_id == "user123"
    assert envelope.message.protocol_version == version
    assert encode_server(envelope, version) is not None
    assert json.loads(encode_server(envelope, version) or b"") == seed
