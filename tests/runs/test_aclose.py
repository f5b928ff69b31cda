"""Agents' optional ``aclose()`` is awaited once when the gateway or the worker shuts down."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agentsocket.agents import RunContext
from agentsocket.agents.adapters.ag_ui import AGUIAgent
from agentsocket.runs import AgentSet
from agentsocket.runs import agent_set as agent_set_module
from agentsocket.server.gateway import Gateway
from agentsocket.settings import Settings
from agentsocket.worker import Worker
from tests.e2e.cluster import delete_prefix
from tests.server.sockets import settings as gateway_settings


class Closing:
    """Counts its ``aclose`` calls."""

    def __init__(self, name: str = "closing") -> None:
        self.name = name
        self.closed = 0

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt)

    async def aclose(self) -> None:
        self.closed += 1


class SyncClosing(Closing):
    def aclose(self) -> None:  # type: ignore[override]  # a plain function is accepted too
        self.closed += 1


class FailingClose(Closing):
    async def aclose(self) -> None:
        raise OSError("the socket was already gone")


class HangingClose(Closing):
    async def aclose(self) -> None:
        await asyncio.sleep(3600)


class NoClose:
    name = "plain"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt)


async def test__agent_set_aclose__every_agent_even_after_one_fails_or_hangs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_set_module, "ACLOSE_TIMEOUT", 0.05)
    first, last, plain = Closing("first"), SyncClosing("last"), Closing("plain-ish")
    agents = AgentSet(
        [first, FailingClose("failing"), HangingClose("hanging"), NoClose(), last, plain]
    )

    with caplog.at_level(logging.ERROR, logger="agentsocket.runs"):
        await agents.aclose()

    assert (first.closed, last.closed, plain.closed) == (1, 1, 1)
    failed = [r.getMessage() for r in caplog.records]
    assert failed == ["closing agent failing failed", "closing agent hanging failed"]
    assert "the socket was already gone" in caplog.text


async def test__gateway_shutdown__closes_its_agents_once(tmp_path: Path) -> None:
    closing = Closing()
    remote = AGUIAgent("remote", "http://127.0.0.1:1/agent")
    client = remote._http()  # the client it made, as a first run would

    async with Gateway.open(gateway_settings(tmp_path), [closing, remote]) as gateway:
        assert closing.closed == 0
        await gateway.drain()  # what SIGTERM does first; the exit shuts down again
        assert closing.closed == 1

    assert closing.closed == 1
    assert client.is_closed


@pytest.mark.redis
async def test__worker_shutdown__closes_its_agents(tmp_path: Path, redis_url: str) -> None:
    prefix = f"test-aclose-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        jwt_secret="x" * 40,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        broker="redis",
        runs="queue",
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    closing = Closing()
    worker = Worker(settings, agents=[closing])
    stop = asyncio.Event()
    stop.set()  # start, then shut down at once
    try:
        await worker.run(stop)
    finally:
        redis = Redis.from_url(redis_url)
        await delete_prefix(redis, prefix)  # the queue's group, the heartbeat
        await redis.aclose()
    assert closing.closed == 1
