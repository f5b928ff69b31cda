"""Resume after reconnect on one gateway node, with the memory broker and the Redis broker.

A real ``agentsocket serve`` subprocess; clients are plain ``websockets``
connections. One client of a user goes away, another of the same user makes
traffic, the first comes back with its position: it must get every missed
stream message in order and without duplicates, then live traffic; or an
explicit ``stream_gap`` when the log no longer has them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from tests.e2e.cluster import StreamClient
from tests.e2e.harness import ServerProcess, body, client, recv_json, run_server, tag
from tests.services import require_redis

pytestmark = pytest.mark.e2e

#: About 220 stream messages, streamed over a second or so.
LONG_PROMPT = "what is " + " and ".join(f"{n}*{n + 3}" for n in range(1, 25)) + " in hex?"
SHORT_PROMPT = "what is 17*23 in hex?"
RETAINED = 5


def _start(
    request: pytest.FixtureRequest, tmp: Any, env: dict[str, str]
) -> Iterator[ServerProcess]:
    """A gateway with the broker ``request.param`` names; Redis keys deleted afterwards."""
    if request.param == "memory":
        with run_server(tmp, env=env) as server:
            yield server
        return
    redis_url = require_redis()
    prefix = f"e2e-resume-{uuid.uuid4().hex[:10]}"
    redis_env = {
        "AGENTSOCKET_BROKER": "redis",
        "AGENTSOCKET_REDIS_URL": redis_url,
        "AGENTSOCKET_REDIS_PREFIX": prefix,
    }
    try:
        with run_server(tmp, env={**env, **redis_env}) as server:
            yield server
    finally:
        redis = Redis.from_url(redis_url)
        try:
            for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
                redis.delete(key)
        finally:
            redis.close()


BROKERS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(scope="module", params=BROKERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from _start(request, tmp_path_factory.mktemp("resume"), {})


@pytest.fixture(scope="module", params=BROKERS)
def short_log_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A gateway whose stream logs keep only the last ``RETAINED`` entries."""
    env = {"AGENTSOCKET_STREAM_MAX_ENTRIES": str(RETAINED)}
    yield from _start(request, tmp_path_factory.mktemp("resume-short"), env)


@pytest.fixture
def user() -> str:
    return f"resumer-{uuid.uuid4().hex[:8]}"


async def chat(c: StreamClient, content: str, thread_id: str | None = None) -> dict[str, Any]:
    """Send a chat message; the fields of its ack (``run_id``, ``thread_id``)."""
    start = len(c.frames)
    fields = {"thread_id": thread_id} if thread_id else {}
    await c.send("user_message", content=content, **fields)
    ack = await c.wait_for(lambda f: tag(f) == "message_received", start=start)
    return dict(body(ack))


def seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [int(f["seq"]) for f in frames]


def assert_gap_free(values: list[int], who: str = "client") -> None:
    assert values == list(range(values[0], values[0] + len(values))), f"{who}: {values}"


async def test_reconnect_with_last_seq_and_epoch_gets_every_missed_message_then_live(
    server: ServerProcess, user: str
) -> None:
    """Away during most of a long run, back while it still streams: everything missed in
    order (the replay/live boundary under a busy publisher), then live traffic."""
    away, other = StreamClient(user), StreamClient(user)
    try:
        await away.connect(server)
        await other.connect(server)
        first = await chat(away, SHORT_PROMPT)
        await other.wait_terminal(first["run_id"])
        await away.wait_terminal(first["run_id"])
        last_seen = away.last_seq
        await away.close()

        long_run = await chat(other, LONG_PROMPT, first["thread_id"])
        await other.wait_for(lambda f: f.get("seq") is not None and f["seq"] > last_seen + 40)
        reconnect_at = len(away.frames)
        await away.connect(server, resume=True)
        await away.wait_terminal(long_run["run_id"])
        streaming_at_resume = away.frames[reconnect_at:]
        after = await chat(other, SHORT_PROMPT, first["thread_id"])
        await away.wait_terminal(after["run_id"])
        await other.wait_terminal(after["run_id"])

        assert_gap_free(seqs(away.stream), "the resumed client")
        resumed = [f for f in away.frames[reconnect_at:] if f.get("seq") is not None]
        assert resumed[0]["seq"] == last_seen + 1
        # Same frames as the client that never left, seq by seq, content and all.
        assert resumed == [f for f in other.stream if f["seq"] > last_seen]
        assert not [f for f in away.frames if tag(f) == "stream_gap"]
        assert len(streaming_at_resume) > 0
    finally:
        await away.close()
        await other.close()


