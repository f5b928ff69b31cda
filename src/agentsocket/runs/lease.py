"""A gateway node's lease on the runs it executes itself (``RUNS=local`` on Redis).

The node records each run it starts in the run queue's registry under its
owner id (:meth:`RunQueue.hold`) and renews a heartbeat every third of its
TTL. If the node dies (crash, ``kill -9``, a host lost), the heartbeat
expires and the :class:`~agentsocket.runs.reaper.Reaper` of any live node
ends its runs with ``agent_error`` ``gateway_lost``: stored, and published
into each user's stream, where a client resuming on any node sees it.

The owner id is new in every process, so a node restarted under the same
``server_id`` still ends the runs of its previous life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable

from redis.exceptions import RedisError

from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.run_queue import GATEWAY, RunQueue, RunRequest

log = logging.getLogger("agentsocket.runs")

#: Seconds a dropped run's id is kept after it ended, so its last events stay unpublished.
_FORGET_DROPPED = 60.0


def gateway_owner(server_id: str) -> str:
    """A fresh owner id for this gateway process."""
    return f"{GATEWAY}{server_id}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class NodeLease:
    """Holds this node's runs in Redis while the node lives."""

    def __init__(self, queue: RunQueue, owner: str, ttl: float) -> None:
        self.queue = queue
        self.owner = owner
        self._ttl = ttl
        self._runs: dict[str, str] = {}  # run id -> user id
        #: Runs another node ended while this one was away: nothing more of them is published.
        self.dropped: set[str] = set()
        #: Called with each run found dropped (the executor stops it).
        self.on_dropped: Callable[[str], object] = lambda run_id: None
        self._task: asyncio.Task[None] | None = None
        self._lease_until = 0.0  # monotonic time the heartbeat surely lasts until
        self._renewing = asyncio.Lock()

    async def start(self) -> None:
        await self._renew()
        self._task = asyncio.create_task(self._heartbeat(), name="agentsocket-node-lease")

    async def close(self) -> None:
        """Stop renewing; call once this node's runs have ended (they release themselves)."""
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def hold(self, request: RunRequest, slot: str | None = None) -> None:
        await self.queue.hold(request, self.owner, slot)
        self._runs[request.run_id] = request.user_id

    async def release(self, run_id: str, user_id: str) -> None:
        """Forget a run that ended here; its slot is free."""
        self._runs.pop(run_id, None)
        if run_id in self.dropped:
            # The reaper forgot it already. Its end is emitted after this (and
            # dropped), so it is forgotten here only a while later.
            asyncio.get_running_loop().call_later(_FORGET_DROPPED, self.dropped.discard, run_id)
            return
        await self.queue.finished(run_id, user_id)

    async def still_ours(self, run_id: str) -> bool:
        """Whether the run may still be published; renews first if the lease may have lapsed.

        After a pause (``SIGSTOP``, a VM freeze) the run's next event can come
        before the heartbeat's timer; this renewal tells whether another node
        ended the run meanwhile.
        """
        if run_id in self.dropped:
            return False
        if not self._fresh():
            # Failing here, the publish fails too; the heartbeat logs the outage.
            with contextlib.suppress(RedisError, OSError):
                await self._renew(force=False)
        return run_id not in self.dropped

    def _fresh(self) -> bool:
        # Half the TTL left: room for the next publish to land while the lease lives.
        return time.monotonic() < self._lease_until - self._ttl / 2

    async def _renew(self, *, force: bool = True) -> None:
        async with self._renewing:
            if not force and self._fresh():
                return  # renewed while this call waited
            sent = time.monotonic()
            lost = await self.queue.renew(self.owner, self._ttl, sorted(self._runs))
            self._lease_until = sent + self._ttl
            self._drop(lost)

    def _drop(self, lost: set[str]) -> None:
        for run_id in (lost & set(self._runs)) - self.dropped:
            # This node was silent past its TTL (paused, or cut off from Redis)
            # and another node already ended the run with gateway_lost.
            log.warning(
                "run was ended as gateway_lost while this node was away; dropping it",
                extra={"run_id": run_id, "owner": self.owner},
            )
            self.dropped.add(run_id)
            self.on_dropped(run_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self._renew()
            except (RedisError, OSError) as exc:
                log.warning("cannot renew the node's run lease: %s", exc)
