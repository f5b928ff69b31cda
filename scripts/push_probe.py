"""Push probe: one client receives N demo-like text deltas through the whole gateway.

A quick, in-repo measurement of the live path (the official benchmarks live in
``benchmarks/``). The server runs in a child process pinned to CPU 0, the
client (a raw socket that only walks frame headers) on CPU 1. A publisher task
inside the gateway appends N ``agent_message_delta`` events (~300 bytes on the
wire) to the user's stream, yielding to the loop after each one like an agent
reading a model's stream; beside it, a bare uvicorn + Starlette server sends
the same number of pre-encoded frames of the same size. Printed per case:
events/s at the client and server CPU µs per event (process time, so a noisy
neighbour does not fake it).

    python scripts/push_probe.py --events 40000 --rounds 3

Run it with ``PY_SPY=1`` to write a py-spy profile of the gateway's push.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any

USER = "bench"
CONTENT = "lorem ipsum dolor sit amet " * 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- servers (child process) ------------------------------------------------------------


def gateway_server(port: int, events: int, version: str, pipe: Pipe) -> None:
    os.sched_setaffinity(0, {0})
    import uvicorn

    from agentsocket.protocol import server_messages as s
    from agentsocket.server import Settings, create_app
    from agentsocket.server.serve import uvicorn_config

    tmp = tempfile.mkdtemp()
    settings = Settings(
        port=port,
        database_url=f"sqlite+aiosqlite:///{tmp}/probe.db",
        jwt_secret="probe-secret-that-is-long-enough-0123456789",
        log_level="warning",
        enabled_versions=("v3", "v2", "v1"),
    )
    app = create_app(settings)
    delta = s.AgentMessageDelta(
        run_id="run_1", thread_id="thr_1", agent_name="demo", message_id="msg_1", content=CONTENT
    )

    async def publisher() -> None:
        while getattr(app.state, "gateway", None) is None:  # noqa: ASYNC110 - a probe polls
            await asyncio.sleep(0.01)
        gateway = app.state.gateway
        while True:
            while gateway.registry.count_for(USER) == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            start_cpu, start = time.process_time(), time.perf_counter()
            for _ in range(events):
                await gateway.publish(USER, delta)
                await asyncio.sleep(0)
            # The frames are written by the time publish returns (no backlog here).
            while gateway.registry.count_for(USER):  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            pipe.send((time.process_time() - start_cpu, time.perf_counter() - start))

    async def main() -> None:
        config = uvicorn_config(app, settings)
        server = uvicorn.Server(config)
        task = asyncio.create_task(publisher())
        await server.serve()
        task.cancel()

    import uvloop

    uvloop.run(main())


def bare_server(port: int, events: int, version: str, pipe: Pipe) -> None:
    os.sched_setaffinity(0, {0})
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    frame = (
        '{"type":"agent_message_delta","data":{"run_id":"run_1","thread_id":"thr_1",'
        '"agent_name":"demo","parent_run_id":null,"message_id":"msg_1","content":"'
        + CONTENT
        + '"},"timestamp":1796476330.6708438,"server_id":"probe","correlation_id":null,"seq":1}'
    )

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        start_cpu, start = time.process_time(), time.perf_counter()
        for _ in range(events):
            await websocket.send_text(frame)
            await asyncio.sleep(0)
        try:
            await websocket.receive()  # the client closes when it has them all
        finally:
            pipe.send((time.process_time() - start_cpu, time.perf_counter() - start))

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        log_level="warning",
        lifespan="off",
    )


# --- client ------------------------------------------------------------------------------


def receive(port: int, events: int, headers: dict[str, str], subprotocol: str | None) -> float:
    """Connect, count ``events`` frames after the welcome, close; the seconds it took.

    A raw socket reader that only walks frame headers, so the client is never
    the bottleneck.
    """
    os.sched_setaffinity(0, {1})
    sock = socket.create_connection(("127.0.0.1", port))
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
        *([f"Sec-WebSocket-Protocol: {subprotocol}"] if subprotocol else []),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    buffer = buffer[buffer.index(b"\r\n\r\n") + 4 :]
    wanted = events + (1 if subprotocol else 0)
    got, start = 0, time.perf_counter()
    position = 0
    while got < wanted:
        while True:
            if len(buffer) - position < 2:
                break
            length = buffer[position + 1] & 0x7F
            offset = 2
            if length == 126:
                if len(buffer) - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                offset = 4
            elif length == 127:
                if len(buffer) - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                offset = 10
            if len(buffer) - position < offset + length:
                break
            position += offset + length
            got += 1
            if got == 1 and subprotocol:
                start = time.perf_counter()
        buffer = buffer[position:]
        position = 0
        if got < wanted:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"closed after {got} frames")
            buffer += chunk
    seconds = time.perf_counter() - start
    sock.sendall(bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]))  # masked close 1000
    sock.close()
    return seconds


def run_case(kind: str, events: int, version: str) -> tuple[float, float]:
    """(events/s at the client, server CPU µs per event) of one round."""
    port = free_port()
    parent, child = multiprocessing.Pipe()
    target: Any = gateway_server if kind == "gateway" else bare_server
    process = multiprocessing.Process(target=target, args=(port, events, version, child))
    process.start()
    try:
        _wait_port(port)
        headers: dict[str, str] = {}
        subprotocol = None
        if kind == "gateway":
            from agentsocket.server.auth import issue_token

            token = issue_token("probe-secret-that-is-long-enough-0123456789", USER)
            headers = {"Authorization": f"Bearer {token}"}
            subprotocol = f"agentsocket.{version}"
        profiler = None
        if kind == "gateway" and os.environ.get("PY_SPY"):
            profiler = subprocess.Popen(
                [
                    os.path.join(os.path.dirname(sys.executable), "py-spy"),
                    "record",
                    "-o",
                    "push-profile.txt",
                    "-f",
                    "raw",
                    "--rate",
                    "400",
                    "-p",
                    str(process.pid),
                ]
            )
            time.sleep(1)
        seconds = receive(port, events, headers, subprotocol)
        cpu, _ = parent.recv()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        return events / seconds, cpu / events * 1e6
    finally:
        process.terminate()
        process.join()


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(0.3)  # lifespan
                return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--version", default="v3")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"gateway": [], "bare": []}
    for _ in range(args.rounds):
        for kind in results:
            results[kind].append(run_case(kind, args.events, args.version))
    for kind, rounds in results.items():
        rate = statistics.median(r[0] for r in rounds)
        cpu = statistics.median(r[1] for r in rounds)
        print(f"{kind:8} {rate:10,.0f} events/s   {cpu:6.1f} µs CPU/event")
    ratios = [g[0] / b[0] for g, b in zip(results["gateway"], results["bare"], strict=True)]
    print(f"ratio    {statistics.median(ratios):.2f}x bare (median of per-round ratios)")


if __name__ == "__main__":
    main()
