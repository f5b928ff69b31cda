"""Control-channel commands: typed both ways, bad input refused with BadCommand."""

from __future__ import annotations

import pytest

from agentsocket.runs import Approve, BadCommand, Cancel, encode_command, parse_command


@pytest.mark.parametrize(
    "command",
    [
        Cancel(run_id="run_1", user_id="alice"),
        Cancel(run_id="run_1", user_id="alice", reason="interrupted"),
        Approve(run_id="run_1", user_id="alice", tool_call_id="call_1", approved=True),
        Approve(run_id="run_2", user_id="bob", tool_call_id="call_2", approved=False, reason="no"),
    ],
)
def test__encode_then_parse__same_command(command: Cancel | Approve) -> None:
    assert parse_command(encode_command(command)) == command


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"not json", "Invalid JSON"),
        (b"[]", "command"),
        (b'{"op": "delete", "run_id": "r", "user_id": "u"}', "'delete'"),
        (b'{"run_id": "r", "user_id": "u"}', "op"),
        (b'{"op": "cancel", "run_id": 7, "user_id": "u"}', "cancel.run_id"),
        (b'{"op": "cancel", "run_id": "", "user_id": "u"}', "cancel.run_id"),
        (b'{"op": "cancel", "run_id": "r"}', "cancel.user_id"),
        (b'{"op": "approve", "run_id": "r", "user_id": "u", "approved": true}', "tool_call_id"),
        (
            b'{"op": "approve", "run_id": "r", "user_id": "u", "tool_call_id": "c", '
            b'"approved": "yes"}',
            "approve.approved",
        ),
        (b'{"op": "cancel", "run_id": "r", "user_id": "u", "reason": ""}', "cancel.reason"),
        (b'{"op": "cancel", "run_id": "r", "user_id": "u", "reason": 5}', "cancel.reason"),
        (
            b'{"op": "cancel", "run_id": "r", "user_id": "u", "reason": "' + b"x" * 65 + b'"}',
            "cancel.reason",
        ),
    ],
)
def test__bad_payload__bad_command_naming_the_field(payload: bytes, problem: str) -> None:
    with pytest.raises(BadCommand, match="bad control command") as raised:
        parse_command(payload)
    assert problem in str(raised.value)


def test__a_field_a_newer_gateway_added__ignored() -> None:
    payload = b'{"op": "cancel", "run_id": "r", "user_id": "u", "deadline": 5}'
    assert parse_command(payload) == Cancel(run_id="r", user_id="u")
