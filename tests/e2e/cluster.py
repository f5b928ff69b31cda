"""Several gateway nodes and worker processes sharing one Redis and one PostgreSQL database.

Every process is a real ``python -m agentsocket serve`` or ``... worker``
subprocess. A :func:`cluster` owns a scratch PostgreSQL database and a Redis
key prefix of its own; on exit it stops every process it started, drops the
database and deletes the prefix's keys (never anything else on the shared Redis).

Waiting is asynchronous throughout, so a test may run something in its own
event loop (a TCP proxy in front of Redis) that the processes depend on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agentsocket.store import Store
from tests.e2e.harness import SECRET, ServerProcess, body, client, free_port, tag
from tests.store.databases import create_database, drop_database

READY_TIMEOUT = 30.0
#: A gateway drains for SHUTDOWN_GRACE (2 s here); a worker cancels its runs at once.
STOP_TIMEOUT = 15.0


@dataclass
class WorkerProcess:
    """One running ``agentsocket worker`` subprocess."""

    worker_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class LogEntry:
    """One entry of a user's Redis stream log, decoded."""

    seq: int
    frame: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.frame["type"])

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.frame.get("data") or {}
        return data


@dataclass
class Cluster:
    """Gateways and workers on one Redis prefix and one database."""

    tmp: Path
    redis_url: str
    prefix: str
    database_url: str
    env: dict[str, str]
    redis: Redis
    #: Command-line options of every process (e.g. ``--ag-ui-agent NAME=URL``).
    args: tuple[str, ...] = ()
    gateways: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    async def add_gateway(self, env: Mapping[str, str] | None = None) -> ServerProcess:
        """Start one more gateway node and wait until ``/readyz`` says ready."""
        server = self.launch_gateway(env)
        await wait_ready(server)
        return server

    def launch_gateway(self, env: Mapping[str, str] | None = None) -> ServerProcess:
        """Start one more gateway node without waiting for it."""
        port = free_port()
        environment = {**self.env, "AGENTSOCKET_SERVER_ID": f"gw-{port}", **(env or {})}
        log_path = self.tmp / f"gateway-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "agentsocket", "serve", "--port", str(port), *self.args],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(port, process, log_path, environment)
        self.gateways.append(server)
        return server

    async def add_worker(self, env: Mapping[str, str] | None = None) -> WorkerProcess:
        """Start one more worker and wait until its first heartbeat is in Redis."""
        worker = self.launch_worker(env)
        deadline = time.monotonic() + READY_TIMEOUT
        while not await self.redis.exists(f"{self.prefix}:worker:{worker.worker_id}"):
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{worker.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {READY_TIMEOUT}s:\n{worker.log()}")
            await asyncio.sleep(0.1)
        return worker

    def launch_worker(self, env: Mapping[str, str] | None = None) -> WorkerProcess:
        """Start one more worker without waiting for it."""
        worker_id = f"worker-{uuid.uuid4().hex[:8]}"
        environment = {**self.env, "AGENTSOCKET_WORKER_ID": worker_id, **(env or {})}
        log_path = self.tmp / f"{worker_id}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "agentsocket", "worker", *self.args],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(worker_id, process, log_path)
        self.workers.append(worker)
        return worker

    async def log_entries(self, user_id: str) -> list[LogEntry]:
        """Every entry the user's stream log holds, in seq order (XRANGE)."""
        raw: Any = await self.redis.xrange(f"{self.prefix}:{{{user_id}}}:log")
        entries = []
        for entry_id, fields in raw:
            seq = int(entry_id.decode().split("-")[0])
            entries.append(LogEntry(seq, orjson.loads(fields[b"p"])))
        return entries

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        """The cluster's store, opened from the test process."""
        store = await Store.open(self.database_url)
        try:
            yield store
        finally:
            await store.close()

    async def stop_all(self) -> list[str]:
        """Stop every process still running: SIGTERM, then SIGKILL after ``STOP_TIMEOUT``.

        Returns:
            The log files of the processes that had to be killed.
        """
        running = [(g.process, g.log_path) for g in self.gateways]
        running += [(w.process, w.log_path) for w in self.workers]
        killed = await asyncio.gather(
            *(asyncio.to_thread(_terminate, process, path) for process, path in running)
        )
        return [path for path in killed if path is not None]


def _terminate(process: subprocess.Popen[bytes], log_path: Path) -> str | None:
    """SIGTERM a running process; SIGKILL it if it did not exit in time (then its log)."""
    if process.poll() is not None:
        return None
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
        return None
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return str(log_path)


@contextlib.asynccontextmanager
async def cluster(
    tmp: Path,
    redis_url: str,
    postgres_url: str,
    *,
    gateways: int = 2,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    worker_env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> AsyncIterator[Cluster]:
    """Start ``gateways`` nodes and ``workers`` workers; clean everything up afterwards.

    Every process must exit within ``STOP_TIMEOUT`` of SIGTERM at the end;
    one that has to be killed fails the test.

    Args:
        tmp: where the processes' logs go.
        redis_url: the shared Redis; only keys under a fresh prefix are used.
        postgres_url: a database on the PostgreSQL server; a scratch database
            next to it is created and dropped.
        env: extra ``AGENTSOCKET_*`` settings for every process.
        worker_env: extra settings for the workers only.
        args: command-line options of every gateway and worker.
    """
    prefix = f"e2e-{uuid.uuid4().hex[:10]}"
    database_url = await create_database(postgres_url)
    redis = Redis.from_url(redis_url)
    common = {
        **os.environ,
        "AGENTSOCKET_JWT_SECRET": SECRET,
        "AGENTSOCKET_ENVIRONMENT": "test",
        "AGENTSOCKET_VALIDATE_OUTBOUND": "true",
        "AGENTSOCKET_SHUTDOWN_GRACE": "2",
        "AGENTSOCKET_BROKER": "redis",
        "AGENTSOCKET_RUNS": "queue",
        "AGENTSOCKET_REDIS_URL": redis_url,
        "AGENTSOCKET_REDIS_PREFIX": prefix,
        "AGENTSOCKET_DATABASE_URL": database_url,
        "AGENTSOCKET_RATE_PER_CONNECTION": "200",
        "AGENTSOCKET_BURST_PER_CONNECTION": "400",
        "AGENTSOCKET_RATE_PER_USER": "400",
        "AGENTSOCKET_BURST_PER_USER": "800",
        **(env or {}),
    }
    nodes = Cluster(tmp, redis_url, prefix, database_url, common, redis, tuple(args))
    try:
        # Migrating first keeps the processes' own start short and their logs clean.
        async with nodes.store():
            pass
        launched = [nodes.launch_gateway() for _ in range(gateways)]
        await asyncio.gather(*(wait_ready(server) for server in launched))
        for _ in range(workers):
            await nodes.add_worker(worker_env)
        yield nodes
    finally:
        try:
            killed = await nodes.stop_all()
        finally:
            await delete_prefix(redis, prefix)
            await redis.aclose()
            await drop_database(database_url, postgres_url)
    # Only reached when the test itself passed: a hang at shutdown is a failure too.
    assert not killed, f"ignored SIGTERM for {STOP_TIMEOUT}s and were killed: {killed}"


async def wait_ready(
    server: ServerProcess, timeout: float = READY_TIMEOUT, *, ready: bool = True
) -> None:
    """Poll ``/readyz`` without blocking the event loop until it answers 200 (or 503)."""
    want = 200 if ready else 503
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{server.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{server.http}/readyz")).status_code == want:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"/readyz not {want} after {timeout}s:\n{server.log()}")


async def readyz(server: ServerProcess) -> int:
    """The status code of one ``/readyz`` request."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        return (await http.get(f"{server.http}/readyz")).status_code


async def delete_prefix(redis: Redis, prefix: str) -> int:
    """Delete every key under ``prefix:`` (SCAN + DEL); returns how many."""
    deleted = 0
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        deleted += int(await redis.delete(key))
    return deleted


TERMINAL = frozenset({"agent_completed", "agent_error", "agent_cancelled"})


def of_run(run_id: str, *names: str) -> Any:
    """A frame predicate: one of ``names`` (message types) of run ``run_id``."""
    return lambda f: tag(f) in names and body(f).get("run_id") == run_id


class StreamClient:
    """One client of a user that records every frame, across reconnects.

    A background task reads the socket into :attr:`frames`; :meth:`wait_for`
    waits for a frame without consuming anything, so a test can look at the
    whole history afterwards. :meth:`connect` again after the socket died
    resumes from the last seq seen (and the epoch, in v3).
    """

    def __init__(self, user_id: str, version: str = "v3") -> None:
        self.user_id = user_id
        self.version = version
        self.frames: list[dict[str, Any]] = []
        self.epoch: str | None = None
        self.welcomes: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._stack: contextlib.AsyncExitStack | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def stream(self) -> list[dict[str, Any]]:
        """The frames that belong to the user's stream (they carry a seq)."""
        return [f for f in self.frames if f.get("seq") is not None]

    @property
    def last_seq(self) -> int:
        return max((int(f["seq"]) for f in self.stream), default=0)

    async def connect(
        self, server: ServerProcess, *, resume: bool = False, query: str = ""
    ) -> None:
        """Open a connection (``resume``: with ``?last_seq=&epoch=``) and wait for the welcome."""
        await self.close()
        if resume:
            position = f"last_seq={self.last_seq}"
            if self.epoch is not None:
                position += f"&epoch={self.epoch}"
            query = f"{position}&{query}" if query else position
        self._stack = contextlib.AsyncExitStack()
        self._ws = await self._stack.enter_async_context(
            client(server, self.user_id, self.version, query=query)
        )
        self.closed.clear()
        start = len(self.frames)
        self._reader = asyncio.create_task(self._read(self._ws))
        welcome = await self.wait_for(lambda f: tag(f) == "connection_established", start=start)
        self.welcomes.append(welcome)
        stream = body(welcome).get("stream")
        if stream is not None and self.epoch is None:
            self.epoch = str(stream["epoch"])

    async def send(self, kind: str, *, correlation_id: str | None = None, **data: Any) -> None:
        """Send one client message in this client's version (with ``correlation_id``, if given)."""
        assert self._ws is not None, "not connected"
        # v1 frames are flat; later versions wrap the fields in ``data``.
        frame = {"type": kind, **data} if self.version == "v1" else {"type": kind, "data": data}
        if correlation_id is not None:
            frame["correlation_id"] = correlation_id
        await self._ws.send(orjson.dumps(frame).decode())

    async def wait_for(
        self, predicate: Any, timeout: float = 15.0, *, start: int = 0
    ) -> dict[str, Any]:
        """The first frame from index ``start`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            self._changed.clear()
            while index < len(self.frames):
                if predicate(self.frames[index]):
                    return self.frames[index]
                index += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{self.user_id}: no matching frame in {timeout}s; last frames: "
                    f"{[tag(f) for f in self.frames[-5:]]}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_terminal(self, run_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """The terminal event of run ``run_id``."""
        return await self.wait_for(
            lambda f: tag(f) in TERMINAL and body(f).get("run_id") == run_id, timeout
        )

    async def close(self) -> None:
        """Close the connection (if open) and stop reading."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            with contextlib.suppress(ConnectionClosed, OSError):
                await stack.aclose()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._ws = None

    async def _read(self, websocket: ClientConnection) -> None:
        try:
            async for frame in websocket:
                self.frames.append(orjson.loads(frame))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()
