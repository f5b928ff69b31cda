"""Real frames from the real server, per version and message type, for the provider side.

:func:`capture` starts ``agentsocket serve`` (every version deprecated, so each
connection gets a ``deprecation_notice``), drives one scenario per version
concurrently so the server emits every message type that version can carry,
and ends with a SIGTERM while a client of each version listens, for
``server_shutdown``. Every frame every client received is kept in arrival
order; nothing is built by hand.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agentsocket.protocol.contracts import Expectation
from agentsocket.protocol.schema import server_types
from agentsocket.protocol.versions import VERSIONS
from tests.e2e.harness import ServerProcess, body, client, recv_json, run_server, tag

Frame = dict[str, Any]
TERMINAL = frozenset({"agent_completed", "agent_error", "agent_cancelled"})
SERVER_ENV = {
    # Every version deprecated: each welcome is followed by a deprecation_notice.
    "AGENTSOCKET_DEPRECATED_VERSIONS": json.dumps(
        {version.name: "2099-12-31" for version in VERSIONS}
    ),
    "AGENTSOCKET_MAX_RUNS_PER_USER": "5",
}
#: Over the default per-connection burst (40) by less than the abuse threshold (50 refusals).
FLOOD = 85


@dataclass
class Captured:
    """Every frame the clients received, by version and head message type, in arrival order."""

    frames: dict[str, dict[str, list[Frame]]] = field(default_factory=dict)

    def add(self, version: str, frame: Frame) -> None:
        self.frames.setdefault(version, {}).setdefault(head_type(version, frame), []).append(frame)

    def of(self, version: str, message: str) -> list[Frame]:
        return self.frames.get(version, {}).get(message, [])

    def selected(self, version: str, expectation: Expectation) -> list[Frame]:
        """The frames an expectation is about: its message type, and its ``where``."""
        return [f for f in self.of(version, expectation.message) if expectation.selects(f)]


def head_type(version: str, frame: Mapping[str, Any]) -> str:
    """The head catalogue's name of a frame of ``version`` (``agent_message`` for v2's
    ``final_report``)."""
    name = tag(frame)
    heads = {wire: head for head, wire in server_types(version).items() if wire != "system_message"}
    return heads.get(name, name)


class Tap:
    """A client connection whose every received frame is recorded."""

    def __init__(self, ws: ClientConnection, version: str, captured: Captured) -> None:
        self.ws = ws
        self.version = version
        self.captured = captured

    async def send(self, kind: str, correlation_id: str | None = None, **data: Any) -> None:
        frame: Frame = {"type": kind}
        if self.version == "v1":
            frame.update(data)
        elif data:
            frame["data"] = data
        if correlation_id is not None:
            frame["correlation_id"] = correlation_id
        await self.ws.send(json.dumps(frame))

    async def until(self, predicate: Callable[[Frame], bool], timeout: float = 20.0) -> Frame:
        """Read (and record) frames up to the first that ``predicate`` accepts."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await recv_json(self.ws, timeout)
                self.captured.add(self.version, frame)
                if predicate(frame):
                    return frame

    async def drain(self, quiet: float = 0.3) -> None:
        """Record what is still coming until ``quiet`` seconds pass without a frame."""
        try:
            while True:
                self.captured.add(self.version, await recv_json(self.ws, quiet))
        except (TimeoutError, ConnectionClosed):
            return

    async def ask(self, cid: str, content: str, **fields: Any) -> Frame:
        """Send a chat message; return its ack after the root run's terminal event."""
        ack = await self.acked(cid, content, **fields)
        await self.until(ends(str(body(ack)["run_id"])))
        return ack

    async def acked(self, cid: str, content: str, **fields: Any) -> Frame:
        await self.send("user_message", cid, content=content, **fields)
        return await self.until(lambda f: is_(f, "message_received") and f["correlation_id"] == cid)


def is_(frame: Frame, name: str) -> bool:
    return tag(frame) == name


def named(name: str) -> Callable[[Frame], bool]:
    return lambda frame: is_(frame, name)


def ends(run_id: str) -> Callable[[Frame], bool]:
    return lambda frame: tag(frame) in TERMINAL and body(frame).get("run_id") == run_id


async def _welcomed(tap: Tap) -> Frame:
    welcome = await tap.until(named("connection_established"))
    await tap.until(named("deprecation_notice"))
    return welcome


