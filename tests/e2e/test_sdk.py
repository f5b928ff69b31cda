"""The Python SDK against the real gateway, for every protocol version.

Reconnects go through :class:`Proxy`, a TCP proxy on real sockets between the
SDK and the server, that the test cuts and holds. An observer (a plain
``websockets`` connection of the same user and version, straight to the
server) records what the server sent, to compare with what the SDK delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from agentsocket.client import (
    AuthenticationRefused,
    ConnectionLost,
    RequestError,
    State,
    StateChange,
    VersionUnsupported,
    connect,
)
from agentsocket.protocol import (
    TERMINAL_EVENTS,
    CloseCode,
    ErrorCode,
    ServerEnvelope,
    ServerMessage,
)
from agentsocket.protocol import server_messages as s
from tests.e2e.harness import ServerProcess, body, client, free_port, recv_json, run_server, tag

VERSIONS = ["v1", "v2", "v3"]
QUICKSTART = (
    Path(__file__).resolve().parents[2] / "docs" / "examples" / "client" / "sdk_quickstart.py"
)
#: Quick reconnects; a held attempt may wait for a whole slow run.
BACKOFF = (0.01, 0.1)
OPEN_TIMEOUT = 20.0


class Proxy:
    """Forwards 127.0.0.1:<port> to the server; the test can cut, hold and mute it."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.muted = False
        self.accepted = 0

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def ws(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ws"

    def cut(self) -> None:
        """Drop every forwarded connection at once, without a WebSocket close."""
        for downstream, upstream in self._pairs:
            downstream.transport.abort()
            upstream.transport.abort()
        self._pairs.clear()
        self.muted = False

    def hold(self) -> None:
        """New connections wait (accepted, not forwarded) until :meth:`release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def mute(self) -> None:
        """Stop forwarding server bytes to the client (the client's bytes still go through)."""
        self.muted = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        await self._open.wait()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._pairs.append((writer, up_writer))
        for source, sink, downstream in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(source, sink, downstream))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, downstream: bool
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                if downstream and self.muted:
                    continue
                sink.write(data)
                await sink.drain()
        sink.close()


# --- helpers -----------------------------------------------------------------------


def is_root_end(message: ServerMessage, run_id: str) -> bool:
    return isinstance(message, s.AgentEvent) and (
        message.run_id == run_id and message.TYPE in TERMINAL_EVENTS
    )


async def observe_run(ws: ClientConnection) -> list[Mapping[str, Any]]:
    """Every stream frame the server sends ``ws`` up to a root run's terminal event."""
    frames: list[Mapping[str, Any]] = []
    while True:
        frame = await recv_json(ws, 30)
        if frame.get("seq") is not None:
            frames.append(frame)
        if tag(frame) in TERMINAL_EVENTS and body(frame).get("parent_run_id") is None:
            return frames


# --- a whole run, typed ---------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test__demo_run__each_version__typed_events_from_started_to_completed(
    server: ServerProcess, version: str
) -> None:
    async with connect(server.ws, token=server.token(f"run-{version}"), version=version) as conn:
        assert conn.version == version
        assert conn.welcome.protocol_version == version
        assert conn.user_id == f"run-{version}"
        assert (conn.connection_id == "") is (version == "v1")  # v1's welcome has no id
        received = await conn.send_message("what is 17*23 in hex?")
        assert isinstance(received, s.MessageReceived)
        assert not received.duplicate
        events = [event async for event in conn.events(received.run_id)]

    first, last = events[0], events[-1]
    assert isinstance(first, s.AgentStarted)
    assert first.run_id == received.run_id
    assert first.parent_run_id is None
    assert isinstance(last, s.AgentCompleted)
    assert last.run_id == received.run_id
    assert all(event.thread_id == received.thread_id for event in events)
    executing = [e for e in events if isinstance(e, s.ToolExecuting)]
    completed = [e for e in events if isinstance(e, s.ToolCompleted)]
    assert [e.tool_name for e in executing] == ["calculate", "convert_base"]
    assert [e.tool_call_id for e in completed] == [e.tool_call_id for e in executing]
    assert all(e.status == "success" and e.duration_ms >= 0 for e in completed)
    assert completed[0].result == 391
    sub_runs = {e.run_id for e in events if e.parent_run_id == received.run_id}
    assert {e.run_id for e in executing} <= sub_runs  # the calculator sub-agent calls the tools
    answers = [e for e in events if isinstance(e, s.AgentMessage) and e.run_id == received.run_id]
    assert len(answers) == 1
    assert "0x187" in answers[0].content
    deltas = [e for e in events if isinstance(e, s.AgentMessageDelta)]
    assert bool(deltas) is (version != "v1")  # v1 never streamed pieces


