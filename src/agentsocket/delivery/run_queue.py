"""Runs handed from gateway nodes to worker processes, through Redis.

Keys (all under ``prefix``):

* ``{p}:runs``: a Stream of run requests, read by the consumer group ``workers``;
* ``{p}:run:{run_id}``: a hash with the run's user, thread, agent, state
  (``queued``, ``running`` or ``expired``), worker and stream entry (deleted
  when the run ends);
* ``{p}:queued``: a sorted set of the runs no worker took yet, scored by when
  they were queued (Redis time, ms);
* ``{p}:user-runs:{user_id}``: the set of a user's unfinished runs (the
  per-user limit counts it);
* ``{p}:user-slots:{user_id}``: a sorted set of run slots reserved for the
  user's messages being stored, scored by when the reservation lapses (Redis
  time, ms); a slot becomes a run in ``user-runs`` atomically;
* ``{p}:active``: run id → the worker executing it (``<worker>/orphaned`` once
  that worker gave the run up, so the reaper ends it);
* ``{p}:worker:{worker_id}``: the worker's heartbeat, expiring after its TTL
  (also a gateway node's, for the runs it executes itself: its owner id
  starts with :data:`GATEWAY`);
* ``{p}:reaped:{run_id}``: claimed by the one node that ends a lost run;
* ``{p}:approval:{run_id}:{tool_call_id}``: the user a pending tool approval
  waits for (a run's or a sub-run's), expiring with the approval;
* channel ``{p}:control``: cancel and approval commands for the workers.

A worker that dies stops renewing its heartbeat; any gateway node then finds
its runs in ``active`` and ends each one (``worker_lost``) exactly once. With
``RUNS=local`` a gateway node records the runs it executes itself the same way
(:meth:`RunQueue.hold`), so a live node ends a dead node's runs
(``gateway_lost``).

A worker that was only *away* (paused, or cut off from Redis, for longer than
its TTL) may come back to runs that were ended meanwhile. Claiming a lost run
(:meth:`RunQueue.claim_reap`) and renewing a heartbeat (:meth:`RunQueue.renew`)
are each one atomic script, so either the worker renews first and the run is
not reaped, or the run is reaped first and the renewal tells the worker so:
it then drops the run without publishing anything more of it. A worker that
cannot publish a run's events gives the run up and, once Redis answers,
hands it to the reaper (:meth:`RunQueue.orphan`).

A worker takes a run with one atomic script (:meth:`RunQueue.claim`) that
turns the run's state from ``queued`` into ``running``. The entry a worker
read but never took (it died between ``XREADGROUP`` and that script) stays
pending in the consumer group; once it has been idle longer than a worker's
TTL, the next live worker reclaims it (``XAUTOCLAIM``) and runs it. A run no
worker took within the gateway's queue timeout is ended by one gateway node
(:meth:`RunQueue.expire_queued`, ``no_worker``): the same compare-and-set of
the state makes that exclusive with a worker taking it, so a worker that
reads such a run's entry afterwards drops it without running it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.maint_notifications import MaintNotificationsConfig

GROUP = "workers"
#: Suffix of the owner of a run its worker gave up: a worker id with no heartbeat.
ORPHANED = "/orphaned"
#: How long the mark of a reaped run lives; longer than any reaping takes.
REAPED_TTL_SECONDS = 300
#: The state of a queued run a gateway node claimed to end (no worker took it in time).
EXPIRED = "expired"
#: Prefix of the owner id of a gateway node running runs itself (``RUNS=local``).
GATEWAY = "gateway:"

# KEYS: the run's hash, the active hash, the user's runs, the user's slots.
# ARGV: run id, user id, thread id, agent, owner id, the slot it takes ('' none).
_HOLD = """
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'thread_id', ARGV[3], 'agent', ARGV[4],
  'state', 'running', 'worker', ARGV[5])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[6])
