"""The reaper: every gateway node ends the runs whose owner went silent, each once.

An owner is a worker (``RUNS=queue``) or a gateway node running runs itself
(``RUNS=local`` on Redis). Its runs end with ``agent_error`` and a retryable
code (:func:`~agentsocket.runs.outcomes.lost_run_code`): ``worker_lost``,
``gateway_lost``, or ``no_worker`` for a queued run no worker took in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.run_queue import RunInfo, RunQueue
from agentsocket.protocol import AgentErrorCode
from agentsocket.protocol import server_messages as s
from agentsocket.runs.outcomes import lost_run_code
from agentsocket.runs.stream import Publish

log = logging.getLogger("agentsocket.runs")

_LOST_MESSAGES = {
    AgentErrorCode.WORKER_LOST: "The worker running this agent stopped; send the message again.",
    AgentErrorCode.NO_WORKER: "No worker is available to run this agent; send the message again.",
    AgentErrorCode.GATEWAY_LOST: "The server running this agent stopped; send the message again.",
}


def lost_run_error(run_id: str, thread_id: str, agent: str, code: AgentErrorCode) -> s.AgentError:
    """The terminal event of a run its owner lost (retryable: sending again is safe)."""
    return s.AgentError(
        run_id=run_id,
        thread_id=thread_id,
        agent_name=agent,
        code=code.value,
        message=_LOST_MESSAGES[code],
        retryable=True,
    )


class Reaper:
    """Polls for lost runs and ends each one exactly once across all nodes.

    Args:
        on_lost: stores the end of a reaped run (before the client sees it).
        after_end: called once the run's end is published (e.g. to start the
            next run of its thread after it in the stream).
        paused: continues a lost run that had paused for a person (it then
            does not end), or leaves it paused; False for a run that never paused.
        queue_timeout: also end runs queued longer than this (``no_worker``);
            None when no run is ever queued (``RUNS=local``).
    """

    def __init__(
        self,
        queue: RunQueue,
        publish: Publish,
        on_lost: Callable[[RunInfo], Awaitable[None]],
        *,
        interval: float = 1.0,
        queue_timeout: float | None = None,
        after_end: Callable[[RunInfo], Awaitable[None]] | None = None,
        paused: Callable[[RunInfo], Awaitable[bool]] | None = None,
    ) -> None:
        self._queue = queue
        self._paused = paused
        self._publish = publish
        self._on_lost = on_lost
        self._after_end = after_end
        self._interval = interval
        self._queue_timeout = queue_timeout
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="agentsocket-reaper")

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        queue = self._queue
        while True:
            await asyncio.sleep(self._interval)
            try:
                for info in await queue.lost_runs():
                    if info.worker and await queue.claim_reap(info.run_id, info.worker):
                        await self._end(info)
                if self._queue_timeout is not None:
                    for info in await queue.expire_queued(self._queue_timeout):
                        await self._end(info)
            except Exception:
                log.exception("reaping lost runs failed; retrying")

    async def _end(self, info: RunInfo) -> None:
        if info.state == "running" and self._paused is not None:
            # Forgotten first: a paused run is no longer held by anyone until it goes on.
            await self._queue.finished(info.run_id, info.user_id)
            if await self._paused(info):
                log.warning(
                    "owner lost while the run was paused; it waits for its answer",
                    extra={"run_id": info.run_id, "worker": info.worker},
                )
                return
        code = lost_run_code(info)
        log.warning(
            {
                AgentErrorCode.NO_WORKER: "no worker took the run in time",
                AgentErrorCode.WORKER_LOST: "worker lost mid-run",
                AgentErrorCode.GATEWAY_LOST: "gateway node lost mid-run",
            }[code],
            extra={"run_id": info.run_id, "worker": info.worker, "user_id": info.user_id},
        )
        await self._on_lost(info)
        # The slot is free before the client can see the end (it may send again at once).
        await self._queue.finished(info.run_id, info.user_id)
        await self._publish(
            info.user_id, lost_run_error(info.run_id, info.thread_id, info.agent, code)
        )
        if self._after_end is not None:
            await self._after_end(info)