@pytest.mark.parametrize("version", VERSIONS)
async def test__thread_helpers__each_version__round_trip(
    server: ServerProcess, version: str
) -> None:
    async with connect(
        server.ws, token=server.token(f"threads-{version}"), version=version
    ) as conn:
        thread = await conn.create_thread("groceries")
        assert thread.title == "groceries"
        listed = await conn.list_threads(limit=10)
        assert [t.thread_id for t in listed.threads] == [thread.thread_id]
        assert not listed.has_more

        received = await conn.send_message("what is 17*23 in hex?", thread_id=thread.thread_id)
        assert received.thread_id == thread.thread_id
        async for _ in conn.events(received.run_id):
            pass
        history = await conn.history(thread.thread_id)
        assert [m.role for m in history.messages] == ["user", "assistant"]
        assert history.messages[0].content == "what is 17*23 in hex?"
        assert "0x187" in history.messages[1].content

        renamed = await conn.rename_thread(thread.thread_id, "maths")
        assert (renamed.thread_id, renamed.title) == (thread.thread_id, "maths")
        await conn.delete_thread(thread.thread_id)
        assert (await conn.list_threads()).threads == []
        with pytest.raises(RequestError) as refused:
            await conn.history(thread.thread_id)
        assert refused.value.code is ErrorCode.NOT_FOUND
        pong = await conn.ping()
        assert pong.client_time is not None

        # The thread's stream messages reached the iterator too, in seq order.
        stream: list[ServerEnvelope] = []
        while len(stream) < 3:
            envelope = await asyncio.wait_for(conn.receive(), 10)
            if isinstance(envelope.message, s.ThreadCreated | s.ThreadRenamed | s.ThreadDeleted):
                stream.append(envelope)
    assert [e.type for e in stream] == ["thread_created", "thread_renamed", "thread_deleted"]
    seqs = [e.seq or 0 for e in stream]
    assert 0 < seqs[0] < seqs[1] < seqs[2]


async def test__double_texting__queued_receipt_conflict_with_run_id_then_stop(
    server: ServerProcess,
) -> None:
    async with connect(server.ws, token=server.token("sdk-double-texting")) as conn:
        thread = await conn.create_thread("busy")
        first = await conn.send_message("be slow about it", thread_id=thread.thread_id)
        assert first.queued is False
        with pytest.raises(RequestError) as refused:
            await conn.send_message(
                "are you done?", thread_id=thread.thread_id, double_texting="reject"
            )
        assert refused.value.code is ErrorCode.CONFLICT
        assert refused.value.run_id == first.run_id
        waiting = await conn.send_message("what is 1*2?", thread_id=thread.thread_id)
        assert waiting.queued is True
        stopped = await conn.stop(waiting.run_id)  # still waiting: it never starts
        assert isinstance(stopped, s.AgentCancelled)
        assert stopped.reason == "user_request"
        ended = await conn.stop(first.run_id)
        assert isinstance(ended, s.AgentCancelled)


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test__bad_token__raises_authentication_refused_4001(
    server: ServerProcess, version: str
) -> None:
    with pytest.raises(AuthenticationRefused) as refused:
        async with connect(server.ws, token="not-a-jwt", version=version):
            pass
    assert refused.value.code is CloseCode.UNAUTHORIZED
    assert refused.value.reason.startswith("malformed_token")


async def test__expired_token__raises_authentication_refused_4002(server: ServerProcess) -> None:
    with pytest.raises(AuthenticationRefused) as refused:
        async with connect(server.ws, token=server.token("late", ttl_seconds=-60)):
            pass
    assert refused.value.code is CloseCode.TOKEN_EXPIRED


async def test__version_the_server_disabled__raises_version_unsupported(tmp_path: Path) -> None:
    env = {"AGENTSOCKET_ENABLED_VERSIONS": '["v3", "v2"]'}
    with run_server(tmp_path, env=env) as limited:
        with pytest.raises(VersionUnsupported) as refused:
            async with connect(limited.ws, token=limited.token("old"), version="v1"):
                pass
        assert refused.value.code is CloseCode.UNSUPPORTED_VERSION
        assert refused.value.supported == ("v3", "v2")
        async with connect(limited.ws, token=limited.token("new"), version="v2") as conn:
            assert conn.welcome.protocol_version == "v2"