async def test_resume_message_as_the_first_frame(server: ServerProcess, user: str) -> None:
    """Connect without a position, send ``resume`` first: the missed messages, then live."""
    away, other = StreamClient(user), StreamClient(user)
    try:
        await away.connect(server)
        await other.connect(server)
        first = await chat(other, SHORT_PROMPT)
        await away.wait_terminal(first["run_id"])
        last_seen, epoch = away.last_seq, away.epoch
        await away.close()
        missed = await chat(other, SHORT_PROMPT, first["thread_id"])
        await other.wait_terminal(missed["run_id"])

        reconnect_at = len(away.frames)
        await away.connect(server)
        await away.send("resume", epoch=epoch, last_seq=last_seen)
        welcome = away.welcomes[-1]
        assert body(welcome)["stream"] == {"epoch": epoch, "seq": other.last_seq}
        await away.wait_terminal(missed["run_id"])
        live = await chat(other, SHORT_PROMPT, first["thread_id"])
        await away.wait_terminal(live["run_id"])
        await other.wait_terminal(live["run_id"])

        resumed = [f for f in away.frames[reconnect_at:] if f.get("seq") is not None]
        assert resumed == [f for f in other.stream if f["seq"] > last_seen]
        assert_gap_free(seqs(away.stream))
    finally:
        await away.close()
        await other.close()