"""

# KEYS: the user's runs, the user's slots. ARGV: slot id, limit, TTL (ms).
# Returns 1 if the slot is reserved: the user's runs and live slots were below the limit.
_RESERVE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms)
if redis.call('SCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""

# KEYS: the stream, the run's hash, the user's runs, the queued set, the user's slots.
# ARGV: run id, user id, thread id, agent, the encoded request, the slot it takes ('' none),
# the traceparent ('' none).
_SUBMIT = """
local entry
if ARGV[7] ~= '' then
  entry = redis.call('XADD', KEYS[1], '*', 'request', ARGV[5], 'traceparent', ARGV[7])
else
  entry = redis.call('XADD', KEYS[1], '*', 'request', ARGV[5])
end
redis.call('HSET', KEYS[2], 'user_id', ARGV[2], 'thread_id', ARGV[3], 'agent', ARGV[4],
  'state', 'queued', 'entry', entry)
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[6])
redis.call('ZADD', KEYS[4], tonumber(string.match(entry, '^(%d+)')), ARGV[1])
return entry
"""

# KEYS: the stream, the run's hash, the active hash, the queued set.
# ARGV: group, entry id, run id, worker id. Returns 1 if the run is now the worker's.
_TAKE = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], 'state') ~= 'queued' then
  return 0
end
redis.call('HSET', KEYS[2], 'state', 'running', 'worker', ARGV[4])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
"""

# KEYS: the queued set, the stream, the run's hash.
# ARGV: group, run id, the due cutoff (ms), the score to hand it out again at (ms).
# Returns 1 to the one caller that is to end the run.
_EXPIRE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) > tonumber(ARGV[3]) then
  return 0
end
local state = redis.call('HGET', KEYS[3], 'state')
-- 'expired' and due again: the node that claimed it did not end it (it died).
if state ~= 'queued' and state ~= 'expired' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('HSET', KEYS[3], 'state', 'expired')
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
local entry = redis.call('HGET', KEYS[3], 'entry')
if entry then
  redis.call('XACK', KEYS[2], ARGV[1], entry)
  redis.call('XDEL', KEYS[2], entry)
end
return 1
"""

# KEYS: the worker's heartbeat, the active hash, the run's reaped mark.
# ARGV: run id, worker id, reaped mark TTL (s).
_CLAIM_REAP = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) then
  return 1
end
return 0
"""

# KEYS: the active hash, the run's reaped mark. ARGV: run id, worker id, the orphan owner id.
# Returns 1: handed to the reaper; 0: another's, or reaped already; -1: Redis knows nothing
# of the run (it restarted empty), so no reaper ever will.
_ORPHAN = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
if owner == false and redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
return 0
"""

# KEYS: the worker's heartbeat, the active hash, then one reaped mark per run.
# ARGV: worker id, TTL (ms), then the run ids. Returns the runs no longer ours.
_RENEW = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
local lost = {}
for i = 3, #ARGV do
  local run_id = ARGV[i]
  if redis.call('EXISTS', KEYS[i]) == 1 or redis.call('HGET', KEYS[2], run_id) ~= ARGV[1] then
    table.insert(lost, run_id)
  end
end
return lost
"""


def connect(url: str) -> Redis:
    """A Redis client for the run queue, safe to keep using across Redis outages.

    With maintenance notifications on (redis-py's "auto" default) the pool skips
    its check for connections the server closed, so after an outage each pooled
    connection fails once; a failed ``MULTI`` pipeline is not retried.
    """
    return Redis.from_url(url, maint_notifications_config=MaintNotificationsConfig(enabled=False))


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a worker needs to execute one run."""

    run_id: str
    user_id: str
    thread_id: str
    agent: str
    prompt: str
    #: Unix time the gateway accepted the ``user_message`` (run metrics: time to first token).
    accepted_at: float | None = None
    #: Unix time the gateway queued the run (run metrics: queue wait).
    queued_at: float | None = None
    #: The W3C ``traceparent`` of the hand-off, so the worker's spans join the run's trace.
    #: A field of its own in the queue entry, beside ``request``: workers that predate it
    #: read the entry as before.
    traceparent: str | None = None
    #: False when the client that sent the message cannot answer approvals or
    #: questions (v1, v2): their defaults then apply at once.
    answerable: bool = True
    #: Continue a run whose process died while it was paused (its pauses are in the store).
    resume: bool = False

    def encode(self) -> bytes:
        """The entry's ``request`` field (without the traceparent)."""
        fields = asdict(self)
        del fields["traceparent"]
        return orjson.dumps(fields)


