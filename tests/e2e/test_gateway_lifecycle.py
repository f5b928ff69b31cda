"""Limits, heartbeats, shutdown and hosting: each on its own gateway process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from agentsocket.protocol import CloseCode
from tests.e2e.harness import client, recv_json, run_server


async def test__flood__answered_with_rate_limited_then_closed_for_abuse(tmp_path: Path) -> None:
    env = {
        "AGENTSOCKET_RATE_PER_CONNECTION": "5",
        "AGENTSOCKET_BURST_PER_CONNECTION": "5",
        "AGENTSOCKET_ABUSE_THRESHOLD": "20",
    }
    with run_server(tmp_path, env=env) as server:
        async with client(server, "flooder") as ws:
            await recv_json(ws)
            for i in range(60):
                await ws.send(json.dumps({"type": "ping", "correlation_id": f"f{i}"}))
            replies = []
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    replies.append(await recv_json(ws))
    codes = [r["data"]["code"] for r in replies if r["type"] == "error"]
    assert sum(r["type"] == "pong" for r in replies) >= 5
    assert codes
    assert set(codes) == {"rate_limited"}
    limited = next(r for r in replies if r["type"] == "error")
    assert limited["data"]["retry_after"] > 0
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == CloseCode.ABUSE


async def test__too_many_connections_for_one_user__refused(tmp_path: Path) -> None:
    with run_server(tmp_path, env={"AGENTSOCKET_MAX_CONNECTIONS_PER_USER": "2"}) as server:
        async with client(server, "greedy") as a, client(server, "greedy") as b:
            await recv_json(a)
            await recv_json(b)
            with pytest.raises(ConnectionClosed) as info:
                async with client(server, "greedy") as c:
                    await asyncio.wait_for(c.recv(), 10)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.TOO_MANY_CONNECTIONS
        async with client(server, "other") as d:  # other users are unaffected
            assert (await recv_json(d))["type"] == "connection_established"


async def test__disallowed_origin__refused(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_ALLOWED_ORIGINS": '["https://chat.example"]'}
    with run_server(tmp_path, env=env) as server:
        with pytest.raises(ConnectionClosed) as info:
            async with client(server, "o", headers={"Origin": "https://evil.example"}) as ws:
                await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.FORBIDDEN_ORIGIN
        async with client(server, "o", headers={"Origin": "https://chat.example"}) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"


def _raw_handshake(port: int, token: str) -> tuple[socket.socket, bytes]:
    """A WebSocket client that completes the handshake and then never answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock, response.partition(b"\r\n\r\n")[2]


def test__client_that_stops_answering_heartbeats__is_closed_in_time(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_HEARTBEAT_INTERVAL": "0.5", "AGENTSOCKET_HEARTBEAT_TIMEOUT": "1.0"}
    with run_server(tmp_path, env=env) as server:
        sock, received = _raw_handshake(server.port, server.token("silent"))
        sock.settimeout(10)
        started = time.monotonic()
        while True:  # read (never answer) until the server hangs up
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        elapsed = time.monotonic() - started
        sock.close()
        assert b"connection_established" in received
        assert b"\x89" in received  # the server sent a ping frame
        assert elapsed < 10, "closed by the safety-net timeout, not by the heartbeat"
        metrics = httpx.get(f"{server.http}/metrics").text
        assert 'agentsocket_connections{version="v3"} 0.0' in metrics


async def test__graceful_shutdown__sends_server_shutdown_then_closes_1001(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        async with client(server, "stayer") as v3, client(server, "stayer", "v1") as v1:
            await recv_json(v3)
            await recv_json(v1)
            server.process.send_signal(signal.SIGTERM)
            notice = await recv_json(v3)
            legacy = await recv_json(v1)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(v3.recv(), 10)
        assert notice["type"] == "server_shutdown"
        assert notice["data"]["reconnect_after"] >= 0
        assert legacy["event"] == "server_shutdown"
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.GOING_AWAY
        # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done.
        assert server.process.wait(20) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.log()


async def test__gateway_mounted_in_fastapi__serves_websocket_and_api(tmp_path: Path) -> None:
    host = ("-m", "uvicorn", "tests.e2e.fastapi_host:api", "--ws", "websockets-sansio")
    with run_server(tmp_path, module=host, ready_path="/chat/readyz") as server:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.http}/hello")).json() == {"hello": "world"}
        server_ws = server.ws.replace("/ws", "/chat/ws")
        from websockets.asyncio.client import connect

        headers = {"Authorization": f"Bearer {server.token('fast')}"}
        async with connect(
            server_ws,
            subprotocols=[Subprotocol("agentsocket.v2")],
            additional_headers=headers,
        ) as ws:
            welcome = json.loads(await ws.recv())
            await ws.send('{"type":"ping","correlation_id":"x"}')
            pong = json.loads(await ws.recv())
    assert welcome["data"]["event"] == "connection_established"
    assert (pong["type"], pong["correlation_id"]) == ("pong", "x")
