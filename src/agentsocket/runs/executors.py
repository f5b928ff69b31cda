"""Where runs execute: in this process, or in worker processes fed through Redis.

:class:`LocalExecutor` (the embedded default) runs agents in the gateway.
:class:`QueueExecutor` hands them to ``agentsocket worker`` processes; cancel
and approvals travel on a control channel, and a reaper ends runs whose worker
died with ``agent_error`` ``worker_lost`` (retryable), and runs no worker took
within the queue timeout with ``no_worker`` (retryable), so no UI waits forever.
With a :class:`~agentsocket.runs.lease.NodeLease` (``RUNS=local`` on Redis)
the local runs are recorded the same way, and a dead node's runs end with
``gateway_lost``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from agentsocket import tracing
from agentsocket.agents import EventSink, Runner, RunOutcome
from agentsocket.agents.history import HistoryLoader
from agentsocket.agents.pauses import PauseBook, Replay, Resolution
from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.run_queue import RunInfo, RunQueue, RunRequest, connect
from agentsocket.protocol import ServerMessage
from agentsocket.runs.agent_set import AgentSet
from agentsocket.runs.control import (
    BadCommand,
    Cancel,
    Resolve,
    encode_command,
    parse_command,
)
from agentsocket.runs.lease import NodeLease
from agentsocket.runs.metrics import RunObserver
from agentsocket.runs.reaper import Reaper
from agentsocket.runs.stream import Publish, StreamSink
from agentsocket.runs.timeline import AppendTimeline, RecordingSink, TimelineRecorder

log = logging.getLogger("agentsocket.runs")


class Executor(Protocol):
    """Runs agents somewhere and answers for them."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def running_count(self, user_id: str) -> int: ...

    async def reserve(self, user_id: str, limit: int) -> str | None:
        """A run slot for the user if fewer than ``limit`` runs are running or reserved.

        Atomic (across every node, with Redis): of concurrent callers at most
        ``limit`` get one. Pass it to :meth:`launch`, or give it back with
        :meth:`release`.
        """
        ...

    async def release(self, user_id: str, slot: str) -> None: ...

    async def launch(self, request: RunRequest, slot: str | None = None) -> None: ...

    async def cancel(self, user_id: str, run_id: str, reason: str = "user_request") -> bool:
        """Stop one of the user's running runs, on whichever node or worker runs it."""
        ...

    async def wake(
        self, user_id: str, root_run_id: str, run_id: str, interrupt_id: str, resolution: Resolution
    ) -> bool:
        """Hand a resolved pause of ``run_id`` (the root run or a sub-run of it) to the
        process whose run waits for it; False if none does."""
        ...

    async def holds(self, run_id: str) -> bool:
        """True while a live process runs the root run ``run_id``."""
        ...

    async def resume(self, request: RunRequest, replay: Replay) -> None:
        """Run the agent of a paused run again, replaying up to its last pause."""
        ...


#: A run's pause book, given the run (the store's, for pauses that outlive the process).
PauseBooks = Callable[[RunRequest], PauseBook]


#: How long a reserved run slot lasts if its node dies before starting the run.
SLOT_TTL_SECONDS = 30.0


def new_slot() -> str:
    return uuid.uuid4().hex