def decode_request(fields: dict[bytes, bytes]) -> RunRequest:
    """A run request from its queue entry's fields (the gateway's :meth:`RunRequest.encode`).

    Fields of ``request`` a newer gateway added are ignored, so workers can be upgraded
    after the gateways.
    """
    data = orjson.loads(fields[b"request"])
    known = RunRequest.__dataclass_fields__.keys() - {"traceparent"}
    traceparent = fields.get(b"traceparent")
    return RunRequest(
        **{name: data[name] for name in known if name in data},
        traceparent=traceparent.decode() if traceparent else None,
    )


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A queued or running run as recorded in Redis."""

    run_id: str
    user_id: str
    thread_id: str
    agent: str
    state: str
    worker: str | None


class RunQueue:
    """The Redis side of run execution by workers (gateway and worker both use it)."""

    def __init__(self, redis: Redis, prefix: str = "agentsocket") -> None:
        self.redis = redis
        self.prefix = prefix
        self.stream = f"{prefix}:runs"
        self.channel = f"{prefix}:control"
        self._active = f"{prefix}:active"
        self._queued = f"{prefix}:queued"
        self._submit = redis.register_script(_SUBMIT)
        self._take = redis.register_script(_TAKE)
        self._expire = redis.register_script(_EXPIRE)
        self._claim_reap = redis.register_script(_CLAIM_REAP)
        self._renew = redis.register_script(_RENEW)
        self._orphan = redis.register_script(_ORPHAN)
        self._hold = redis.register_script(_HOLD)
        self._reserve = redis.register_script(_RESERVE)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- gateway side ------------------------------------------------------------------

    async def reserve(self, user_id: str, slot: str, limit: int, ttl_seconds: float) -> bool:
        """Reserve a run slot for ``user_id`` if their runs and slots are below ``limit``.

        One atomic script, so the limit holds across every node. The slot turns
        into the run in :meth:`submit` or :meth:`hold`; give it back with
        :meth:`unreserve` if no run follows. A slot lapses after ``ttl_seconds``
        (its node died between reserving and starting).
        """
        keys = [self._user_runs(user_id), self._user_slots(user_id)]
        ttl_ms = max(1, int(ttl_seconds * 1000))
        return bool(await self._reserve(keys=keys, args=[slot, limit, ttl_ms]))

    async def unreserve(self, user_id: str, slot: str) -> None:
        await self.redis.zrem(self._user_slots(user_id), slot)

    async def submit(self, request: RunRequest, slot: str | None = None) -> None:
        """Record the run and queue it for the next free worker (taking ``slot``)."""
        keys = [
            self.stream,
            self._run(request.run_id),
            self._user_runs(request.user_id),
            self._queued,
            self._user_slots(request.user_id),
        ]
        args: list[str | bytes] = [
            request.run_id,
            request.user_id,
            request.thread_id,
            request.agent,
            request.encode(),
            slot or "",
            request.traceparent or "",
        ]
        await self._submit(keys=keys, args=args)

    async def hold(self, request: RunRequest, owner: str, slot: str | None = None) -> None:
        """Record a run that ``owner`` (a gateway node) executes itself, as running.

        The owner renews its heartbeat (:meth:`renew`) while it lives; once it
        is silent the reapers end the run like a lost worker's. End it with
        :meth:`finished`.
        """
        user_id = request.user_id
        keys = [
            self._run(request.run_id),
            self._active,
            self._user_runs(user_id),
            self._user_slots(user_id),
        ]
        args = [request.run_id, user_id, request.thread_id, request.agent, owner, slot or ""]
        await self._hold(keys=keys, args=args)

    async def running_count(self, user_id: str) -> int:
        return int(await self.redis.scard(self._user_runs(user_id)))

    async def info(self, run_id: str) -> RunInfo | None:
        raw = await self.redis.hgetall(self._run(run_id))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return RunInfo(
            run_id=run_id,
            user_id=fields["user_id"],
            thread_id=fields["thread_id"],
            agent=fields["agent"],
            state=fields.get("state", "queued"),
            worker=fields.get("worker"),
        )

    async def command(self, payload: bytes, *, cancels: str | None = None) -> None:
        """Broadcast an encoded control command to every worker.

        Args:
            cancels: the run it cancels, marked so a worker that takes the run
                later still cancels it.
        """
        if cancels is not None:
            await self.redis.hset(self._run(cancels), "cancelled", "1")
        await self.redis.publish(self.channel, payload)

    async def approval_owner(self, run_id: str, tool_call_id: str) -> str | None:
        """The user a pending approval waits for, or None if none is pending."""
        owner = await self.redis.get(self._approval(run_id, tool_call_id))
        return None if owner is None else _text(owner)

    async def lost_runs(self) -> list[RunInfo]:
        """Running runs whose worker's heartbeat has expired."""
        active = await self.redis.hgetall(self._active)
        lost: list[RunInfo] = []
        for run_id, worker in active.items():
            if not await self.redis.exists(self._worker(_text(worker))):
                info = await self.info(_text(run_id))
                if info is not None:
                    lost.append(replace(info, worker=_text(worker)))
                else:
                    await self.redis.hdel(self._active, run_id)
        return lost

    async def claim_reap(self, run_id: str, worker_id: str) -> bool:
        """True for exactly one caller, and only while ``worker_id`` is still silent.

        That caller ends the lost run. Atomic with :meth:`renew`: a worker that
        renewed its heartbeat first keeps its run.
        """
        keys = [self._worker(worker_id), self._active, self._reaped(run_id)]
        claimed = await self._claim_reap(keys=keys, args=[run_id, worker_id, REAPED_TTL_SECONDS])
        return bool(claimed)

    async def expire_queued(self, timeout_seconds: float) -> list[RunInfo]:
        """Claim the runs queued longer than ``timeout_seconds`` that no worker took.

        Each such run is returned to exactly one caller, which ends it (then
        :meth:`finished`); its state becomes ``expired``, so no worker takes it
        any more. Should that caller die before ending it, the run is handed
        out again after :data:`REAPED_TTL_SECONDS`.
        """
        seconds, micros = await self.redis.time()  # one clock for every node
        cutoff = seconds * 1000 + micros // 1000 - int(timeout_seconds * 1000)
        due: Any = await self.redis.zrangebyscore(self._queued, "-inf", cutoff, start=0, num=100)
        again = cutoff + REAPED_TTL_SECONDS * 1000
        expired: list[RunInfo] = []
        for run_id in map(_text, due):
            keys = [self._queued, self.stream, self._run(run_id)]
            if await self._expire(keys=keys, args=[GROUP, run_id, cutoff, again]):
                info = await self.info(run_id)
                if info is not None:
                    expired.append(info)
        return expired

    # --- worker side ----------------------------------------------------------------------

    async def renew(self, worker_id: str, ttl_seconds: float, run_ids: list[str]) -> set[str]:
        """Renew the worker's heartbeat; return which of ``run_ids`` are no longer its own.

        A run is no longer the worker's once a gateway claimed it as lost: the
        worker must not publish anything more of it.
        """
        keys = [self._worker(worker_id), self._active, *map(self._reaped, run_ids)]
        args: list[str | int] = [worker_id, int(ttl_seconds * 1000), *run_ids]
        lost: list[bytes | str] = await self._renew(keys=keys, args=args)
        return {_text(run_id) for run_id in lost}

    async def claim(self, worker_id: str, block_ms: int, reclaim_idle_ms: int) -> RunRequest | None:
        """Take the next queued run (or None after ``block_ms``) and mark it as ours.

        An entry left pending for ``reclaim_idle_ms`` (its reader died before
        taking its run) comes first. None too when the entry's run is no longer
        queued (ended meanwhile, or taken by another worker): it is dropped.
        """
        # redis-py types stream replies loosely; an entry is (id, fields).
        entry: Any = None
        try:
            reclaimed: Any = await self.redis.xautoclaim(
                self.stream, GROUP, worker_id, reclaim_idle_ms, start_id="0-0", count=1
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis came back empty (restarted without persistence): make the group
            # again, or no run would ever be claimed until the worker restarts.
            await self.ensure_group()
            return None
        if reclaimed[1]:
            entry = reclaimed[1][0]
        else:
            reply: Any = await self.redis.xreadgroup(
                GROUP, worker_id, {self.stream: ">"}, count=1, block=block_ms
            )
            if not reply:
                return None
            entry = reply[0][1][0]
        entry_id, fields = entry
        if not fields:  # deleted meanwhile (a Redis before 7 still hands it out)
            await self.redis.xack(self.stream, GROUP, entry_id)
            return None
        request = decode_request(fields)
        keys = [self.stream, self._run(request.run_id), self._active, self._queued]
        args: list[bytes | str] = [GROUP, entry_id, request.run_id, worker_id]
        taken = await self._take(keys=keys, args=args)
        return request if taken else None

    async def orphan(self, run_id: str, worker_id: str) -> bool:
        """Hand a run the worker gave up to the reaper (it then ends it as ``worker_lost``).

        The run's owner becomes a worker id that never has a heartbeat.

        Returns:
            True when Redis has no record of the run at all (it restarted empty):
            no reaper will end it, so the worker must.
        """
        keys = [self._active, self._reaped(run_id)]
        outcome = await self._orphan(keys=keys, args=[run_id, worker_id, f"{worker_id}{ORPHANED}"])
        return int(outcome) == -1

    async def approval_opened(
        self, run_id: str, tool_call_id: str, user_id: str, ttl_seconds: float
    ) -> None:
        """Record a pending approval (before it is announced), for ``approval_owner``."""
        await self.redis.set(
            self._approval(run_id, tool_call_id), user_id, px=max(1, int(ttl_seconds * 1000))
        )

    async def approval_closed(self, run_id: str, tool_call_id: str) -> None:
        await self.redis.delete(self._approval(run_id, tool_call_id))

    async def cancel_requested(self, run_id: str) -> bool:
        return await self.redis.hget(self._run(run_id), "cancelled") == b"1"

    async def finished(self, run_id: str, user_id: str) -> None:
        """Forget a run that ended (normally, or reaped)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._active, run_id)
            pipe.srem(self._user_runs(user_id), run_id)
            pipe.delete(self._run(run_id))
            pipe.zrem(self._queued, run_id)
            await pipe.execute()

    # --- keys ----------------------------------------------------------------------------

    def _run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def _user_runs(self, user_id: str) -> str:
        return f"{self.prefix}:user-runs:{user_id}"

    def _user_slots(self, user_id: str) -> str:
        return f"{self.prefix}:user-slots:{user_id}"

    def _worker(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    def _reaped(self, run_id: str) -> str:
        return f"{self.prefix}:reaped:{run_id}"

    def _approval(self, run_id: str, tool_call_id: str) -> str:
        return f"{self.prefix}:approval:{run_id}:{tool_call_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
