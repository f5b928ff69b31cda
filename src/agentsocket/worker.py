"""``agentsocket worker``: executes agent runs queued by gateway nodes (``runs=queue``).

A worker takes runs from the Redis run queue, runs them with the same
:class:`~agentsocket.agents.Runner` as the embedded gateway, publishes their
events into each user's stream through the Redis broker (so every gateway
node delivers them), stores outcomes in the shared store, and obeys cancel
and approval commands from the control channel. It renews a heartbeat; if it
dies, a gateway node ends its runs with ``worker_lost``; a run it read from
the queue but had not taken yet is reclaimed by the next worker once it has
been pending longer than the worker TTL. A run that a gateway node ended
while still queued (no worker in time: ``no_worker``) is dropped unrun.

A worker that was away longer than its TTL (paused, or cut off from Redis)
finds out at its next renewal which of its runs were ended meanwhile, and
drops them: nothing more of such a run is published or stored. A run's
events are only published while the worker's last renewal is recent, so the
renewal after such an absence always comes before the run's next event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from redis.asyncio import Redis

from agentsocket import tracing
from agentsocket.agents import Runner, RunOutcome
from agentsocket.agents.adapters.metrics import AdapterMetrics
from agentsocket.aio import cancel_and_wait
from agentsocket.delivery import RedisBroker
from agentsocket.delivery.run_queue import RunInfo, RunQueue, RunRequest, connect
from agentsocket.looplag import loop_lag_gauge, watch_loop_lag
from agentsocket.protocol import AgentErrorCode, ServerMessage
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentCompleted,
    AgentError,
    AgentEvent,
    AgentQuestion,
    InterruptResolved,
    ToolApprovalRequired,
)
from agentsocket.runs import (
    Approve,
    BadCommand,
    Cancel,
    Resolve,
    build_agent_set,
    history_search,
    lost_run_outcome,
    parse_command,
    persist_outcome,
    stream_payload,
    thread_history,
)
from agentsocket.runs.double_texting import RedisThreadLine, next_stored
from agentsocket.runs.interrupts import StoredPauses, replay_of
from agentsocket.runs.metrics import RunMetrics, RunObserver
from agentsocket.runs.reaper import lost_run_error
from agentsocket.runs.timeline import PAUSES, TimelineRecorder
from agentsocket.settings import Settings
from agentsocket.store import Store

log = logging.getLogger("agentsocket.worker")

_TERMINAL = (AgentCompleted, AgentError, AgentCancelled)


class Worker:
    """One worker process: claims runs, runs them, reports them.

    Args:
        agents: agents given in code, besides those the settings name; give a
            worker the same agents as the gateways (a run for an agent it
            lacks ends with ``agent_error`` ``unknown_agent``).

    Raises:
        AgentSpecError: an agent cannot be loaded, or names clash.
    """

    def __init__(self, settings: Settings, agents: Iterable[object] = ()) -> None:
        self.settings = settings
        self.agents = build_agent_set(settings, agents, search=self._search)
        self.id = settings.worker_id or f"worker-{socket.gethostname()}-{os.getpid()}"
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._runs: set[str] = set()  # runs executing here
        self._dropped: set[str] = set()  # ... that are no longer ours to publish or store
        self._orphans: dict[str, RunInfo] = {}  # dropped runs still to hand to the reaper
        self._following: dict[str, RunRequest] = {}  # run id -> its thread's next run
        self._lease_until = 0.0  # monotonic time the heartbeat surely lasts until
        self._renewing = asyncio.Lock()
        self.registry, run_metrics, self._loop_lag = worker_metrics()
        self.observer = RunObserver(run_metrics, self.agents)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then cancel what is still running and close the agents."""
        settings = self.settings
        exporter = self._serve_metrics()  # first: a port in use fails before anything opens
        store = await Store.open(settings.database_url)
        broker = RedisBroker(
            settings.redis_url,
            prefix=settings.redis_prefix,
            max_entries=settings.stream_max_entries,
            max_age_seconds=settings.stream_max_age,
            client_name=self.id,
        )
        await broker.start()
        redis = connect(settings.redis_url)
        self.queue = RunQueue(redis, settings.redis_prefix)
        await self.queue.ensure_group()
        self.store, self.broker = store, broker
        self.line = RedisThreadLine(redis, settings.redis_prefix, settings.run_timeout)
        self.runner = Runner(
            timeout=settings.run_timeout,
            approval_timeout=settings.approval_timeout,
            approval_default=settings.approval_default == "approve",
            cancel_grace=settings.agent_cancel_grace,
            on_finish=self._finished,
            on_ended=self._ended,
            history=thread_history(store),
        )
        log.info("worker started", extra={"worker_id": self.id})
        tasks = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._control(redis)),
            asyncio.create_task(self._consume(stop)),
            asyncio.create_task(watch_loop_lag(self._loop_lag)),
        ]
        await stop.wait()
        for task in tasks:
            await cancel_and_wait(task)
        if exporter is not None:
            await asyncio.to_thread(exporter.shutdown)  # waits for its serving loop's next poll
            exporter.server_close()
        await self.runner.shutdown("shutdown")
        await self.agents.aclose()
        try:
            await self._hand_over()
        except Exception:
            log.exception(
                "could not hand over runs given up", extra={"runs": sorted(self._orphans)}
            )
        await broker.close()
        await redis.aclose()
        await store.close()
        log.info("worker stopped", extra={"worker_id": self.id})

    def _serve_metrics(self) -> WSGIServer | None:
        """Serve ``GET /metrics`` on ``host:worker_metrics_port`` (a thread), if configured."""
        port = self.settings.worker_metrics_port
        if port is None:
            return None
        server, _ = start_http_server(port, addr=self.settings.host, registry=self.registry)
        log.info(
            "worker metrics on http://%s:%d/metrics",
            self.settings.host,
            server.server_port,
            extra={"worker_id": self.id},
        )
        return server

    async def publish(self, user_id: str, message: ServerMessage) -> int:
        entry = await self.broker.publish(user_id, stream_payload(message, self.id))
        return entry.seq

    async def _search(self, user_id: str, query: str) -> list[str]:
        return await history_search(self.store)(user_id, query)

    async def _consume(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._slots.acquire()
            try:
                # An entry pending that long lost its reader: a live worker renews
                # faster than that, so takes its own entries well before.
                request = await self.queue.claim(
                    self.id, block_ms=1000, reclaim_idle_ms=int(self.settings.worker_ttl * 1000)
                )
            except Exception:
                self._slots.release()
                log.exception("claiming a run failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if request is None:
                self._slots.release()
                continue
            try:
                # A child of the gateway's hand-off; the run's spans are children of this one.
                with tracing.span(
                    "agentsocket.worker.run",
                    {"agentsocket.run_id": request.run_id, "agentsocket.worker_id": self.id},
                    kind="consumer",
                    parent=request.traceparent,
                ):
                    await self._start(request)
            except Exception as exc:
                self.abandon(request.run_id, f"cannot start it: {exc}", request)
                if self.runner.get(request.run_id) is None:  # it never ran: nothing will end it
                    self.forget(request.run_id)
                    self._slots.release()

    async def _start(self, request: RunRequest) -> None:
        self.observer.dequeued(request)
        agent = self.agents.get(request.agent)
        if agent is None:
            await self._refuse_unknown(request)
            return
        log.info("run taken", extra={"run_id": request.run_id, "worker_id": self.id})
        self._runs.add(request.run_id)
        replay, after = None, 0
        if request.resume:  # a paused run whose process died: replay up to its last pause
            replay = replay_of(await self.store.run_interrupts(request.run_id))
            after = await self.store.timeline_position(request.run_id)
        sink = self.observer.watch(request, _RunSink(self, request, timeline_after=after))
        self.runner.start(
            request.user_id,
            request.thread_id,
            agent,
            request.prompt,
            request.run_id,
            sink,
            pauses=StoredPauses(self.store, request),
            replay=replay,
            answerable=request.answerable,
        )
        if await self.queue.cancel_requested(request.run_id):
            self.runner.cancel(request.run_id)

    async def _refuse_unknown(self, request: RunRequest) -> None:
        """End a run for an agent this worker lacks: stored, then ``unknown_agent``."""
        log.error(
            "no agent %r here (agents: %s); give workers the gateways' agents",
            request.agent,
            self.agents.listing(),
            extra={"run_id": request.run_id, "worker_id": self.id},
        )
        message = f"this worker has no agent {request.agent!r}"
        code = AgentErrorCode.UNKNOWN_AGENT.value
        outcome = RunOutcome(
            run_id=request.run_id,
            user_id=request.user_id,
            thread_id=request.thread_id,
            agent_name=request.agent,
            status="error",
            text="",
            duration_ms=0.0,
            error_code=code,
            error_message=message,
        )
        await persist_outcome(self.store, outcome)
        # agent_started first: every run's events start with it (the Runner's guarantee).
        fields = {
            "run_id": request.run_id,
            "thread_id": request.thread_id,
            "agent_name": request.agent,
        }
        await self.publish(request.user_id, s.AgentStarted(**fields))
        await self.publish(
            request.user_id, s.AgentError(**fields, code=code, message=message, retryable=False)
        )
        await self.queue.finished(request.run_id, request.user_id)
        self._slots.release()
        await self._free(outcome)
        await self._ended(outcome)

    async def holds(self, run_id: str) -> bool:
        """Whether ``run_id`` is still this worker's to run (renewing first if in doubt)."""
        if run_id not in self._dropped and not self._lease_fresh():
            try:
                await self._renew(force=False)
            except Exception as exc:
                self.abandon(run_id, f"cannot renew the heartbeat: {exc}")
        return run_id not in self._dropped

    def abandon(self, run_id: str, why: str, request: RunRequest | None = None) -> None:
        """Give up a run whose events cannot all be published (Redis unreachable).

        The run is stopped and nothing more of it is published or stored here;
        once Redis answers again, the worker hands it to the gateways' reaper,
        which ends it with ``worker_lost`` (retryable) exactly once; if Redis came
        back empty, no reaper knows the run and the worker ends it itself.

        Args:
            request: the run's request, when it never started (no handle to read it from).
        """
        if run_id in self._dropped:
            return
        log.warning(
            "giving up a run: %s; the gateways will end it as worker_lost",
            why,
            extra={"run_id": run_id, "worker_id": self.id},
        )
        self._dropped.add(run_id)
        handle = self.runner.get(run_id)
        if handle is not None:
            self._orphans[run_id] = RunInfo(
                run_id, handle.user_id, handle.thread_id, handle.agent_name, "running", self.id
            )
        elif request is not None:
            self._orphans[run_id] = RunInfo(
                run_id, request.user_id, request.thread_id, request.agent, "running", self.id
            )
        self.runner.cancel(run_id, "worker_lost")

    async def _free(self, outcome: RunOutcome) -> None:
        """Free the run's thread before its end is out; its next run waits for :meth:`_ended`."""
        try:
            following = await next_stored(self.line, self.store, outcome.thread_id, outcome.run_id)
        except Exception:
            log.exception("could not hand the thread on", extra={"run_id": outcome.run_id})
            return
        if following is not None:
            self._following[outcome.run_id] = following

    async def _ended(self, outcome: RunOutcome) -> None:
        """The run's end is out: the next run waiting on its thread goes to the queue."""
        following = self._following.pop(outcome.run_id, None)
        if following is not None:
            try:
                await self.queue.submit(following)
            except Exception:
                log.exception(
                    "could not queue the thread's next run", extra={"run_id": following.run_id}
                )

    async def _finished(self, outcome: RunOutcome) -> None:
        try:
            if await self.holds(outcome.run_id):
                # From here on its active entry goes away: renewals must not take
                # that for a reaping and drop the terminal event still to come.
                self._runs.discard(outcome.run_id)
                await persist_outcome(self.store, outcome)
                await self.queue.finished(outcome.run_id, outcome.user_id)
                await self._free(outcome)
        except Exception as exc:
            self.abandon(outcome.run_id, f"cannot record its end: {exc}")
        finally:
            self._slots.release()

    def forget(self, run_id: str) -> None:
        """The run's last event went out (or was dropped): stop tracking it."""
        self._runs.discard(run_id)
        self._dropped.discard(run_id)

    def _lease_fresh(self) -> bool:
        # Half the TTL left: room for the next publish to land while the heartbeat lives.
        return time.monotonic() < self._lease_until - self.settings.worker_ttl / 2

    async def _renew(self, *, force: bool) -> None:
        async with self._renewing:
            if not force and self._lease_fresh():
                return  # another task renewed while this one waited
            ttl = self.settings.worker_ttl
            sent = time.monotonic()
            lost = await self.queue.renew(self.id, ttl, sorted(self._runs))
            self._lease_until = sent + ttl
            for run_id in (lost & self._runs) - self._dropped:
                self._dropped.add(run_id)
                log.warning(
                    "run was ended as worker_lost while this worker was away; dropping it",
                    extra={"run_id": run_id, "worker_id": self.id},
                )
                self.runner.cancel(run_id, "worker_lost")

    async def _hand_over(self) -> None:
        for run_id, info in sorted(self._orphans.items()):
            if await self.queue.orphan(run_id, self.id):
                await self._end_forgotten(info)
            del self._orphans[run_id]

    async def _end_forgotten(self, info: RunInfo) -> None:
        """End a given-up run that Redis forgot (it restarted empty): no reaper knows it."""
        log.warning(
            "Redis has no record of a run given up; ending it here as worker_lost",
            extra={"run_id": info.run_id, "worker_id": self.id},
        )
        await persist_outcome(self.store, lost_run_outcome(info))
        event = lost_run_error(info.run_id, info.thread_id, info.agent, AgentErrorCode.WORKER_LOST)
        await self.publish(info.user_id, event)

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self._renew(force=True)
                await self._hand_over()
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
                            self._obey(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("control channel lost; resubscribing")
                await asyncio.sleep(1.0)

    def _obey(self, payload: bytes) -> None:
        try:
            command = parse_command(payload)
        except BadCommand as exc:
            log.warning("%s; ignored", exc, extra={"worker_id": self.id})
            return
        match command:
            case Cancel(run_id=run_id, user_id=user_id, reason=reason):
                self.runner.cancel(run_id, reason, user_id=user_id)
            case Approve():
                self.runner.resolve_approval(
                    command.run_id,
                    command.tool_call_id,
                    command.approved,
                    command.reason,
                    user_id=command.user_id,
                )
            case Resolve():
                self.runner.resolve(
                    command.run_id,
                    command.interrupt_id,
                    command.resolution(),
                    user_id=command.user_id,
                )


def worker_metrics() -> tuple[CollectorRegistry, RunMetrics, Gauge]:
    """A worker's registry: the runs it executes, its event-loop lag, the adapters' metrics."""
    registry = CollectorRegistry()
    run_metrics = RunMetrics(registry)
    loop_lag = loop_lag_gauge(registry)
    registry.register(AdapterMetrics())
    return registry, run_metrics, loop_lag


class _RunSink:
    """A run's event sink: publishes into the user's stream while the run is this worker's,
    and records the run's timeline (stored before the run's own terminal event goes out)."""

    def __init__(self, worker: Worker, request: RunRequest, timeline_after: int = 0) -> None:
        self._worker = worker
        self._run_id = request.run_id
        self._user_id = request.user_id
        self._timeline = TimelineRecorder(
            worker.store.append_timeline, request.run_id, after=timeline_after
        )

    async def emit(self, event: AgentEvent) -> None:
        ends_run = event.run_id == self._run_id and isinstance(event, _TERMINAL)
        # Stored before anyone sees it: the run's end, or a request it may wait at long.
        checkpoint = ends_run or event.TYPE in PAUSES
        try:
            if await self._worker.holds(self._run_id):
                await self._track_approval(event)
                if checkpoint:
                    self._timeline.record(event)
                    await self._timeline.close()
                await self._worker.publish(self._user_id, event)
                if not checkpoint:
                    self._timeline.record(event)
        except Exception as exc:
            # Publishing is never retried (an entry must not appear twice), so
            # the stream now lacks this event: the run cannot go on.
            self._worker.abandon(self._run_id, f"cannot publish its events: {exc}")
        finally:
            if ends_run:
                self._worker.forget(self._run_id)  # the run's last event (Runner's guarantee)

    async def _track_approval(self, event: AgentEvent) -> None:
        # Recorded before it is announced, so gateways can tell a pending
        # approval from an unknown one (answered with not_found).
        queue = self._worker.queue
        if isinstance(event, ToolApprovalRequired | AgentQuestion):
            interrupt_id = (
                event.tool_call_id if isinstance(event, ToolApprovalRequired) else event.question_id
            )
            ttl = event.timeout_seconds + self._worker.settings.worker_ttl
            await queue.approval_opened(event.run_id, interrupt_id, self._user_id, ttl)
        elif isinstance(event, InterruptResolved):
            await queue.approval_closed(event.run_id, event.interrupt_id)


def run_worker(settings: Settings, agents: Iterable[object] = ()) -> None:
    """Run a worker until SIGINT or SIGTERM.

    Raises:
        AgentSpecError: before starting, if an agent cannot be loaded.
    """
    worker = Worker(settings, agents)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