class LocalExecutor:
    """Runs agents as tasks of this process.

    Args:
        lease: with several nodes on Redis, records this node's runs there
            (and counts a user's runs on every node); a reaper on every node
            then ends the runs of a node that died (``gateway_lost``).
        on_lost: stores the end of such a reaped run; required with ``lease``.
        timeline: stores each run's timeline in batches (``Store.append_timeline``).
        timeline_position: a run's last stored timeline position
            (``Store.timeline_position``), for a run continued after a restart.
        observer: records the run metrics (:mod:`agentsocket.runs.metrics`).
        on_ended: called once a run's end is out (see :class:`Runner`).
        on_lost_ended: called once a reaped run's end is out.
        on_lost_paused: takes over a reaped run that had paused for a person
            (:meth:`Interrupts.lost <agentsocket.runs.interrupts.Interrupts.lost>`).
    """

    def __init__(
        self,
        agents: AgentSet,
        publish: Publish,
        on_finish: Callable[[RunOutcome], Awaitable[None]],
        *,
        timeout: float,
        approval_timeout: float,
        cancel_grace: float = 5.0,
        history: HistoryLoader | None = None,
        lease: NodeLease | None = None,
        on_lost: Callable[[RunInfo], Awaitable[None]] | None = None,
        reap_interval: float = 1.0,
        timeline: AppendTimeline | None = None,
        observer: RunObserver | None = None,
        on_ended: Callable[[RunOutcome], Awaitable[None]] | None = None,
        on_lost_ended: Callable[[RunInfo], Awaitable[None]] | None = None,
        approval_default: bool = False,
        pauses: PauseBooks | None = None,
        on_lost_paused: Callable[[RunInfo], Awaitable[bool]] | None = None,
        timeline_position: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self._agents = agents
        self._timeline_position = timeline_position
        self._pauses = pauses
        self._timeline = timeline
        self._observer = observer
        self._publish = publish
        self._on_finish = on_finish
        self._lease = lease
        self._slots: dict[str, set[str]] = {}  # user id -> slots reserved here (no lease)
        self._reaper: Reaper | None = None
        self._control: asyncio.Task[None] | None = None
        if lease is not None:
            if on_lost is None:
                raise TypeError("a LocalExecutor with a lease needs on_lost")
            lease.on_dropped = lambda run_id: self.runner.cancel(run_id, "gateway_lost")
            self._reaper = Reaper(
                lease.queue,
                publish,
                on_lost,
                interval=reap_interval,
                after_end=on_lost_ended,
                paused=on_lost_paused,
            )
        self.runner = Runner(
            timeout=timeout,
            approval_timeout=approval_timeout,
            approval_default=approval_default,
            cancel_grace=cancel_grace,
            on_finish=self._finished,
            on_ended=on_ended,
            history=history,
        )

    async def start(self) -> None:
        if self._lease is not None and self._reaper is not None:
            await self._lease.start()
            self._reaper.start()
            self._control = asyncio.create_task(
                self._obey(self._lease.queue), name="agentsocket-node-control"
            )

    async def close(self) -> None:
        await self.runner.shutdown("shutdown")
        if self._control is not None:
            await cancel_and_wait(self._control)
        if self._lease is not None and self._reaper is not None:
            await self._reaper.close()
            await self._lease.close()
            await self._lease.queue.redis.aclose()

    async def running_count(self, user_id: str) -> int:
        if self._lease is not None:
            return await self._lease.queue.running_count(user_id)
        return self.runner.running_count(user_id)

    async def reserve(self, user_id: str, limit: int) -> str | None:
        slot = new_slot()
        if self._lease is not None:
            ok = await self._lease.queue.reserve(user_id, slot, limit, SLOT_TTL_SECONDS)
            return slot if ok else None
        # One event loop: checking and reserving with no await between is atomic.
        slots = self._slots.setdefault(user_id, set())
        if self.runner.running_count(user_id) + len(slots) >= limit:
            if not slots:
                del self._slots[user_id]
            return None
        slots.add(slot)
        return slot

    async def release(self, user_id: str, slot: str) -> None:
        if self._lease is not None:
            await self._lease.queue.unreserve(user_id, slot)
            return
        slots = self._slots.get(user_id)
        if slots is not None:
            slots.discard(slot)
            if not slots:
                del self._slots[user_id]

    async def launch(
        self, request: RunRequest, slot: str | None = None, replay: Replay | None = None
    ) -> None:
        agent = self._agents.get(request.agent)
        if agent is None:  # the gateway checked the name against this same set
            raise LookupError(f"no agent {request.agent!r}")
        if self._lease is not None:
            await self._lease.hold(request, slot)
        elif slot is not None:
            # The run counts from runner.start below, in the same step.
            await self.release(request.user_id, slot)
        sink: EventSink = StreamSink(self._publish_for(request.run_id), request.user_id)
        if self._timeline is not None:
            after = 0
            if replay is not None and self._timeline_position is not None:
                after = await self._timeline_position(request.run_id)
            recorder = TimelineRecorder(self._timeline, request.run_id, after=after)
            sink = RecordingSink(sink, recorder)
        if self._observer is not None:
            sink = self._observer.watch(request, sink)
        self.runner.start(
            request.user_id,
            request.thread_id,
            agent,
            request.prompt,
            request.run_id,
            sink,
            pauses=None if self._pauses is None else self._pauses(request),
            replay=replay,
            answerable=request.answerable,
        )

    async def resume(self, request: RunRequest, replay: Replay) -> None:
        if self.runner.get(request.run_id) is not None:
            return  # still running here: it is woken, not continued
        await self.launch(request, replay=replay)

    async def wake(
        self, user_id: str, root_run_id: str, run_id: str, interrupt_id: str, resolution: Resolution
    ) -> bool:
        if self.runner.resolve(run_id, interrupt_id, resolution, user_id=user_id):
            return True
        if self._lease is None:
            return False
        # Another node's run: the node holding it obeys the control channel.
        queue = self._lease.queue
        return await _wake_elsewhere(queue, user_id, root_run_id, run_id, interrupt_id, resolution)

    async def holds(self, run_id: str) -> bool:
        if self.runner.get(run_id) is not None:
            return True
        if self._lease is None:
            return False
        info = await self._lease.queue.info(run_id)
        return info is not None and info.state == "running"

    async def cancel(self, user_id: str, run_id: str, reason: str = "user_request") -> bool:
        if self.runner.cancel(run_id, reason, user_id=user_id):
            return True
        if self._lease is None:
            return False
        # Another node's run: the node holding it obeys the control channel.
        info = await self._lease.queue.info(run_id)
        if info is None or info.user_id != user_id or info.state != "running":
            return False
        command = Cancel(run_id=run_id, user_id=user_id, reason=reason)
        await self._lease.queue.command(encode_command(command))
        return True

    async def _obey(self, queue: RunQueue) -> None:
        """Cancel this node's runs that another node was asked to stop."""
        while True:
            try:
                async with queue.redis.pubsub() as pubsub:
                    await pubsub.subscribe(queue.channel)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            command = parse_command(message["data"])
                        except BadCommand as exc:
                            log.warning("%s; ignored", exc)
                            continue
                        if isinstance(command, Cancel):
                            self.runner.cancel(
                                command.run_id, command.reason, user_id=command.user_id
                            )
                        elif isinstance(command, Resolve):
                            self.runner.resolve(
                                command.run_id,
                                command.interrupt_id,
                                command.resolution(),
                                user_id=command.user_id,
                            )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("control channel lost; resubscribing")
                await asyncio.sleep(1.0)

    def _publish_for(self, run_id: str) -> Publish:
        """The run's publish: silent once the run was ended by another node (lease lost)."""
        lease = self._lease
        if lease is None:
            return self._publish
        publish = self._publish

        async def publish_unless_dropped(user_id: str, message: ServerMessage) -> int:
            if not await lease.still_ours(run_id):
                return 0
            return await publish(user_id, message)

        return publish_unless_dropped

    async def _finished(self, outcome: RunOutcome) -> None:
        if self._lease is not None and outcome.run_id in self._lease.dropped:
            await self._lease.release(outcome.run_id, outcome.user_id)
            return  # another node stored and published its end
        await self._on_finish(outcome)
        if self._lease is not None:
            # The slot is free before the client can see the end (it may send again at once).
            await self._lease.release(outcome.run_id, outcome.user_id)


class QueueExecutor:
    """Hands runs to worker processes through Redis, and reaps runs of dead workers.

    ``on_lost`` stores the end of a reaped run (see :func:`lost_run_outcome`),
    ``on_lost_ended`` runs once that end is published; ``queue_timeout`` is how
    long a run may wait for a worker.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        publish: Publish,
        on_lost: Callable[[RunInfo], Awaitable[None]],
        *,
        reap_interval: float = 1.0,
        queue_timeout: float = 30.0,
        on_lost_ended: Callable[[RunInfo], Awaitable[None]] | None = None,
        on_lost_paused: Callable[[RunInfo], Awaitable[bool]] | None = None,
    ) -> None:
        self._redis = connect(redis_url)
        self.queue = RunQueue(self._redis, prefix)
        self._reaper = Reaper(
            self.queue,
            publish,
            on_lost,
            interval=reap_interval,
            queue_timeout=queue_timeout,
            after_end=on_lost_ended,
            paused=on_lost_paused,
        )

    async def start(self) -> None:
        await self.queue.ensure_group()
        self._reaper.start()

    async def close(self) -> None:
        await self._reaper.close()
        await self._redis.aclose()

    async def running_count(self, user_id: str) -> int:
        return await self.queue.running_count(user_id)

    async def reserve(self, user_id: str, limit: int) -> str | None:
        slot = new_slot()
        ok = await self.queue.reserve(user_id, slot, limit, SLOT_TTL_SECONDS)
        return slot if ok else None

    async def release(self, user_id: str, slot: str) -> None:
        await self.queue.unreserve(user_id, slot)

    async def launch(self, request: RunRequest, slot: str | None = None) -> None:
        with tracing.span(
            "agentsocket.queue.enqueue", {"agentsocket.run_id": request.run_id}, kind="producer"
        ):
            # The worker's spans become children of this one.
            queued = replace(request, queued_at=time.time(), traceparent=tracing.traceparent())
            await self.queue.submit(queued, slot)

    async def cancel(self, user_id: str, run_id: str, reason: str = "user_request") -> bool:
        info = await self.queue.info(run_id)
        if info is None or info.user_id != user_id:
            return False
        await self.queue.command(
            encode_command(Cancel(run_id=run_id, user_id=user_id, reason=reason)), cancels=run_id
        )
        return True

    async def wake(
        self, user_id: str, root_run_id: str, run_id: str, interrupt_id: str, resolution: Resolution
    ) -> bool:
        queue = self.queue
        return await _wake_elsewhere(queue, user_id, root_run_id, run_id, interrupt_id, resolution)

    async def holds(self, run_id: str) -> bool:
        info = await self.queue.info(run_id)
        return info is not None and info.state in ("queued", "running")

    async def resume(self, request: RunRequest, replay: Replay) -> None:
        # The worker that takes it reads the pauses from the store itself.
        await self.launch(request)


async def _wake_elsewhere(
    queue: RunQueue,
    user_id: str,
    root_run_id: str,
    run_id: str,
    interrupt_id: str,
    resolution: Resolution,
) -> bool:
    """Send a resolution to the process waiting for it; False if none is known to wait."""
    # The process records each pause it waits at (sub-runs' too) while it lives; a run
    # reaped since is no longer held, though its record may linger.
    if await queue.approval_owner(run_id, interrupt_id) != user_id:
        return False
    info = await queue.info(root_run_id)
    if info is None or info.state != "running":
        return False
    command = Resolve.of(user_id, run_id, interrupt_id, resolution)
    await queue.command(encode_command(command))
    return True
