"""Bad client input: every kind gets the right error code and field path, never an exception."""

from __future__ import annotations

import json

import pytest

from agentsocket.protocol import (
    ClientEnvelope,
    ErrorCode,
    ProtocolError,
    decode_client,
    decode_server,
)
from agentsocket.protocol.client_messages import Ping, UserMessage

DEEP = (
    '{"type":"user_message","data":{"content":"x","metadata":'
    + '{"a":' * 20
    + "1"
    + "}" * 20
    + "}}"
)
VERY_DEEP = "[" * 5000 + "]" * 5000

CASES = [
    # (id, version, frame, code, paths)
    ("bad_json", "v3", "{not json", ErrorCode.INVALID_JSON, []),
    ("empty_frame", "v3", "", ErrorCode.INVALID_JSON, []),
    ("trailing_garbage", "v3", '{"type":"ping"} x', ErrorCode.INVALID_JSON, []),
    ("nan", "v3", '{"type":"ping","data":{"client_time":NaN}}', ErrorCode.INVALID_JSON, []),
    (
        "infinity",
        "v3",
        '{"type":"ping","data":{"client_time":Infinity}}',
        ErrorCode.INVALID_JSON,
        [],
    ),
    ("array", "v3", "[1,2,3]", ErrorCode.NOT_AN_OBJECT, []),
    ("string", "v3", '"user_message"', ErrorCode.NOT_AN_OBJECT, []),
    ("null", "v3", "null", ErrorCode.NOT_AN_OBJECT, []),
    ("missing_type", "v3", '{"data":{"content":"hi"}}', ErrorCode.VALIDATION_FAILED, ["$.type"]),
    ("type_not_string", "v3", '{"type":7}', ErrorCode.VALIDATION_FAILED, ["$.type"]),
    ("unknown_type", "v3", '{"type":"launch_rockets"}', ErrorCode.UNKNOWN_TYPE, ["$.type"]),
    (
        "alias_in_v3",
        "v3",
        '{"type":"chat","data":{"content":"hi"}}',
        ErrorCode.UNKNOWN_TYPE,
        ["$.type"],
    ),
    (
        "v3_only_type_in_v2",
        "v2",
        '{"type":"tool_approval","data":{}}',
        ErrorCode.UNKNOWN_TYPE,
        ["$.type"],
    ),
    (
        "missing_required",
        "v3",
        '{"type":"user_message","data":{}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.content"],
    ),
    (
        "wrong_field_type",
        "v3",
        '{"type":"user_message","data":{"content":42}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.content"],
    ),
    (
        "string_for_bool",
        "v3",
        '{"type":"tool_approval","data":{"run_id":"r","tool_call_id":"c","approved":"yes"}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.approved"],
    ),
    (
        "extra_field_in_data",
        "v3",
        '{"type":"stop_agent","data":{"run_id":"r","force":true}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.force"],
    ),
    (
        "extra_envelope_field",
        "v3",
        '{"type":"ping","data":{},"payload":{}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.payload"],
    ),
    ("data_not_object", "v3", '{"type":"ping","data":[]}', ErrorCode.VALIDATION_FAILED, ["$.data"]),
    (
        "empty_content",
        "v3",
        '{"type":"user_message","data":{"content":""}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.content"],
    ),
    (
        "bad_identifier",
        "v3",
        '{"type":"stop_agent","data":{"run_id":"../../etc/passwd"}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.run_id"],
    ),
    (
        "negative_seq",
        "v3",
        '{"type":"resume","data":{"epoch":"e","last_seq":-1}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.last_seq"],
    ),
    (
        "limit_out_of_range",
        "v3",
        '{"type":"list_threads","data":{"limit":100000}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.limit"],
    ),
    (
        "bad_correlation_id",
        "v3",
        '{"type":"ping","correlation_id":{"x":1}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.correlation_id"],
    ),
    ("deeply_nested_metadata", "v3", DEEP, ErrorCode.VALIDATION_FAILED, ["$.data.metadata"]),
    ("deeply_nested_json", "v3", VERY_DEEP, ErrorCode.INVALID_JSON, []),
    (
        "v1_flat_wrong_type",
        "v1",
        '{"type":"user_message","content":["a"]}',
        ErrorCode.VALIDATION_FAILED,
        ["$.content"],
    ),
    (
        "v2_payload_wrong_type",
        "v2",
        '{"type":"chat","payload":{"text":1}}',
        ErrorCode.VALIDATION_FAILED,
        ["$.data.content"],
    ),
    ("unsupported_version", "v9", '{"type":"ping"}', ErrorCode.UNSUPPORTED_VERSION, []),
    ("invalid_utf8", "v3", b'{"type":"ping","data":{"x":"\xff"}}', ErrorCode.INVALID_JSON, []),
]


