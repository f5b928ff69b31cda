"""Many users streaming demo runs, each user's stream audited entry by entry.

Each user holds ``connections`` sockets; the first sends a prompt, waits for
the run's end, and sends the next until the time is up. Every socket records
the seq of every stream entry and the root terminal event of every run. The
audit then compares that with what the server published: a fresh connection's
welcome gives the head of the user's stream, and every socket must hold each
seq from 1 to the head exactly once, in order, and each acknowledged run's
``agent_completed`` exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agentsocket.server.auth import issue_token
from tests.e2e.harness import SECRET
from tests.reliability.load import open_user

#: Two calculations and a conversion: sub-runs, tool calls and ~60 streamed entries a run.
PROMPT = "what is 12*7 and 5 miles in km?"
TERMINAL = frozenset({"agent_completed", "agent_error", "agent_cancelled"})
#: Seconds between a run's end and the user's next prompt.
PAUSE = 0.5
#: Once the time is up, the last runs get this long to end and reach every socket.
DRAIN_TIMEOUT = 120.0


@dataclass
class Socket:
    """What one connection of a user received."""

    seqs: list[int] = field(default_factory=list)
    #: run id → names of the root terminal events seen for it.
    ends: dict[str, list[str]] = field(default_factory=dict)
    acks: list[str] = field(default_factory=list)
    closed: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, frame: dict[str, Any]) -> None:
        if frame.get("seq") is not None:
            self.seqs.append(int(frame["seq"]))
        data = frame.get("data") or {}
        kind = frame.get("type")
        if kind in TERMINAL and data.get("parent_run_id") is None:
            self.ends.setdefault(str(data.get("run_id")), []).append(str(kind))
        elif kind == "message_received":
            self.acks.append(str(data.get("run_id")))
        self.changed.set()


@dataclass
class UserAudit:
    """One user's audit: runs acknowledged, entries checked, and every problem found."""

    user: str
    runs: int = 0
    entries: int = 0
    head: int = 0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "runs": self.runs,
            "entries": self.entries,
            "head": self.head,
            "problems": self.problems,
        }


async def _read(ws: ClientConnection, sink: Socket) -> None:
    try:
        async for frame in ws:
            sink.take(json.loads(frame))
    except ConnectionClosed as closed:
        sink.closed = str(closed)
    finally:
        sink.changed.set()


async def _wait(sink: Socket, done: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0 or sink.closed is not None:
            return bool(done())
        sink.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sink.changed.wait(), min(left, 1.0))
    return True


async def soak_user(
    url: str,
    user: str,
    connections: int,
    seconds: float,
    prompt: str = PROMPT,
    pause: float = PAUSE,
) -> UserAudit:
    """Stream runs for ``seconds`` on ``connections`` sockets of ``user``, then audit them.

    ``pause`` seconds pass between a run's end and the next prompt (a user reading).
    """
    audit = UserAudit(user)
    token = issue_token(SECRET, user)
    sockets = [Socket() for _ in range(connections)]
    opened: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for sink in sockets:
            ws = await open_user(url, token)
            opened.append(ws)
            readers.append(asyncio.create_task(_read(ws, sink)))
        sender, first = opened[0], sockets[0]
        deadline = time.monotonic() + seconds
        runs: list[str] = []
        while time.monotonic() < deadline and first.closed is None:
            await sender.send(json.dumps({"type": "user_message", "data": {"content": prompt}}))
            acked = len(runs)
            if not await _wait(first, lambda n=acked: len(first.acks) > n, DRAIN_TIMEOUT):
                audit.problems.append("no message_received for a user_message")
                break
            run_id = first.acks[len(runs)]
            runs.append(run_id)
            if not await _wait(first, lambda r=run_id: r in first.ends, DRAIN_TIMEOUT):
                audit.problems.append(f"run {run_id} did not end in {DRAIN_TIMEOUT}s")
                break
            await asyncio.sleep(pause)
        audit.runs = len(runs)
        for index, sink in enumerate(sockets):
            ended = await _wait(sink, lambda s=sink: all(r in s.ends for r in runs), DRAIN_TIMEOUT)
            if not ended:
                audit.problems.append(f"socket {index}: not every run's end arrived")
        # What the server published: the head of the user's stream, from a fresh welcome.
        audit.head = await _head(url, token)
        for index, sink in enumerate(sockets):
            who = f"socket {index}"
            if sink.closed is not None:
                audit.problems.append(f"{who}: closed by the server: {sink.closed}")
            if sink.seqs != list(range(1, audit.head + 1)):
                audit.problems.append(f"{who}: {_describe(sink.seqs, audit.head)}")
            for run_id in runs:
                if sink.ends.get(run_id) != ["agent_completed"]:
                    audit.problems.append(f"{who}: run {run_id} ended {sink.ends.get(run_id)}")
            audit.entries += len(sink.seqs)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return audit


async def _head(url: str, token: str) -> int:
    """The last seq the server published to the user (a fresh connection's welcome)."""
    async with connect(
        url,
        subprotocols=["agentsocket.v3"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=30,
        close_timeout=1,
    ) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return int(welcome["data"]["stream"]["seq"])


def _describe(seqs: list[int], head: int) -> str:
    """Where a socket's seqs differ from 1..head: gaps, duplicates, disorder."""
    seen = set(seqs)
    missing = [s for s in range(1, head + 1) if s not in seen][:5]
    duplicates = len(seqs) - len(seen)
    disordered = any(b <= a for a, b in itertools.pairwise(seqs))
    return (
        f"{len(seqs)} entries for head {head}: first missing {missing}, "
        f"{duplicates} duplicates, out of order {disordered}"
    )


async def soak(
    url: str,
    users: list[str],
    connections: int,
    seconds: float,
    prompt: str = PROMPT,
    pause: float = PAUSE,
) -> list[UserAudit]:
    """:func:`soak_user` for every user at once; connections open in batches of 50."""
    tasks = []
    for start in range(0, len(users), 50):
        batch = users[start : start + 50]
        tasks += [
            asyncio.create_task(soak_user(url, user, connections, seconds, prompt, pause))
            for user in batch
        ]
        await asyncio.sleep(0.2)  # a connect storm is the flood suite's subject, not this one
    return list(await asyncio.gather(*tasks))