async def test_resume_past_retention_gets_a_gap_and_the_history_is_in_the_store(
    short_log_server: ServerProcess, user: str
) -> None:
    """The log kept only the last 5 entries: ``stream_gap`` (retention) naming exactly
    what is gone, then the retained entries; the thread is still whole in the store."""
    away, other = StreamClient(user), StreamClient(user)
    try:
        await away.connect(short_log_server)
        await other.connect(short_log_server)
        last_seen, epoch = 0, away.epoch
        await away.close()
        run = await chat(other, SHORT_PROMPT)
        end = await other.wait_terminal(run["run_id"])
        head = int(end["seq"])
        assert head > RETAINED + 1, "the run emitted more than the log keeps"

        reconnect_at = len(away.frames)
        await away.connect(short_log_server, resume=True)
        gap = await away.wait_for(lambda f: tag(f) == "stream_gap", start=reconnect_at)
        assert body(gap) == {
            "epoch": epoch,
            "from_seq": last_seen + 1,
            "to_seq": head - RETAINED,
            "reason": "retention",
        }
        await away.wait_terminal(run["run_id"])
        after_gap = away.frames[away.frames.index(gap) + 1 :]
        assert seqs([f for f in after_gap if f.get("seq") is not None]) == list(
            range(head - RETAINED + 1, head + 1)
        )
        assert [f for f in after_gap if f.get("seq")] == other.stream[-RETAINED:]

        start = len(away.frames)
        await away.send("get_thread_history", thread_id=run["thread_id"])
        history = body(await away.wait_for(lambda f: tag(f) == "thread_history", start=start))
        messages = history["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[0]["content"] == SHORT_PROMPT
        assert (
            messages[1]["content"]
            == body(
                next(
                    f
                    for f in other.stream
                    if tag(f) == "agent_message" and not body(f).get("parent_run_id")
                )
            )["content"]
        )
    finally:
        await away.close()
        await other.close()


async def test_resume_with_a_wrong_epoch_gets_an_epoch_changed_gap_then_live(
    server: ServerProcess, user: str
) -> None:
    """A position from another history: ``stream_gap`` ``epoch_changed`` over the whole
    current stream (reload state), then live traffic."""
    c, other = StreamClient(user), StreamClient(user)
    try:
        await other.connect(server)
        first = await chat(other, SHORT_PROMPT)
        await other.wait_terminal(first["run_id"])
        head = other.last_seq

        await c.connect(server, query="last_seq=3&epoch=an-epoch-that-never-was")
        gap = await c.wait_for(lambda f: tag(f) == "stream_gap")
        assert body(gap) == {
            "epoch": other.epoch,
            "from_seq": 1,
            "to_seq": head,
            "reason": "epoch_changed",
        }
        live = await chat(other, SHORT_PROMPT, first["thread_id"])
        await c.wait_terminal(live["run_id"])
        await other.wait_terminal(live["run_id"])
        assert c.stream == [f for f in other.stream if f["seq"] > head]
    finally:
        await c.close()
        await other.close()


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("how", ["query", "message"])
async def test_v1_and_v2_clients_resume_with_last_seq_only(
    server: ServerProcess, user: str, version: str, how: str
) -> None:
    """Older clients never see an epoch: ``?last_seq=N`` (or ``resume`` with ``last_seq``
    only) resumes in the current epoch. The reference is a client of the same version
    that never left (older versions skip the stream messages they cannot express)."""
    away, other = StreamClient(user, version), StreamClient(user, version)
    try:
        await away.connect(server)
        await other.connect(server)
        first = await chat(other, SHORT_PROMPT)
        await away.wait_terminal(first["run_id"])
        assert away.epoch is None, f"{version} welcomes carry no stream position"
        last_seen = away.last_seq
        await away.close()
        missed = await chat(other, SHORT_PROMPT, first["thread_id"])
        await other.wait_terminal(missed["run_id"])

        reconnect_at = len(away.frames)
        if how == "query":
            await away.connect(server, resume=True)
        else:
            await away.connect(server)
            await away.send("resume", last_seq=last_seen)
        await away.wait_terminal(missed["run_id"])
        live = await chat(other, SHORT_PROMPT, first["thread_id"])
        await away.wait_terminal(live["run_id"])
        await other.wait_terminal(live["run_id"])

        resumed = [f for f in away.frames[reconnect_at:] if f.get("seq") is not None]
        # The first missed entry is the question (user_message_accepted), which v1 and v2
        # cannot express: their first resumed frame is the run's agent_started, one later.
        assert resumed[0]["seq"] == last_seen + 2
        assert resumed == [f for f in other.stream if f["seq"] > last_seen]
        assert seqs(away.stream) == seqs(other.stream)
        assert not [f for f in away.frames if tag(f) == "stream_gap"]
    finally:
        await away.close()
        await other.close()


async def test_resume_from_the_head_gets_only_live_traffic(
    server: ServerProcess, user: str
) -> None:
    """Nothing missed: no replay and no gap, just what comes next."""
    c, other = StreamClient(user), StreamClient(user)
    try:
        await c.connect(server)
        await other.connect(server)
        first = await chat(other, SHORT_PROMPT)
        await c.wait_terminal(first["run_id"])
        head = c.last_seq
        await c.close()
        reconnect_at = len(c.frames)
        await c.connect(server, resume=True)
        await asyncio.sleep(0.3)
        assert [f for f in c.frames[reconnect_at:] if tag(f) != "connection_established"] == []
        live = await chat(other, SHORT_PROMPT, first["thread_id"])
        await c.wait_terminal(live["run_id"])
        await other.wait_terminal(live["run_id"])
        resumed = [f for f in c.frames[reconnect_at:] if f.get("seq") is not None]
        assert resumed[0]["seq"] == head + 1
        assert_gap_free(seqs(c.stream))
    finally:
        await c.close()
        await other.close()


@pytest.mark.parametrize("how", ["query", "resume"])
async def test__position_far_past_the_head__stream_gap_without_a_traceback(
    server: ServerProcess, user: str, how: str
) -> None:
    huge = 2**53 - 1  # the largest seq a frame may carry (JSON-safe integers)
    query = f"last_seq={huge}" if how == "query" else ""
    async with client(server, user, query=query) as ws:
        await recv_json(ws)
        if how == "resume":
            await ws.send(json.dumps({"type": "resume", "data": {"last_seq": huge}}))
        gap = await recv_json(ws)
        # Past the safe-integer range the frame is refused (typed error); it stays open.
        await ws.send('{"type": "resume", "data": {"last_seq": 100000000000000000000000}}')
        refused = await recv_json(ws)
    assert tag(refused) == "error"
    assert tag(gap) == "stream_gap"
    assert body(gap)["reason"] == "epoch_changed"
    assert "Traceback" not in server.log()
