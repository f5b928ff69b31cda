"""Handshake: versions, the seed's welcome checks, and refusals with documented close codes."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from agentsocket.protocol import CloseCode
from agentsocket.server.auth import issue_token
from tests.e2e.harness import ServerProcess, client, recv_json


async def test__v1_client__gets_the_seeds_flat_welcome(server: ServerProcess) -> None:
    async with client(server, "alice", "v1") as ws:
        assert ws.subprotocol == "agentsocket.v1"
        msg = await recv_json(ws)
    seed_old_test = msg.get("event") == "connection_established" and msg.get("connection_ready")
    assert seed_old_test
    assert set(msg) == {"event", "connection_ready", "user_id", "server_time", "environment"}
    assert msg["user_id"] == "alice"
    assert msg["environment"] == "test"


async def test__v2_client__gets_the_seeds_envelope_welcome(server: ServerProcess) -> None:
    async with client(server, "alice", "v2") as ws:
        assert ws.subprotocol == "agentsocket.v2"
        msg = await recv_json(ws)
    seed_option_1 = (
        msg.get("type") == "system_message"
        and msg.get("data", {}).get("event") == "connection_established"
        and msg.get("data", {}).get("connection_ready")
    )
    assert seed_option_1
    assert set(msg) == {"type", "data", "timestamp", "server_id", "correlation_id"}
    assert msg["data"]["connection_id"].startswith("conn_")


async def test__v3_client__gets_welcome_with_settings_and_stream(server: ServerProcess) -> None:
    async with client(server, "alice", "v3") as ws:
        msg = await recv_json(ws)
    assert msg["type"] == "connection_established"
    data = msg["data"]
    assert data["protocol_version"] == "v3"
    assert data["user_id"] == "alice"
    assert data["heartbeat_interval"] > 0
    assert data["max_frame_size"] == 65536
    assert set(data["stream"]) == {"epoch", "seq"}
    assert msg["server_id"] == f"e2e-{server.port}"
    assert abs(data["server_time"] - time.time()) < 60


async def test__several_versions_offered__server_picks_the_newest(server: ServerProcess) -> None:
    offered = ["agentsocket.v1", "agentsocket.v3", "agentsocket.v2"]
    async with client(server, "alice", subprotocols=offered) as ws:
        assert ws.subprotocol == "agentsocket.v3"


async def test__unversioned_client__gets_the_default_version(server: ServerProcess) -> None:
    async with client(server, "alice", None) as ws:
        assert ws.subprotocol is None
        msg = await recv_json(ws)
    assert msg["type"] == "connection_established"
    assert msg["data"]["protocol_version"] == "v3"


async def test__query_parameter_fallback__selects_version(server: ServerProcess) -> None:
    async with client(server, "alice", None, query="protocol=v1") as ws:
        msg = await recv_json(ws)
    assert msg["event"] == "connection_established"


async def _refusal(server: ServerProcess, **kwargs: object) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as info:
        async with client(server, **kwargs) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 10)
    return info.value


async def test__unsupported_version__refused_with_supported_list(server: ServerProcess) -> None:
    closed = await _refusal(server, user_id="alice", version="v9")
    assert closed.rcvd is not None
    assert closed.rcvd.code == CloseCode.UNSUPPORTED_VERSION
    assert "v3" in closed.rcvd.reason
    assert "v1" in closed.rcvd.reason


def _alg_none_token(user: str) -> str:
    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': user, 'exp': time.time() + 60})}."


SECRET = "e2e-secret-that-is-long-enough-for-hs256-0123456789"
WRONG = "another-secret-that-is-long-enough-for-hs256-987654"

AUTH_FAILURES = [
    ("no_token", {}, CloseCode.UNAUTHORIZED, "missing_token"),
    ("garbage", {"Authorization": "Bearer not.a.jwt"}, CloseCode.UNAUTHORIZED, "malformed_token"),
    (
        "bad_signature",
        {"Authorization": f"Bearer {issue_token(WRONG, 'mallory')}"},
        CloseCode.UNAUTHORIZED,
        "bad_signature",
    ),
    (
        "alg_none",
        {"Authorization": f"Bearer {_alg_none_token('mallory')}"},
        CloseCode.UNAUTHORIZED,
        "algorithm_not_allowed",
    ),
    (
        "expired",
        {"Authorization": f"Bearer {issue_token(SECRET, 'bob', ttl_seconds=-60)}"},
        CloseCode.TOKEN_EXPIRED,
        "expired",
    ),
    (
        "not_yet_valid",
        {
            "Authorization": "Bearer "
            + issue_token(SECRET, "bob", extra_claims={"nbf": int(time.time()) + 3600})
        },
        CloseCode.UNAUTHORIZED,
        "not_yet_valid",
    ),
    (
        "missing_subject",
        {"Authorization": "Bearer " + issue_token(SECRET, "bob", extra_claims={"sub": ""})},
        CloseCode.UNAUTHORIZED,
        "missing_subject",
    ),
    ("basic_scheme", {"Authorization": "Basic YWxpY2U6cHc="}, CloseCode.UNAUTHORIZED, None),
    (
        "client_header_cannot_bypass",
        {"X-Test-Auth-Bypass": "true", "X-E2E-Test": "1"},
        CloseCode.UNAUTHORIZED,
        "missing_token",
    ),
]


@pytest.mark.parametrize(
    ("headers", "code", "reason"), [c[1:] for c in AUTH_FAILURES], ids=[c[0] for c in AUTH_FAILURES]
)
async def test__bad_credentials__refused_before_any_data(
    server: ServerProcess, headers: dict[str, str], code: CloseCode, reason: str | None
) -> None:
    async with connect(
        server.ws, subprotocols=[Subprotocol("agentsocket.v3")], additional_headers=headers
    ) as ws:
        with pytest.raises(ConnectionClosed) as info:
            frame = await asyncio.wait_for(ws.recv(), 10)
            pytest.fail(f"data flowed before refusal: {frame!r}")
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == code
    if reason:
        assert info.value.rcvd.reason.startswith(reason)


async def test__bearer_subprotocol__authenticates_and_is_never_echoed(
    server: ServerProcess,
) -> None:
    token = server.token("carol")
    offered = [f"bearer.{token}", "agentsocket.v3"]
    async with client(server, None, subprotocols=offered) as ws:
        assert ws.subprotocol == "agentsocket.v3"
        assert ws.response is not None
        assert token not in str(ws.response.headers)
        msg = await recv_json(ws)
    assert msg["data"]["user_id"] == "carol"


async def test__bad_bearer_subprotocol__refused_and_token_not_echoed(
    server: ServerProcess,
) -> None:
    token = issue_token(WRONG, "mallory")
    async with connect(
        server.ws, subprotocols=[Subprotocol(f"bearer.{token}"), Subprotocol("agentsocket.v3")]
    ) as ws:
        assert ws.subprotocol == "agentsocket.v3"
        assert token not in str(ws.response.headers if ws.response else "")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == CloseCode.UNAUTHORIZED


async def test__ticket__works_once_then_is_refused(server: ServerProcess) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.http}/auth/ticket",
            headers={"Authorization": f"Bearer {server.token('dave')}"},
        )
    assert response.status_code == 200
    ticket = response.json()["ticket"]
    async with client(server, None, query=f"ticket={ticket}") as ws:
        assert (await recv_json(ws))["data"]["user_id"] == "dave"
    closed = await _refusal(server, user_id=None, query=f"ticket={ticket}")
    assert closed.rcvd is not None
    assert closed.rcvd.code == CloseCode.UNAUTHORIZED
    assert closed.rcvd.reason.startswith("invalid_ticket")


async def test__ticket_endpoint__refuses_bad_token(server: ServerProcess) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.http}/auth/ticket", headers={"Authorization": "Bearer nope"}
        )
    assert response.status_code == 401


async def test__dev_token_endpoint__absent_unless_operator_enables_dev_mode(
    server: ServerProcess,
) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.http}/auth/dev-token",
            json={"user_id": "eve", "dev_mode": True},
            headers={"X-Dev-Mode": "1"},
        )
    assert response.status_code in (404, 405)


async def test__token_expiring_during_connection__closes_with_4002(server: ServerProcess) -> None:
    token = server.token("frank", ttl_seconds=2)
    async with connect(
        server.ws,
        subprotocols=[Subprotocol("agentsocket.v3")],
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        assert (await recv_json(ws))["type"] == "connection_established"
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == CloseCode.TOKEN_EXPIRED
