"""``agentsocket worker``: executes agent runs queued by gateway nodes (``runs=queue``).

A worker takes runs from the Redis run queue, runs them with the same
:class:`~agentsocket.agents.Runner` as the embedded gateway, publishes their
events into each user's stream through the Redis broker (so every gateway
node delivers them), stores outcomes in the shared store, and obeys cancel
and approval commands from the control channel. It renews a heartbeat; if it
dies, a gateway node ends its runs with ``worker_lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any

import orjson
from redis.asyncio import Redis

from agentsocket.agents import Runner, RunOutcome
from agentsocket.delivery import RedisBroker
from agentsocket.delivery.run_queue import RunQueue, RunRequest
from agentsocket.protocol import AgentErrorCode, ServerMessage
from agentsocket.protocol import server_messages as s
from agentsocket.server.executors import StreamSink
from agentsocket.server.frames import stream_payload
from agentsocket.server.runs import build_agents, history_search, persist_outcome
from agentsocket.server.settings import Settings
from agentsocket.store import Store

log = logging.getLogger("agentsocket.worker")


class Worker:
    """One worker process: claims runs, runs them, reports them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.id = settings.worker_id or f"worker-{socket.gethostname()}-{os.getpid()}"
        self._slots = asyncio.Semaphore(settings.worker_concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then cancel what is still running."""
        settings = self.settings
        store = await Store.open(settings.database_url)
        broker = RedisBroker(
            settings.redis_url,
            prefix=settings.redis_prefix,
            max_entries=settings.stream_max_entries,
            max_age_seconds=settings.stream_max_age,
            client_name=self.id,
        )
        await broker.start()
        redis = Redis.from_url(settings.redis_url)
        self.queue = RunQueue(redis, settings.redis_prefix)
        await self.queue.ensure_group()
        self.store, self.broker = store, broker
        self.agents = build_agents(settings, history_search(store))
        self.runner = Runner(
            timeout=settings.run_timeout,
            approval_timeout=settings.approval_timeout,
            on_finish=self._finished,
        )
        log.info("worker started", extra={"worker_id": self.id})
        tasks = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._control(redis)),
            asyncio.create_task(self._consume(stop)),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.runner.shutdown("shutdown")
        await broker.close()
        await redis.aclose()
        await store.close()
        log.info("worker stopped", extra={"worker_id": self.id})

    async def publish(self, user_id: str, message: ServerMessage) -> int:
        entry = await self.broker.publish(user_id, stream_payload(message, self.id))
        return entry.seq

    async def _consume(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._slots.acquire()
            try:
                request = await self.queue.claim(self.id, block_ms=1000)
            except Exception:
                self._slots.release()
                log.exception("claiming a run failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if request is None:
                self._slots.release()
                continue
            await self._start(request)

    async def _start(self, request: RunRequest) -> None:
        agent = self.agents.get(request.agent)
        if agent is None:
            await self.publish(
                request.user_id,
                s.AgentError(
                    run_id=request.run_id,
                    thread_id=request.thread_id,
                    agent_name=request.agent,
                    code=AgentErrorCode.UNKNOWN_AGENT.value,
                    message=f"this worker has no agent {request.agent!r}",
                    retryable=False,
                ),
            )
            await self.queue.finished(request.run_id, request.user_id)
            self._slots.release()
            return
        sink = StreamSink(self.publish, request.user_id)
        self.runner.start(
            request.user_id, request.thread_id, agent, request.prompt, request.run_id, sink
        )
        if await self.queue.cancel_requested(request.run_id):
            self.runner.cancel(request.run_id)

    async def _finished(self, outcome: RunOutcome) -> None:
        try:
            await persist_outcome(self.store, outcome)
            await self.queue.finished(outcome.run_id, outcome.user_id)
        finally:
            self._slots.release()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.queue.heartbeat(self.id, self.settings.worker_ttl)
            except Exception:
                log.exception("heartbeat failed")
            await asyncio.sleep(self.settings.worker_heartbeat)

    async def _control(self, redis: Redis) -> None:
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.queue.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._obey(orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("control channel lost; resubscribing")
                await asyncio.sleep(1.0)

    def _obey(self, command: dict[str, Any]) -> None:
        run_id, user_id = command.get("run_id"), command.get("user_id")
        if not isinstance(run_id, str):
            return
        if command.get("op") == "cancel":
            self.runner.cancel(run_id, user_id=user_id)
        elif command.get("op") == "approve":
            self.runner.resolve_approval(
                run_id,
                str(command.get("tool_call_id")),
                bool(command.get("approved")),
                command.get("reason"),
                user_id=user_id,
            )


def run_worker(settings: Settings) -> None:
    """Run a worker until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Worker(settings).run(stop)

    asyncio.run(main())
