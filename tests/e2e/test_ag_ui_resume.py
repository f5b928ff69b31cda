"""AG-UI SSE resume after a real connection loss: a TCP proxy cut mid-run, ``Last-Event-ID``.

The client of ``POST /ag-ui`` talks to the gateway through a cuttable TCP proxy
(:class:`tests.delivery.proxy.TcpProxy`); mid-run the proxy drops the
connection (the client does not close politely), and the client reconnects with
the ``Last-Event-ID`` it last got: to the same node, and, with ``broker=redis``,
to another node. What it received, put together, must hold every event exactly
once: ids strictly increasing, nothing twice, and event for event what an uncut
watcher of the same run got (an SSE watcher that never lost its connection,
and a v3 WebSocket watcher whose frames are converted here).

The agent is the demo agent that, between working out the calculations and
answering, waits for the test's go (a file): the cut lands while the run still
goes on, and the answer comes only once the resumed request was accepted. So
the resumed stream replays what the client missed, then follows the run live.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("ag_ui", reason="needs the ag-ui extra: pip install -e '.[dev]'")

from agentsocket.protocol import decode_server
from agentsocket.protocol.ag_ui import RunConverter, encode_event
from tests.delivery.proxy import TcpProxy
from tests.e2e.cluster import cluster
from tests.e2e.harness import ServerProcess, client, recv_json, recv_until, run_server
from tests.e2e.sse import SseEvent, events, post_run, run_input
from tests.e2e.test_ag_ui_http import LONG_PROMPT, check
from tests.services import require_postgres, require_redis

pytestmark = pytest.mark.e2e

#: Events the cut client reads before the proxy drops its connection.
CUT_AFTER = 5
#: The agent works out the calculations (sub-agents, tools), then waits until the
#: test creates its gate file (at most 30 s) before it answers.
PACED_AGENT = """
import asyncio
from pathlib import Path

from agentsocket.agents import DemoAgent

GATE = Path(__file__).with_name("go")


class Paced(DemoAgent):
    def __init__(self):
        super().__init__(name="paced")

    async def run(self, ctx, prompt):
        answers = []
        for task in self.plan(prompt):
            await ctx.think(f"Asking the {task.agent.name} agent: {task.text}")
            answers.append(await ctx.delegate(task.agent, task.text))
        await ctx.think("Waiting for the test to let me answer")
        for _ in range(600):
            if GATE.exists():
                break
            await asyncio.sleep(0.05)
        await ctx.say("\\n".join(answers), chunk=16)
"""
AGENT_ARGS = ("--agent", "paced_agent:Paced")


def _agent_home(tmp: Path) -> Path:
    home = tmp / "agent"
    home.mkdir()
    (home / "paced_agent.py").write_text(PACED_AGENT)
    return home


@contextlib.asynccontextmanager
async def _proxy(port: int) -> AsyncIterator[tuple[TcpProxy, str]]:
    proxy = TcpProxy("127.0.0.1", port)
    proxy_port = await proxy.start()
    try:
        yield proxy, f"http://127.0.0.1:{proxy_port}"
    finally:
        await proxy.close()


async def _read_until_cut(
    base: str,
    token: str,
    body: dict[str, Any],
    cut: Callable[[], None],
    on_first: Callable[[SseEvent], None],
) -> list[SseEvent]:
    """Read the run's events through the proxy; after ``CUT_AFTER`` of them, ``cut()`` it.

    Returns what arrived before the connection broke (the transport error is
    the point: the client never closed it).
    """
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    received: list[SseEvent] = []
    with pytest.raises(httpx.TransportError):
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as http,
            http.stream("POST", "/ag-ui", json=body, headers=headers) as response,
        ):
            assert response.status_code == 200, (await response.aread()).decode()
            async for event in events(response):
                received.append(event)
                if len(received) == 1:
                    on_first(event)
                if len(received) == CUT_AFTER:
                    cut()  # and keep reading: the next read meets the dropped connection
    return received


async def _resume_then_go(
    base: str, token: str, body: dict[str, Any], last: SseEvent, gate: Path
) -> list[SseEvent]:
    """Reconnect with ``Last-Event-ID``; once accepted, let the agent answer; read to the end."""
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": last.id}
    received: list[SseEvent] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as http,
        http.stream("POST", "/ag-ui", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        await asyncio.to_thread(gate.touch)  # from here on the run's events reach this stream live
        async for event in events(response):
            received.append(event)
    return received


def _answer(events: list[SseEvent]) -> str:
    """The run's own answer text (not its sub-runs')."""
    return "".join(
        e.data["delta"]
        for e in events
        if e.type == "TEXT_MESSAGE_CONTENT" and "subagentRunId" not in e.data
    )


async def _watch(base: str, token: str, body: dict[str, Any], first: SseEvent) -> list[SseEvent]:
    """An uncut SSE watcher of the same run: its first event, then everything after it."""
    return [first, *await post_run(base, token, body, last_event_id=first.id)]


def _position(event: SseEvent) -> tuple[int, int]:
    """(seq, index) of an event id ``<run>/<epoch>:<start>:<seq>.<index>``."""
    seq, index = event.id.rsplit(":", 1)[1].split(".")
    return int(seq), int(index)


def _assert_exactly_once(whole: list[SseEvent], uncut: list[SseEvent]) -> None:
    positions = [_position(e) for e in whole]
    assert all(a < b for a, b in itertools.pairwise(positions)), positions
    assert len({e.id for e in whole}) == len(whole)
    assert [(e.id, e.data) for e in whole] == [(e.id, e.data) for e in uncut]
    check(whole)
    assert whole[-1].type == "RUN_FINISHED"
    assert "outcome" not in whole[-1].data


def _converted(frames: list[dict[str, Any]], run_id: str, agui_run_id: str) -> list[Any]:
    """What a v3 watcher's frames of the run become through the converter."""
    converter = RunConverter(run_id, agui_run_id=agui_run_id)
    out = []
    for frame in frames:
        decoded = decode_server(json.dumps(frame), "v3")
        assert not isinstance(decoded, Exception)
        out += [json.loads(encode_event(e)) for e in converter.convert(decoded.message)]
    return out