# --- reconnect and resume -----------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test__connection_cut_mid_run__resumes_every_seq_exactly_once(
    server: ServerProcess, version: str
) -> None:
    user = f"cut-{version}"
    changes: list[StateChange] = []
    async with (
        Proxy(server.port) as proxy,
        client(server, user, version) as observer,
        connect(
            proxy.ws,
            token=server.token(user),
            version=version,
            on_state=changes.append,
            backoff=BACKOFF,
            open_timeout=OPEN_TIMEOUT,
        ) as conn,
    ):
        await recv_json(observer)  # its welcome
        observed = asyncio.create_task(observe_run(observer))
        first_connection = conn.connection_id
        # "slow": the sleep tool runs 5 s, so the cut lands inside the run.
        received = await conn.send_message("take it slow")
        seen: list[ServerEnvelope] = []
        cut_at = -1
        async with asyncio.timeout(60):
            async for envelope in conn:
                seen.append(envelope)
                if cut_at < 0 and isinstance(envelope.message, s.ToolExecuting):
                    cut_at = len(seen)
                    proxy.hold()
                    proxy.cut()
                    # Reconnect only once the run is over: the rest must come from the resume.
                    await observed
                    proxy.release()
                if is_root_end(envelope.message, received.run_id):
                    break
        assert (conn.connection_id != first_connection) is (version != "v1")

    expected = [frame["seq"] for frame in observed.result()]
    delivered = [envelope.seq for envelope in seen if envelope.seq is not None]
    assert delivered == expected
    assert len(set(delivered)) == len(delivered)
    after_cut = [type(envelope.message) for envelope in seen[cut_at:]]
    assert s.ToolCompleted in after_cut
    assert after_cut[-1] is s.AgentCompleted
    assert proxy.accepted == 2
    states = [change.state for change in changes]
    assert states == [State.CONNECTING, State.OPEN, State.RECONNECTING, State.OPEN, State.CLOSED]


@pytest.mark.parametrize("version", VERSIONS)
async def test__message_in_flight_across_reconnect__resent_and_runs_once(
    server: ServerProcess, version: str
) -> None:
    user = f"inflight-{version}"
    async with (
        Proxy(server.port) as proxy,
        client(server, user, version) as observer,
        connect(
            proxy.ws,
            token=server.token(user),
            version=version,
            backoff=BACKOFF,
            open_timeout=OPEN_TIMEOUT,
        ) as conn,
    ):
        await recv_json(observer)
        # A stream message first: v1/v2 clients learn their resume point from it.
        thread = await conn.create_thread("in flight")
        observed = asyncio.create_task(observe_run(observer))
        proxy.mute()  # the server gets the message, the client never hears back
        sending = asyncio.create_task(
            conn.send_message("what is 17*23 in hex?", thread_id=thread.thread_id)
        )
        frames = await observed
        proxy.cut()
        received = await asyncio.wait_for(sending, 30)
        events = [event async for event in conn.events(received.run_id)]

    assert received.duplicate  # the resend was recognised, not run again
    started = [body(f) for f in frames if tag(f) == "agent_started"]
    assert [b["run_id"] for b in started if b.get("parent_run_id") is None] == [received.run_id]
    assert isinstance(events[0], s.AgentStarted)
    assert isinstance(events[-1], s.AgentCompleted)
    assert len([e for e in events if isinstance(e, s.AgentStarted)]) == len(started)


async def test__ticket_factory__fresh_ticket_for_every_connection(server: ServerProcess) -> None:
    issued: list[str] = []

    async def ticket() -> str:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{server.http}/auth/ticket",
                headers={"Authorization": f"Bearer {server.token('ticketed')}"},
            )
        response.raise_for_status()
        issued.append(response.json()["ticket"])
        return issued[-1]

    opened: list[StateChange] = []
    reopened = asyncio.Event()

    def on_state(change: StateChange) -> None:
        if change.state is State.OPEN:
            opened.append(change)
            if len(opened) == 2:
                reopened.set()

    async with (
        Proxy(server.port) as proxy,
        connect(proxy.ws, ticket_factory=ticket, backoff=BACKOFF, on_state=on_state) as conn,
    ):
        assert conn.user_id == "ticketed"
        first = conn.connection_id
        proxy.cut()
        await asyncio.wait_for(reopened.wait(), 20)
        assert conn.connection_id != first
        assert (await conn.ping()).client_time is not None
    assert len(issued) == 2
    assert issued[0] != issued[1]


# --- giving up ----------------------------------------------------------------------------


