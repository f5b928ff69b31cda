"""Sessions over stand-in sockets: the live path, encode-once, catch-up, supervision."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agentsocket.protocol import CloseCode
from agentsocket.protocol import server_messages as s
from agentsocket.server.connection import Connection
from agentsocket.server.gateway import Gateway
from agentsocket.server.session import Session
from tests.server.sockets import Client, gateway, settle

pytestmark = pytest.mark.timeout(60)


def thinking(i: int) -> s.AgentThinking:
    return s.AgentThinking(run_id="r", thread_id="t", agent_name="demo", content=f"step {i}")


def delta(i: int) -> s.AgentMessageDelta:
    return s.AgentMessageDelta(
        run_id="r", thread_id="t", agent_name="demo", message_id="m", content=f"chunk {i} " * 30
    )


async def connected(gw: Gateway, user: str, version: str = "v3", **resume: int) -> Client:
    client = Client(gw, user, version).start()
    await settle()
    assert client.socket.sent, "no welcome"
    return client


async def test__live_entry__written_inside_the_publishers_call(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw:
        client = await connected(gw, "u")
        before = len(client.socket.sent)
        seq = await gw.publish("u", delta(1))
        # No task ran in between: the frame left in the publisher's own call.
        assert client.socket.seqs() == [seq]
        assert len(client.socket.sent) == before + 1
        client.socket.leave()
        await client.ended()


async def test__burst_to_100_connections__one_encode_per_entry_and_version(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, max_connections_per_user=100) as gw:
        versions = ["v3"] * 50 + ["v2"] * 30 + ["v1"] * 20
        clients = [Client(gw, "u", v).start() for v in versions]
        await settle()
        burst = 500
        for i in range(burst):  # no await yields to the connections in between
            await gw.publish("u", thinking(i))
        await settle()
        encoder = gw.registry.user("u").frames
        assert encoder.encodes == burst * 3
        for client in clients:
            assert len(client.socket.seqs()) == burst
        for client in clients:
            client.socket.leave()
        await asyncio.gather(*(c.ended() for c in clients))


async def test__delivery_failure__closes_only_that_connection_with_1011_and_resume_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, "agentsocket")
    async with gateway(tmp_path) as gw:
        failing, other = await connected(gw, "u"), await connected(gw, "u")
        real_push, pushed = Connection.push, []

        def push(self: Connection, text: str) -> None:
            if self is failing.connection:  # the other connection is untouched
                pushed.append(text)
                if len(pushed) == 3:
                    raise RuntimeError("injected delivery failure")
            real_push(self, text)

        # On the class: a connection is slotted, its methods cannot be replaced one by one.
        monkeypatch.setattr(Connection, "push", push)
        seqs = []
        for i in range(10):
            seqs.append(await gw.publish("u", delta(i)))
            await asyncio.sleep(0.001)
        await failing.ended(timeout=1.0)
        assert failing.socket.closed == (CloseCode.INTERNAL_ERROR, "internal error")
        assert other.socket.seqs() == seqs  # unaffected
        assert other.socket.closed is None
        metrics = gw.metrics.render().decode()
        assert "agentsocket_connection_failures_total 1.0" in metrics
        failures = [r for r in caplog.records if r.getMessage() == "connection failed"]
        assert len(failures) == 1
        assert getattr(failures[0], "connection_id", None) == failing.connection.id

        got = failing.socket.seqs()
        assert got == seqs[:2]
        resumed = Client(gw, "u").start(resume=(None, got[-1]))
        await settle()
        assert got + resumed.socket.seqs() == seqs
        for client in (other, resumed):
            client.socket.leave()
            await client.ended()


async def test__backlog_beyond_the_queue__streamed_at_the_sockets_pace(tmp_path: Path) -> None:
    """Issue 12 bug 1: 3,000 entries, last_seq=0, a 50-frame queue: all arrive, no 4101."""
    async with gateway(tmp_path, outbound_queue_size=50) as gw:
        seqs = [await gw.publish("u", delta(i)) for i in range(3000)]
        client = Client(gw, "u")
        slow = client.socket
        slow.stall_every = 7  # writes held back: the catch-up must wait, not overflow
        client.start(resume=(None, 0))
        for _ in range(1000):
            if len(slow.seqs()) == len(seqs):
                break
            await asyncio.sleep(0.01)
        assert slow.seqs() == seqs
        assert slow.closed is None
        slow.leave()
        await client.ended()


async def test__live_frames_past_the_queue__slow_consumer_close_and_abort(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, outbound_queue_size=5) as gw:
        client = await connected(gw, "u")
        client.socket.gate.clear()  # the peer stops reading
        for i in range(20):
            await gw.publish("u", delta(i))
        await client.ended(timeout=3.0)
        assert client.socket.aborted
        assert gw.registry.count_for("u") == 0
        assert 'agentsocket_closes_total{code="4101"} 1.0' in gw.metrics.render().decode()


async def test__write_blocked_past_send_timeout__transport_aborted(tmp_path: Path) -> None:
    async with gateway(tmp_path, send_timeout=0.2) as gw:
        client = await connected(gw, "u")
        client.socket.gate.clear()
        await gw.publish("u", delta(1))
        await client.ended(timeout=3.0)
        assert client.socket.aborted


async def test__user_rate_limit__survives_a_reconnect(tmp_path: Path) -> None:
    """Issue 12 bug 11: a user's bucket is kept while the user has state on the node."""
    async with gateway(tmp_path, rate_per_user=1.0, burst_per_user=3) as gw:
        first = await connected(gw, "u")
        bucket = gw.registry.user("u").bucket
        for i in range(3):
            first.socket.client_sends({"type": "ping", "correlation_id": f"a{i}"})
        await settle()
        first.socket.leave()
        await first.ended()
        second = await connected(gw, "u")
        assert gw.registry.user("u").bucket is bucket
        second.socket.client_sends({"type": "ping", "correlation_id": "b"})
        await settle()
        answer = second.socket.frames()[-1]
        assert answer["type"] == "error"
        assert answer["data"]["code"] == "rate_limited"
        second.socket.leave()
        await second.ended()


def tasks(session: Session) -> int:
    """The session's tasks besides its own (the reader)."""
    return len(session._children or ())


async def test__idle_connection__no_task_but_its_own__writer_and_catch_up_end_when_done(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path) as gw:
        seqs = [await gw.publish("u", delta(i)) for i in range(5)]
        client = Client(gw, "u").start(resume=(None, 0))  # a backlog of 5: the catch-up pages it
        await settle()
        assert client.socket.seqs() == seqs
        session, connection = client.session, client.connection
        assert tasks(session) == 0  # the catch-up ended; no writer was needed
        assert connection._queue is None
        client.socket.gate.clear()  # the peer stops reading: writes are held back
        seqs += [await gw.publish("u", delta(i)) for i in range(5, 8)]
        assert tasks(session) == 1  # a writer, for the held write
        client.socket.gate.set()
        await settle()
        assert client.socket.seqs() == seqs
        assert tasks(session) == 0  # drained: the writer ended
        assert connection._queue is None
        seqs.append(await gw.publish("u", delta(8)))
        assert client.socket.seqs() == seqs  # live again, written in the publisher's call
        client.socket.leave()
        await client.ended()
