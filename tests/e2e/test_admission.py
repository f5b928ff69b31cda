"""Silent sockets and half-sent upgrades cannot exhaust the gateway (issue 12, bug 4).

A real ``agentsocket serve`` with a low open-file limit (``RLIMIT_NOFILE``
128, so its connection cap defaults to 64 and its ceiling to 96) and a short
handshake deadline.
150 peers connect and never finish a request; ``/healthz`` keeps answering,
requests and WebSocket upgrades over the cap get 503, and the server closes
every silent socket by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.harness import ServerProcess, client, recv_json, run_server, tag

pytestmark = pytest.mark.e2e

FILE_LIMIT = 128
#: The default cap for that limit: FILE_LIMIT minus a reserve of 1/8 (at least 64).
CAP = FILE_LIMIT - 64
HANDSHAKE_TIMEOUT = 6.0
SILENT = 130
HALF_OPEN = 20
HALF_OPEN_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
)


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True once the server closed (EOF or reset); False if still open after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(1024):
                pass  # anything the server says before it closes
        return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False


async def healthz(server: ServerProcess, http: httpx.AsyncClient, within: float) -> int:
    """The status of the first ``/healthz`` that gets an answer within ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return (await http.get(f"{server.http}/healthz")).status_code
        except httpx.HTTPError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test__silent_sockets_and_half_open_upgrades__capped_answered_and_closed(
    tmp_path: Path,
) -> None:
    env = {"AGENTSOCKET_HANDSHAKE_TIMEOUT": str(HANDSHAKE_TIMEOUT)}
    with run_server(tmp_path, env=env, preexec_fn=low_file_limit) as server:
        peers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            for n in range(SILENT + HALF_OPEN):
                with contextlib.suppress(OSError):
                    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                    if n >= SILENT:
                        writer.write(HALF_OPEN_UPGRADE)
                    peers.append((reader, writer))
            opened = asyncio.get_running_loop().time()

            async with httpx.AsyncClient(timeout=2.0) as http:
                # Over-cap peers are dropped within a second; in-cap ones are still held.
                assert await healthz(server, http, within=4.0) == 200
                busy = await http.get(f"{server.http}/protocol")
                assert busy.status_code == 503
                assert busy.headers["retry-after"] == "1"
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(server.ws, open_timeout=5):
                        pass
                assert refused.value.response.status_code == 503
                held = asyncio.get_running_loop().time() - opened
                assert held < HANDSHAKE_TIMEOUT, "the checks ran after the deadline"

            # Every silent and half-sent peer is closed by the server (generous bound).
            closed = await asyncio.gather(
                *(closed_by_server(reader, HANDSHAKE_TIMEOUT + 15) for reader, _ in peers)
            )
            assert all(closed), f"{closed.count(False)} of {len(peers)} sockets still open"
        finally:
            for _, writer in peers:
                writer.close()

        # Afterwards the node serves as before.
        async with client(server, "alice") as websocket:
            assert tag(await recv_json(websocket)) == "connection_established"
        assert "Traceback" not in server.log()


async def test__cap_counts_websockets__the_next_upgrade_gets_503(tmp_path: Path) -> None:
    """With ``MAX_CONNECTIONS=2`` and two WebSockets open, a third upgrade gets 503 and
    ``/healthz`` still 200; once one closes, an upgrade succeeds again."""
    env = {"AGENTSOCKET_MAX_CONNECTIONS": "2"}
    with run_server(tmp_path, env=env) as server:
        async with client(server, "alice") as first, client(server, "bob"):
            assert tag(await recv_json(first)) == "connection_established"
            with pytest.raises(InvalidStatus) as refused:
                async with client(server, "carol"):
                    pass
            assert refused.value.response.status_code == 503
            async with httpx.AsyncClient(timeout=5.0) as http:
                assert (await http.get(f"{server.http}/healthz")).status_code == 200
        async with client(server, "carol") as third:
            assert tag(await recv_json(third)) == "connection_established"
