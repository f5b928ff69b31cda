"""protocol/limits.py: NUL, depth, integer and time bounds give validation_failed, never a crash.

Each case is a frame an outside attack run sent (issue 12, bugs 7, 8 and 9).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentsocket.protocol import (
    ClientEnvelope,
    ErrorCode,
    ProtocolError,
    ServerEnvelope,
    decode_client,
    encode_server,
)
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.client_messages import CreateThread, Ping, ToolApproval, UserMessage
from agentsocket.protocol.limits import (
    DEPTH_REASON,
    EPOCH_REASON,
    INTEGER_REASON,
    MAX_DEPTH,
    MAX_ISSUES,
    MAX_SAFE_INTEGER,
    NUL_REASON,
    scan_frame,
)

VERSIONS = ("v1", "v2", "v3")


def frame(version: str, tag: str, data: str) -> str:
    """``data`` (a JSON object's members, without braces) as a frame of ``version``."""
    if version == "v1":
        return f'{{"type":"{tag}"{"," if data else ""}{data}}}'
    return f'{{"type":"{tag}","data":{{{data}}}}}'


def data_path(version: str, field: str) -> str:
    return f"$.{field}" if version == "v1" else f"$.data.{field}"


def refused(result: ClientEnvelope | ProtocolError) -> ProtocolError:
    assert isinstance(result, ProtocolError), result
    assert result.code is ErrorCode.VALIDATION_FAILED, result.message
    return result


# --- bug 8: depth ------------------------------------------------------------------------


def deep_metadata(levels: int) -> str:
    return '"content":"x","metadata":{"a":' + '{"a":' * (levels - 1) + "1" + "}" * levels


@pytest.mark.parametrize("version", VERSIONS)
def test__metadata_nested_400_levels__any_version__validation_failed(version: str) -> None:
    # The attack run's 885-byte frame raised RecursionError outside the decoder.
    result = refused(decode_client(frame(version, "user_message", deep_metadata(400)), version))
    assert [issue.reason for issue in result.issues] == [DEPTH_REASON]


@pytest.mark.parametrize("version", VERSIONS)
def test__deep_arrays__any_version__validation_failed(version: str) -> None:
    data = '"content":"x","metadata":{"a":' + "[" * 1000 + "]" * 1000 + "}"
    result = refused(decode_client(frame(version, "user_message", data), version))
    assert result.issues[0].reason == DEPTH_REASON


@pytest.mark.parametrize("version", VERSIONS)
def test__deep_unknown_field__any_version__refused_before_version_changes(version: str) -> None:
    # ping is converted by v1's time change, which walks the data recursively.
    data = '"client_time":1,"x":' + "[" * 900 + "]" * 900
    result = refused(decode_client(frame(version, "ping", data), version))
    assert result.issues[0].reason == DEPTH_REASON


def test__metadata_past_its_own_limit__reports_the_field() -> None:
    result = refused(decode_client(frame("v3", "user_message", deep_metadata(12)), "v3"))
    assert [issue.path for issue in result.issues] == ["$.data.metadata"]


def test__scan_frame__stops_at_max_depth_without_recursion() -> None:
    value: object = 1
    for _ in range(100_000):  # far beyond Python's recursion limit
        value = [value]
    issues = scan_frame(value)
    assert len(issues) == 1
    assert issues[0].reason == DEPTH_REASON
    assert issues[0].path == "$" + "[0]" * MAX_DEPTH


def test__user_message_model__deep_metadata__validation_error_not_recursion() -> None:
    value: object = 1
    for _ in range(5000):
        value = {"a": value}
    with pytest.raises(ValidationError, match="nests deeper than 8 levels"):
        UserMessage(content="x", metadata={"a": value})


# --- bug 7: NUL ------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("tag", "data", "field"),
    [
        ("user_message", '"content":"a\\u0000b","thread_id":"t1"', "content"),
        ("create_thread", '"title":"\\u0000"', "title"),
        ("user_message", '"content":"x","metadata":{"k":"v\\u0000"}', "metadata.k"),
        ("user_message", '"content":"x","metadata":{"k\\u0000":1}', "metadata.k\x00"),
        ("user_message", '"content":"x","thread_id":"t\\u0000"', "thread_id"),
    ],
)
def test__nul_in_text__any_version__validation_failed(
    version: str, tag: str, data: str, field: str
) -> None:
    result = refused(decode_client(frame(version, tag, data), version))
    assert [issue.path for issue in result.issues] == [data_path(version, field)]
    assert NUL_REASON in result.issues[0].reason