async def test__server_gone__retry_budget_spent__connection_lost(tmp_path: Path) -> None:
    changes: list[StateChange] = []
    with run_server(tmp_path, env={"AGENTSOCKET_RECONNECT_AFTER": "0"}) as gone:
        conn = await connect(
            gone.ws,
            token=gone.token("abandoned"),
            max_retries=3,
            backoff=(0.01, 0.05),
            on_state=changes.append,
        )
        await asyncio.to_thread(gone.stop, signal.SIGTERM)
    seen = []
    with pytest.raises(ConnectionLost) as lost:
        async with asyncio.timeout(30):
            async for envelope in conn:
                seen.append(type(envelope.message))
    assert lost.value.attempts == 3
    assert s.ServerShutdown in seen  # the node said goodbye before closing with 1001
    with pytest.raises(ConnectionLost):
        await conn.ping()
    attempts = [c.attempt for c in changes if c.state is State.RECONNECTING]
    assert attempts == [1, 2, 3]
    assert changes[-1].state is State.CLOSED
    assert changes[-1].error is lost.value
    await conn.close()


@pytest.mark.parametrize("reconnect", [True, False])
async def test__nothing_listening__connection_lost(reconnect: bool) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    with pytest.raises(ConnectionLost) as lost:
        async with connect(
            url, token="unused", reconnect=reconnect, max_retries=2, backoff=(0.01, 0.02)
        ):
            pass
    assert lost.value.attempts == (2 if reconnect else 1)


# --- the documented example ---------------------------------------------------------------


def test__docs_quickstart__runs_against_the_gateway(server: ServerProcess) -> None:
    done = subprocess.run(
        [sys.executable, str(QUICKSTART), server.ws, server.token("quickstart")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "connected as quickstart, protocol v3" in done.stdout
    assert "calculate({'expression': '17*23'})" in done.stdout
    assert "-> '0x187'" in done.stdout
    assert "17*23 = 391, which is 0x187 in hexadecimal." in done.stdout
    assert "the thread now holds 2 messages" in done.stdout
    assert "[open]" in done.stderr


def test__docs_quickstart__bad_token__exit_1(server: ServerProcess) -> None:
    done = subprocess.run(
        [sys.executable, str(QUICKSTART), server.ws, "bad"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "refused (4001)" in done.stderr


async def test__follow__thread_opened_mid_run__snapshot_then_tail_each_event_once(
    server: ServerProcess,
) -> None:
    """B opens A's thread while A's run waits in its tool: ``follow`` yields the run's events
    (the answer's, then live ones past the cut) exactly as A received them live."""
    user = "follow-v3"
    async with connect(server.ws, token=server.token(user), version="v3") as a:
        received = await a.send_message("be slow about it")
        live: list[s.AgentEvent] = []
        async for event in a.events(received.run_id):
            live.append(event)
            if isinstance(event, s.ToolExecuting):
                break
        async with connect(server.ws, token=server.token(user), version="v3") as b:
            history = await b.history(received.thread_id)
            followed = [message async for message in b.follow(history)]
            live += [event async for event in a.events(received.run_id)]
        # Nothing in flight any more: follow ends at once.
        assert [m async for m in a.follow(await a.history(received.thread_id))] == []

    assert history.stream_seq is not None
    assert [m.content for m in history.messages] == ["be slow about it"]  # no answer yet
    assert 0 < len(history.events) < len(followed)  # some from the answer, the rest live
    assert followed == live  # every event once, in order; the question is on the page
    assert isinstance(followed[-1], s.AgentCompleted)


async def test__docs_survey__refused_rating_then_answered__resolution_on_every_connection(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quickstart's ``rate``: a rating out of the schema is refused field by field, the
    question stays open, the second answer is taken; another connection of the user sees
    the question and its resolution."""
    spec = importlib.util.spec_from_file_location("sdk_quickstart", QUICKSTART)
    assert spec is not None
    assert spec.loader is not None
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    user = "survey-v3"
    async with connect(server.ws, token=server.token(user), version="v3") as other:
        answer = await quickstart.rate(server.ws, server.token(user), 9)
        seen: list[ServerMessage] = []
        async for message in other.messages():
            seen.append(message)
            if isinstance(message, s.AgentCompleted) and message.parent_run_id is None:
                break
    assert answer == 'Thanks: you rated it 5/5 and said "second try".'
    assert capsys.readouterr().out.splitlines() == [
        "? How would you rate this demo?",
        "['$.data.answer.rating: 9 is greater than the maximum of 5']",
        "The question was answered.",
    ]
    [question] = [m for m in seen if isinstance(m, s.AgentQuestion)]
    [resolved] = [m for m in seen if isinstance(m, s.InterruptResolved)]
    assert question.answer_schema["required"] == ["rating"]
    assert question.expires_at > question.timeout_seconds  # a time, not a duration
    assert (resolved.interrupt_id, resolved.kind, resolved.resolution) == (
        question.question_id,
        "question",
        "answered",
    )
    assert resolved.answer == {"rating": 5, "comment": "second try"}
    assert resolved.answered_by not in (None, other.connection_id)  # the quickstart's connection