def _ends(run_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == "agent_completed" and f["data"]["run_id"] == run_id


async def test__proxy_cut_mid_run__resumed_on_the_same_node__every_event_once(
    tmp_path: Path,
) -> None:
    home = _agent_home(tmp_path)
    user = f"cut-{uuid.uuid4().hex[:6]}"
    body = run_input(LONG_PROMPT)
    with run_server(tmp_path, args=AGENT_ARGS, cwd=home) as server:
        last = await _cut_and_resume_same_node(server, home, user, body)

    # The node restarts on the same database: the memory broker's stream history
    # is gone (a new epoch) while the run is still stored, so the id is refused.
    with run_server(tmp_path, args=AGENT_ARGS, cwd=home) as again:
        headers = {"Authorization": f"Bearer {again.token(user)}", "Last-Event-ID": last}
        async with httpx.AsyncClient(base_url=again.http, timeout=30) as http:
            lost = await http.post("/ag-ui", json=body, headers=headers)
    assert (lost.status_code, lost.json()["error"]) == (410, "stream_lost")


async def _cut_and_resume_same_node(
    server: ServerProcess, home: Path, user: str, body: dict[str, Any]
) -> str:
    """Cut, resume, check; the id of the last event received."""
    token = server.token(user)
    watcher: list[asyncio.Task[list[SseEvent]]] = []

    def start_watcher(first: SseEvent) -> None:
        watcher.append(asyncio.create_task(_watch(server.http, token, body, first)))

    async with client(server, user) as ws, _proxy(server.port) as (proxy, base):
        await recv_json(ws)  # the welcome
        first = await _read_until_cut(
            base, token, body, lambda: proxy.cut(reset=True), start_watcher
        )
        proxy.restore()
        rest = await _resume_then_go(base, token, body, first[-1], home / "go")
        uncut = await watcher[0]
        run_id = first[0].id.split("/", 1)[0]
        frames = await recv_until(ws, _ends(run_id))

    kinds = [e.type for e in first]
    assert "RUN_FINISHED" not in kinds  # cut mid-run
    whole = first + rest
    _assert_exactly_once(whole, uncut)
    assert [e.data for e in whole] == _converted(frames, run_id, body["runId"])
    # The answer came live, after the reconnect.
    assert _answer(first) == ""
    assert "0x" in _answer(rest)
    return rest[-1].id


@pytest.mark.redis
@pytest.mark.postgres
async def test__proxy_cut_mid_run_on_one_node__resumed_on_another__every_event_once(
    tmp_path: Path,
) -> None:
    redis_url, postgres_url = require_redis(), require_postgres()
    home = _agent_home(tmp_path)
    async with cluster(
        tmp_path,
        redis_url,
        postgres_url,
        gateways=2,
        workers=1,
        env={"PYTHONPATH": str(home)},
        args=AGENT_ARGS,
    ) as nodes:
        a, b = nodes.gateways
        user = f"cut-{uuid.uuid4().hex[:6]}"
        body = run_input(LONG_PROMPT)
        watcher: list[asyncio.Task[list[SseEvent]]] = []

        def start_watcher(first: SseEvent) -> None:
            watcher.append(asyncio.create_task(_watch(a.http, a.token(user), body, first)))

        async with client(b, user) as ws, _proxy(a.port) as (proxy, base):
            await recv_json(ws)
            first = await _read_until_cut(base, a.token(user), body, proxy.cut, start_watcher)
            rest = await _resume_then_go(b.http, b.token(user), body, first[-1], home / "go")
            uncut = await watcher[0]
            run_id = first[0].id.split("/", 1)[0]
            frames = await recv_until(ws, _ends(run_id))

        # Refusals on the other node: another user's event id, then a lost history.
        mallory = {"Authorization": f"Bearer {b.token('mallory-' + user)}"}
        owner = {"Authorization": f"Bearer {b.token(user)}"}
        async with httpx.AsyncClient(base_url=b.http, timeout=30) as http:
            foreign = await http.post(
                "/ag-ui", json=body, headers={**mallory, "Last-Event-ID": rest[-1].id}
            )
            # The user's stream history is lost (its Redis keys are gone): a new epoch.
            for key in await nodes.redis.keys(f"{nodes.prefix}:{{{user}}}:*"):
                await nodes.redis.delete(key)
            lost = await http.post(
                "/ag-ui", json=body, headers={**owner, "Last-Event-ID": rest[-1].id}
            )

    assert "RUN_FINISHED" not in {e.type for e in first}
    whole = first + rest
    _assert_exactly_once(whole, uncut)
    assert [e.data for e in whole] == _converted(frames, run_id, body["runId"])
    assert _answer(first) == ""
    assert "0x" in _answer(rest)
    assert (foreign.status_code, foreign.json()["error"]) == (404, "not_found")
    assert (lost.status_code, lost.json()["error"]) == (410, "stream_lost")
