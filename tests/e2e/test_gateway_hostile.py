"""Hostile input against the real server: each gets its documented answer, no traceback.

Issue 12 bugs 3, 5, 9 (server part) and 10 (frame size limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol import CloseCode
from tests.e2e.harness import ServerProcess, client, recv_json, recv_until, run_server
from tests.e2e.rawws import handshake, read_close, read_frame, send_frame

EMOJI = "\N{GRINNING FACE}"
ORIGIN = {"Origin": "https://chat.example"}


def assert_quiet(server: ServerProcess) -> None:
    log = server.log()
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "AGENTSOCKET_ALLOWED_ORIGINS": '["https://chat.example"]',
        "AGENTSOCKET_OUTBOUND_QUEUE_SIZE": "20",
        "AGENTSOCKET_SEND_TIMEOUT": "1",
        "AGENTSOCKET_RATE_PER_CONNECTION": "10000",
        "AGENTSOCKET_BURST_PER_CONNECTION": "10000",
        "AGENTSOCKET_RATE_PER_USER": "10000",
        "AGENTSOCKET_BURST_PER_USER": "10000",
    }
    with run_server(tmp_path_factory.mktemp("hostile"), env=env) as running:
        yield running


def bearer(server: ServerProcess, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(user)}", "Origin": "https://chat.example"}


async def test__40_emoji_protocol__refused_with_a_reason_within_123_bytes(
    server: ServerProcess,
) -> None:
    path = "/ws?protocol=" + quote(EMOJI * 40)
    sock = await asyncio.to_thread(handshake, server.port, path, bearer(server, "emoji"))
    with sock:
        code, reason = await asyncio.to_thread(read_close, sock)
    assert code == CloseCode.UNSUPPORTED_VERSION
    assert 0 < len(reason.encode()) <= 123
    assert_quiet(server)


async def test__origin_of_70_e_acute__refused_with_a_reason_within_123_bytes(
    server: ServerProcess,
) -> None:
    headers = {**bearer(server, "origin"), "Origin": "é" * 70}
    sock = await asyncio.to_thread(handshake, server.port, "/ws", headers)
    with sock:
        code, reason = await asyncio.to_thread(read_close, sock)
    assert code == CloseCode.FORBIDDEN_ORIGIN
    assert len(reason.encode()) <= 123
    assert_quiet(server)


@pytest.mark.parametrize("last_seq", ["²", "1" + "0" * 23, "-1", "1e3"])
async def test__malformed_last_seq__refused_with_1008(server: ServerProcess, last_seq: str) -> None:
    with pytest.raises(ConnectionClosed) as info:
        query = f"last_seq={quote(last_seq)}"
        async with client(server, "seq", query=query, headers=ORIGIN) as ws:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == CloseCode.POLICY_VIOLATION
    assert_quiet(server)


async def test__invalid_utf8_text_frame__closed_1007_without_a_traceback(
    server: ServerProcess,
) -> None:
    sock = await asyncio.to_thread(handshake, server.port, "/ws", bearer(server, "utf8"))
    with sock:
        _, welcome = await asyncio.to_thread(read_frame, sock)
        assert json.loads(welcome)["type"] == "connection_established"
        await asyncio.to_thread(send_frame, sock, b'{"type": "ping", "x": "\xff\xfe"}')
        code, _ = await asyncio.to_thread(read_close, sock)
    assert code == 1007
    assert_quiet(server)


async def test__frame_above_4x_max_frame_size__closed_1009(server: ServerProcess) -> None:
    async with client(server, "big", headers=ORIGIN) as ws:
        await recv_json(ws)
        await ws.send("x" * (200 * 1024))  # under 4x: a typed answer
        assert (await recv_json(ws))["data"]["code"] == "too_large"
        with pytest.raises(ConnectionClosed) as info:
            await ws.send("x" * (300 * 1024))  # over 4 x 64 KiB
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == CloseCode.MESSAGE_TOO_BIG


async def test__client_that_never_reads__aborted_and_released_then_resumes(
    server: ServerProcess,
) -> None:
    user = "sleeper"
    sleeper = await asyncio.to_thread(
        handshake, server.port, "/ws", bearer(server, user), rcvbuf=4096
    )
    _, welcome = await asyncio.to_thread(read_frame, sleeper)
    epoch = json.loads(welcome)["data"]["stream"]["epoch"]
    threads = 200
    create = json.dumps({"type": "create_thread", "data": {"title": "t" * 200}}).encode()
    listing = json.dumps({"type": "list_threads", "data": {"limit": 199}}).encode()
    # It asks for a lot (stream entries, then ~60 KB answers) and never reads again.
    for _ in range(threads):
        await asyncio.to_thread(send_frame, sleeper, create)
    started = time.monotonic()
    while await _open_connections(server) > 0:
        assert time.monotonic() - started < 20, "the server kept a client that never reads"
        with contextlib.suppress(OSError):
            for _ in range(20):
                await asyncio.to_thread(send_frame, sleeper, listing)
        await asyncio.sleep(0.1)
    sleeper.close()
    metrics = await asyncio.to_thread(httpx.get, f"{server.http}/metrics")
    assert 'agentsocket_closes_total{code="4101"}' in metrics.text
    # One connection, closed once: for a full queue or for a blocked write.
    slow = [
        float(line.split()[-1])
        for line in metrics.text.splitlines()
        if line.startswith("agentsocket_slow_consumer_closes_total{")
    ]
    assert sum(slow) == 1
    # The client comes back and resumes: nothing of the stream is lost.
    query = f"last_seq=0&epoch={epoch}"
    async with client(server, user, query=query, headers=ORIGIN) as back:
        resumed = await recv_until(back, lambda f: f.get("seq") == threads, timeout=30)
        assert [f["seq"] for f in resumed if f.get("seq")] == list(range(1, threads + 1))
    assert_quiet(server)


async def _open_connections(server: ServerProcess) -> float:
    response = await asyncio.to_thread(httpx.get, f"{server.http}/metrics")
    for line in response.text.splitlines():
        if line.startswith('agentsocket_connections{version="v3"}'):
            return float(line.split()[-1])
    return 0.0
