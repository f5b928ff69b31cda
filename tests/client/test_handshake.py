"""Handshake requests and what each close code makes the client do."""

from __future__ import annotations

import pytest

from agentsocket.client import (
    AuthenticationRefused,
    ConnectionRejected,
    VersionUnsupported,
)
from agentsocket.client.handshake import Outcome, after_close, handshake, with_query
from agentsocket.protocol import CloseCode, get_version
from agentsocket.protocol.negotiation import Refused

V3 = get_version("v3")


def test__token__bearer_header_and_version_subprotocol() -> None:
    request = handshake("ws://h/ws", V3, token="jwt")
    assert request.url == "ws://h/ws"
    assert request.subprotocols == ("agentsocket.v3",)
    assert request.headers == {"Authorization": "Bearer jwt"}
    assert "jwt" not in repr(request)


def test__ticket_and_resume__in_the_query_existing_parameters_kept() -> None:
    request = handshake(
        "wss://h/chat/ws?tenant=a&last_seq=1",
        get_version("v1"),
        ticket="tk",
        resume={"last_seq": "9", "epoch": "e"},
    )
    assert request.url == "wss://h/chat/ws?tenant=a&last_seq=9&epoch=e&ticket=tk"
    assert request.subprotocols == ("agentsocket.v1",)
    assert request.headers == {}


def test__with_query__nothing_to_add__url_unchanged() -> None:
    assert with_query("ws://h/ws?x=1", {}) == "ws://h/ws?x=1"


@pytest.mark.parametrize("code", list(CloseCode))
def test__after_close__every_close_code_follows_its_group(code: CloseCode) -> None:
    outcome = after_close(int(code), "why")
    if code.reconnect:
        assert outcome is Outcome.RECONNECT
    elif code is CloseCode.NORMAL:
        assert outcome is Outcome.END
    else:
        assert isinstance(outcome, ConnectionRejected)
        assert outcome.code is code
        assert outcome.reason == "why"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (CloseCode.UNAUTHORIZED, AuthenticationRefused),
        (CloseCode.TOKEN_EXPIRED, AuthenticationRefused),
        (CloseCode.UNSUPPORTED_VERSION, VersionUnsupported),
        (CloseCode.TOO_MANY_CONNECTIONS, ConnectionRejected),
    ],
)
def test__after_close__refusals_are_typed(code: CloseCode, kind: type[Exception]) -> None:
    assert type(after_close(int(code), "x")) is kind


@pytest.mark.parametrize("code", [None, 1006, 4150])
def test__after_close__drops_and_unknown_41xx__reconnect(code: int | None) -> None:
    assert after_close(code, "") is Outcome.RECONNECT


@pytest.mark.parametrize("code", [4050, 1002, 3000])
def test__after_close__unknown_other_codes__rejected_with_the_bare_number(code: int) -> None:
    outcome = after_close(code, "x")
    assert isinstance(outcome, ConnectionRejected)
    assert outcome.code == code


def test__version_unsupported__reads_the_supported_list_the_server_writes() -> None:
    reason = Refused(("v9",), ("v3", "v2")).reason  # the server's own wording
    outcome = after_close(int(CloseCode.UNSUPPORTED_VERSION), reason)
    assert isinstance(outcome, VersionUnsupported)
    assert outcome.supported == ("v3", "v2")
    assert VersionUnsupported(4004, "no list here").supported == ()