def test__nul_in_tool_approval_reason__v3__validation_failed() -> None:
    data = '"run_id":"r","tool_call_id":"c","approved":false,"reason":"no\\u0000"'
    result = refused(decode_client(frame("v3", "tool_approval", data), "v3"))
    assert [issue.path for issue in result.issues] == ["$.data.reason"]


def test__nul_in_correlation_id__refused_and_not_echoed() -> None:
    result = refused(decode_client('{"type":"ping","data":{},"correlation_id":"a\\u0000"}', "v3"))
    assert result.correlation_id is None
    assert [issue.path for issue in result.issues] == ["$.correlation_id"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: UserMessage(content="a\x00"),
        lambda: UserMessage(content="a", metadata={"k": ["\x00"]}),
        lambda: CreateThread(title="\x00"),
        lambda: ToolApproval(run_id="r", tool_call_id="c", approved=False, reason="\x00"),
    ],
)
def test__nul__sdk_models__refuse_it(build: object) -> None:
    with pytest.raises(ValidationError, match="U\\+0000"):
        build()  # type: ignore[operator]


def test__text_without_nul__still_accepted() -> None:
    data = '"content":"héllo ✓","metadata":{"k":["v",{"n":null}]}'
    assert isinstance(decode_client(frame("v3", "user_message", data), "v3"), ClientEnvelope)


# --- bug 9: huge numbers ------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", ["1e20", "-1e20", "253402300800", "1.7976931348623157e308"])
def test__ping_time_out_of_range__any_version__validation_failed(version: str, value: str) -> None:
    # v1 answers with an ISO 8601 time: 1e20 raised OverflowError encoding the pong.
    result = refused(decode_client(frame(version, "ping", f'"client_time":{value}'), version))
    assert [issue.reason for issue in result.issues] == [f"Value error, {EPOCH_REASON}"]


@pytest.mark.parametrize("version", VERSIONS)
def test__ping_time_in_range__pong_encodes_in_every_version(version: str) -> None:
    decoded = decode_client(frame(version, "ping", '"client_time":253402300799'), version)
    assert isinstance(decoded, ClientEnvelope)
    assert isinstance(decoded.message, Ping)
    pong = s.Pong(server_time=1.7e9, client_time=decoded.message.client_time)
    assert encode_server(ServerEnvelope(pong, timestamp=1.7e9), version)


def test__ping_time_v1_iso_before_year_1__validation_failed() -> None:
    ping = '{"type":"ping","client_time":"0001-01-01T00:00:00+01:00"}'
    result = refused(decode_client(ping, "v1"))
    assert [issue.path for issue in result.issues] == ["$.client_time"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", [str(10**23), str(MAX_SAFE_INTEGER + 1), "18446744073709551615"])
def test__resume_seq_beyond_safe_integers__any_version__validation_failed(
    version: str, value: str
) -> None:
    # In Redis mode last_seq=10**23 reached XRANGE and failed there.
    result = refused(decode_client(frame(version, "resume", f'"last_seq":{value}'), version))
    assert result.code is ErrorCode.VALIDATION_FAILED
    assert all(issue.path == data_path(version, "last_seq") for issue in result.issues)


def test__huge_integer_in_metadata__validation_failed() -> None:
    data = f'"content":"x","metadata":{{"n":{MAX_SAFE_INTEGER + 1}}}'
    result = refused(decode_client(frame("v3", "user_message", data), "v3"))
    assert [(i.path, i.reason) for i in result.issues] == [("$.data.metadata.n", INTEGER_REASON)]


def test__largest_safe_integer__accepted() -> None:
    decoded = decode_client(frame("v3", "resume", f'"last_seq":{MAX_SAFE_INTEGER}'), "v3")
    assert isinstance(decoded, ClientEnvelope)


def test__many_breaches__issue_list_bounded() -> None:
    data = '"content":"x","metadata":{' + ",".join(f'"k{i}":"\\u0000"' for i in range(30)) + "}"
    result = refused(decode_client(frame("v3", "user_message", data), "v3"))
    assert len(result.issues) == MAX_ISSUES