@pytest.mark.parametrize(
    ("version", "frame", "code", "paths"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test__bad_frame__gives_typed_error(
    version: str, frame: str | bytes, code: ErrorCode, paths: list[str]
) -> None:
    result = decode_client(frame, version)
    assert isinstance(result, ProtocolError), result
    assert result.code == code, result.message
    assert [issue.path for issue in result.issues] == paths
    assert all(issue.reason for issue in result.issues)


def test__oversized_frame__too_large_before_parsing() -> None:
    frame = json.dumps({"type": "user_message", "data": {"content": "x" * 70_000}})
    result = decode_client(frame, "v3", max_size=65_536)
    assert isinstance(result, ProtocolError)
    assert result.code is ErrorCode.TOO_LARGE


def test__multibyte_frame_over_limit_in_bytes__too_large() -> None:
    frame = json.dumps({"type": "user_message", "data": {"content": "é" * 600}}, ensure_ascii=False)
    assert len(frame) < 1000 < len(frame.encode())
    result = decode_client(frame, "v3", max_size=1000)
    assert isinstance(result, ProtocolError)
    assert result.code is ErrorCode.TOO_LARGE


def test__validation_error__keeps_the_correlation_id() -> None:
    result = decode_client('{"type":"user_message","data":{},"correlation_id":"abc"}', "v3")
    assert isinstance(result, ProtocolError)
    assert result.correlation_id == "abc"


def test__several_bad_fields__all_reported() -> None:
    frame = '{"type":"rename_thread","data":{"thread_id":5,"title":"","x":1}}'
    result = decode_client(frame, "v3")
    assert isinstance(result, ProtocolError)
    assert sorted(i.path for i in result.issues) == [
        "$.data.thread_id",
        "$.data.title",
        "$.data.x",
    ]


def test__good_frames__decode_in_each_version() -> None:
    v3 = decode_client('{"type":"ping","correlation_id":"p1"}', "v3")
    v1 = decode_client('{"type":"user_message","content":"hi","correlation_id":"c"}', "v1")
    assert isinstance(v3, ClientEnvelope)
    assert isinstance(v3.message, Ping)
    assert v3.correlation_id == "p1"
    assert isinstance(v1, ClientEnvelope)
    assert isinstance(v1.message, UserMessage)
    assert (v1.message.content, v1.correlation_id) == ("hi", "c")


@pytest.mark.parametrize(
    ("version", "frame"),
    [
        (
            "v2",
            '{"type":"error","data":null,"timestamp":1.0,"server_id":null,"correlation_id":null}',
        ),
        (
            "v1",
            '{"event":"error","error_code":"x","error_message":"m","details":"oops",'
            '"recovery_suggestions":[],"timestamp":"2025-01-01T00:00:00+00:00"}',
        ),
        ("v2", '{"type":"system_message","data":{"no_event":1},"timestamp":1.0}'),
        ("v1", '{"event":"agent_started","timestamp":"not a time"}'),
        ("v3", '{"type":"agent_started","data":"x","timestamp":1.0}'),
    ],
)
def test__malformed_server_frame__sdk_gets_a_typed_error(version: str, frame: str) -> None:
    result = decode_server(frame, version)
    assert isinstance(result, ProtocolError)
    assert result.code in {ErrorCode.VALIDATION_FAILED, ErrorCode.UNKNOWN_TYPE}