async def _scenario(server: ServerProcess, version: str, captured: Captured) -> None:
    """Make the server send every message ``version`` can carry, each in its variants."""
    user = f"contracts-{version}"
    async with client(server, user, version) as ws:
        tap = Tap(ws, version, captured)
        await _welcomed(tap)
        await tap.send("list_threads", "list-empty")
        await tap.until(named("thread_list"))
        await tap.send("ping", "ping-bare")
        await tap.until(named("pong"))
        await tap.send("ping", "ping-timed", client_time=1757332800.5)
        await tap.until(named("pong"))
        await tap.send("create_thread", "create-titled", title="Contracts")
        titled = str(body(await tap.until(named("thread_created")))["thread"]["thread_id"])
        ack = await tap.ask("chat-hex", "what is 17*23 in hex?", client_message_id=f"cm-{version}")
        thread = str(body(ack)["thread_id"])
        await tap.send("get_thread_history", "history-one", thread_id=thread)
        await tap.until(named("thread_history"))
        await tap.send("list_threads", "list-titled")
        await tap.until(named("thread_list"))
        await tap.ask("chat-fail", "please fail now")
        slow = await tap.acked("chat-slow", "take it slow", thread_id=thread)
        run_id = str(body(slow)["run_id"])
        await tap.until(lambda f: is_(f, "tool_executing") and body(f)["run_id"] == run_id)
        # A run in flight after an ended one: the history carries the ended run's stored
        # timeline (runs) and the running one's events so far (events), in v3.
        await tap.send("get_thread_history", "history-in-flight", thread_id=thread)
        await tap.until(named("thread_history"))
        await tap.send("stop_agent", "stop", run_id=run_id)
        await tap.until(ends(run_id))
        await tap.send("rename_thread", "rename", thread_id=titled, title="Contracts, renamed")
        await tap.until(named("thread_renamed"))
        await tap.send("create_thread", "create-untitled")
        await tap.until(named("thread_created"))
        await tap.send("frobnicate", "unknown-type")
        await tap.until(named("error"))
        await tap.send("user_message", "invalid", content=7)
        await tap.until(named("error"))
        await tap.send("get_thread_history", "not-found", thread_id="thr_nope")
        await tap.until(named("error"))
        if version == "v3":
            approval = await tap.acked("chat-approve", "please approve this announcement")
            request = body(await tap.until(named("tool_approval_required")))
            await tap.send(
                "tool_approval",
                "approve",
                run_id=request["run_id"],
                tool_call_id=request["tool_call_id"],
                approved=True,
            )
            await tap.until(ends(str(body(approval)["run_id"])))
            survey = await tap.acked("chat-survey", "a quick survey please")
            question = body(await tap.until(named("agent_question")))
            ids = {"run_id": question["run_id"], "question_id": question["question_id"]}
            # Out of the schema first (error validation_failed), then a valid answer.
            await tap.send("question_answer", "answer-invalid", **ids, answer={"rating": 9})
            await tap.until(
                lambda f: is_(f, "error") and f.get("correlation_id") == "answer-invalid"
            )
            await tap.send("question_answer", "answer", **ids, answer={"rating": 4})
            await tap.until(named("interrupt_resolved"))
            await tap.until(ends(str(body(survey)["run_id"])))
        await tap.ask("chat-again", "what is 2+3?", thread_id=thread)
        await tap.send("get_thread_history", "history-page", thread_id=thread, limit=2)
        await tap.until(named("thread_history"))
        # The same client_message_id again: acknowledged as a duplicate, no second run.
        await tap.acked("chat-resent", "what is 17*23 in hex?", client_message_id=f"cm-{version}")
        await tap.send("delete_thread", "delete", thread_id=titled)
        await tap.until(named("thread_deleted"))
        await tap.drain()
    # A position from another history: the server answers with a stream_gap.
    query = "last_seq=1&epoch=an-epoch-that-never-was"
    async with client(server, user, version, query=query) as ws:
        tap = Tap(ws, version, captured)
        await _welcomed(tap)
        await tap.until(named("stream_gap"))
        await tap.drain()


async def _flood(server: ServerProcess, captured: Captured) -> None:
    """A burst over the per-connection rate limit: ``error`` ``rate_limited``, ``retry_after``."""
    async with client(server, "contracts-flood", "v3") as ws:
        tap = Tap(ws, "v3", captured)
        await _welcomed(tap)
        await asyncio.gather(*(tap.send("ping", f"flood-{i}") for i in range(FLOOD)))
        await tap.until(lambda f: is_(f, "error") and body(f)["code"] == "rate_limited")
        await tap.drain()


async def _shutdown(server: ServerProcess, captured: Captured) -> None:
    """SIGTERM while a client of each version listens: each gets ``server_shutdown``."""
    async with (
        client(server, "contracts-bye", "v1") as v1,
        client(server, "contracts-bye", "v2") as v2,
        client(server, "contracts-bye", "v3") as v3,
    ):
        taps = [Tap(ws, name, captured) for ws, name in ((v1, "v1"), (v2, "v2"), (v3, "v3"))]
        for tap in taps:
            await _welcomed(tap)
        server.process.send_signal(signal.SIGTERM)
        for tap in taps:
            await tap.until(named("server_shutdown"))
            await tap.drain()


async def _drive(server: ServerProcess) -> Captured:
    captured = Captured()
    await asyncio.gather(
        *(_scenario(server, version.name, captured) for version in VERSIONS),
        _flood(server, captured),
    )
    await _shutdown(server, captured)
    return captured


def capture(tmp: Path) -> Captured:
    """Start a server, drive every scenario against it, stop it; the frames received."""
    with run_server(tmp, env=SERVER_ENV) as server:
        return asyncio.run(_drive(server))
