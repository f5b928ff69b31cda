"""Where runs execute: in this process, or in worker processes fed through Redis.

:class:`LocalExecutor` (the embedded default) runs agents in the gateway.
:class:`QueueExecutor` hands them to ``agentsocket worker`` processes; cancel
and approvals travel on a control channel, and a reaper ends runs whose worker
died with ``agent_error`` ``worker_lost`` (retryable), and runs no worker took
within the queue timeout with ``no_worker`` (retryable), so no UI waits forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from agentsocket.agents import EventSink, Runner, RunOutcome
from agentsocket.agents.history import HistoryLoader
from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.run_queue import RunInfo, RunQueue, RunRequest, connect
from agentsocket.protocol import AgentErrorCode
from agentsocket.protocol import server_messages as s
from agentsocket.runs.agent_set import AgentSet
from agentsocket.runs.control import Approve, Cancel, encode_command
from agentsocket.runs.outcomes import lost_run_code
from agentsocket.runs.stream import Publish, StreamSink

log = logging.getLogger("agentsocket.runs")


class Executor(Protocol):
    """Runs agents somewhere and answers for them."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def running_count(self, user_id: str) -> int: ...

    async def launch(self, request: RunRequest) -> None: ...

    async def cancel(self, user_id: str, run_id: str) -> bool: ...

    async def approve(
        self, user_id: str, run_id: str, tool_call_id: str, approved: bool, reason: str | None
    ) -> bool: ...


class LocalExecutor:
    """Runs agents as tasks of this process."""

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
    ) -> None:
        self._agents = agents
        self._publish = publish
        self.runner = Runner(
            timeout=timeout,
            approval_timeout=approval_timeout,
            cancel_grace=cancel_grace,
            on_finish=on_finish,
            history=history,
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.runner.shutdown("shutdown")

    async def running_count(self, user_id: str) -> int:
        return self.runner.running_count(user_id)

    async def launch(self, request: RunRequest) -> None:
        agent = self._agents.get(request.agent)
        if agent is None:  # the gateway checked the name against this same set
            raise LookupError(f"no agent {request.agent!r}")
        sink: EventSink = StreamSink(self._publish, request.user_id)
        self.runner.start(
            request.user_id, request.thread_id, agent, request.prompt, request.run_id, sink
        )

    async def cancel(self, user_id: str, run_id: str) -> bool:
        return self.runner.cancel(run_id, user_id=user_id)

    async def approve(
        self, user_id: str, run_id: str, tool_call_id: str, approved: bool, reason: str | None
    ) -> bool:
        return self.runner.resolve_approval(run_id, tool_call_id, approved, reason, user_id=user_id)


class QueueExecutor:
    """Hands runs to worker processes through Redis, and reaps runs of dead workers.

    ``on_lost`` stores the end of a reaped run (see :func:`lost_run_outcome`);
    ``queue_timeout`` is how long a run may wait for a worker.
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
    ) -> None:
        self._redis = connect(redis_url)
        self.queue = RunQueue(self._redis, prefix)
        self._publish = publish
        self._on_lost = on_lost
        self._reap_interval = reap_interval
        self._queue_timeout = queue_timeout
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.queue.ensure_group()
        self._reaper = asyncio.create_task(self._reap(), name="agentsocket-reaper")

    async def close(self) -> None:
        if self._reaper is not None:
            await cancel_and_wait(self._reaper)
        await self._redis.aclose()

    async def running_count(self, user_id: str) -> int:
        return await self.queue.running_count(user_id)

    async def launch(self, request: RunRequest) -> None:
        await self.queue.submit(request)

    async def cancel(self, user_id: str, run_id: str) -> bool:
        info = await self.queue.info(run_id)
        if info is None or info.user_id != user_id:
            return False
        await self.queue.command(
            encode_command(Cancel(run_id=run_id, user_id=user_id)), cancels=run_id
        )
        return True

    async def approve(
        self, user_id: str, run_id: str, tool_call_id: str, approved: bool, reason: str | None
    ) -> bool:
        # The worker records each approval it waits for (sub-runs' too).
        if await self.queue.approval_owner(run_id, tool_call_id) != user_id:
            return False
        command = Approve(
            run_id=run_id,
            user_id=user_id,
            tool_call_id=tool_call_id,
            approved=approved,
            reason=reason,
        )
        await self.queue.command(encode_command(command))
        return True

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(self._reap_interval)
            try:
                for info in await self.queue.lost_runs():
                    if info.worker and await self.queue.claim_reap(info.run_id, info.worker):
                        await self._end_lost(info)
                for info in await self.queue.expire_queued(self._queue_timeout):
                    await self._end_lost(info)
            except Exception:
                log.exception("reaping lost runs failed; retrying")

    async def _end_lost(self, info: RunInfo) -> None:
        code = lost_run_code(info)
        log.warning(
            "no worker took the run in time"
            if code is AgentErrorCode.NO_WORKER
            else "worker lost mid-run",
            extra={"run_id": info.run_id, "worker": info.worker, "user_id": info.user_id},
        )
        event = s.AgentError(
            run_id=info.run_id,
            thread_id=info.thread_id,
            agent_name=info.agent,
            code=code.value,
            message=_LOST_MESSAGES[code],
            retryable=True,
        )
        await self._on_lost(info)
        await self._publish(info.user_id, event)
        await self.queue.finished(info.run_id, info.user_id)


_LOST_MESSAGES = {
    AgentErrorCode.WORKER_LOST: "The worker running this agent stopped; send the message again.",
    AgentErrorCode.NO_WORKER: "No worker is available to run this agent; send the message again.",
}
