"""Double-texting: what a message for a thread whose run is still going does.

Each thread has at most one *active* run and a short line of runs waiting
behind it. :meth:`ThreadLine.admit` decides, atomically, what a new run
does under its policy:

- ``reject``: nothing is stored; the client gets ``conflict`` naming the
  running run.
- ``enqueue``: it waits in line (at most ``depth`` per thread) and starts
  when the run before it ends, in order.
- ``interrupt``: it goes to the front; the running run is cancelled, the runs
  waiting are cancelled too (the newest message supersedes them), and it
  starts once the cancelled run has ended.

:meth:`ThreadLine.done`, called once a run's end is out, hands the thread to
the next run in line. With Redis the line lives in Redis and one script per
step decides, so every gateway node (and worker) agrees.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

import orjson
from redis.asyncio import Redis

from agentsocket.delivery.run_queue import RunRequest
from agentsocket.store.errors import NotFound

log = logging.getLogger("agentsocket.runs")

Policy = Literal["reject", "enqueue", "interrupt"]
POLICIES: tuple[Policy, ...] = ("reject", "enqueue", "interrupt")

#: A safety net only: an active run's end always releases its thread, but a
#: thread whose release got lost (a bug, Redis flushed) frees itself after this.
_MIN_TTL_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`ThreadLine.admit` decided.

    Attributes:
        kind: ``start`` (the run may start now), ``queued`` (it waits in line),
            ``busy`` (refused: reject), ``full`` (refused: the line is full).
        active: the thread's running run, unless ``start``.
        interrupt: the run to cancel (interrupt), if any.
        superseded: runs that were waiting and are now cancelled (interrupt).
    """

    kind: Literal["start", "queued", "busy", "full"]
    active: str | None = None
    interrupt: str | None = None
    superseded: tuple[RunRequest, ...] = ()


class ThreadLine(Protocol):
    """Per-thread serialisation of runs (see the module docs)."""

    async def admit(self, request: RunRequest, policy: Policy, depth: int) -> Admission: ...

    async def done(self, thread_id: str, run_id: str) -> RunRequest | None:
        """The run ended: the next run in line, now active, or None. Idempotent."""
        ...

    async def withdraw(self, thread_id: str, run_id: str) -> RunRequest | None:
        """Take a waiting run out of line (it is being cancelled); None if not waiting."""
        ...

    async def aclose(self) -> None: ...


class MemoryThreadLine:
    """The line for one process (``BROKER=memory``): no await inside a step, so atomic."""

    def __init__(self) -> None:
        self._active: dict[str, str] = {}
        self._waiting: dict[str, deque[RunRequest]] = {}

    async def admit(self, request: RunRequest, policy: Policy, depth: int) -> Admission:
        thread = request.thread_id
        active = self._active.get(thread)
        if active is None:
            self._active[thread] = request.run_id
            return Admission("start")
        if policy == "reject":
            return Admission("busy", active)
        waiting = self._waiting.setdefault(thread, deque())
        if policy == "enqueue":
            if len(waiting) >= depth:
                return Admission("full", active)
            waiting.append(request)
            return Admission("queued", active)
        superseded = tuple(waiting)
        waiting.clear()
        waiting.append(request)
        return Admission("queued", active, interrupt=active, superseded=superseded)

    async def done(self, thread_id: str, run_id: str) -> RunRequest | None:
        if self._active.get(thread_id) != run_id:
            return None
        waiting = self._waiting.get(thread_id)
        if not waiting:
            self._waiting.pop(thread_id, None)
            del self._active[thread_id]
            return None
        following = waiting.popleft()
        self._active[thread_id] = following.run_id
        return following

    async def withdraw(self, thread_id: str, run_id: str) -> RunRequest | None:
        waiting = self._waiting.get(thread_id, deque())
        for request in waiting:
            if request.run_id == run_id:
                waiting.remove(request)
                return request
        return None

    async def aclose(self) -> None:
        return None


# KEYS: active run, waiting list. ARGV: run id, request JSON, policy, depth, ttl ms.
_ADMIT = """
local active = redis.call('GET', KEYS[1])
if not active then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
  return {'start', ''}
end
if ARGV[3] == 'reject' then
  return {'busy', active}
end
local ttl = tonumber(ARGV[5]) * (tonumber(ARGV[4]) + 1)
if ARGV[3] == 'enqueue' then
  if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[4]) then
    return {'full', active}
  end
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {'queued', active}
end
local superseded = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
local answer = {'interrupt', active}
for _, item in ipairs(superseded) do
  table.insert(answer, item)
end
return answer
"""

# KEYS: active run, waiting list. ARGV: the run that ended, ttl ms.
_DONE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local following = redis.call('LPOP', KEYS[2])
if not following then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('SET', KEYS[1], cjson.decode(following)['run_id'], 'PX', ARGV[2])
return following
"""

# KEYS: waiting list. ARGV: run id.
_WITHDRAW = """
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if cjson.decode(item)['run_id'] == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, item)
    return item
  end
end
return false
"""


class RedisThreadLine:
    """The line in Redis, shared by every gateway node and worker (``BROKER=redis``).

    Args:
        run_timeout: the longest a run lasts; an active mark outlives it a
            while, so a thread is never stuck for good if a release is lost.
    """

    def __init__(self, redis: Redis, prefix: str, run_timeout: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = int(max(run_timeout * 2, _MIN_TTL_SECONDS) * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._done = redis.register_script(_DONE)
        self._withdraw = redis.register_script(_WITHDRAW)

    async def admit(self, request: RunRequest, policy: Policy, depth: int) -> Admission:
        args: list[str | bytes | int] = [
            request.run_id,
            _encode(request),
            policy,
            depth,
            self._ttl_ms,
        ]
        answer = await self._admit(keys=self._keys(request.thread_id), args=args)
        kind, active, *superseded = (_text(item) for item in answer)
        if kind == "start":
            return Admission("start")
        if kind == "busy":
            return Admission("busy", active)
        if kind == "full":
            return Admission("full", active)
        if kind == "queued":
            return Admission("queued", active)
        return Admission(
            "queued",
            active,
            interrupt=active,
            superseded=tuple(_decode(item) for item in superseded),
        )

    async def done(self, thread_id: str, run_id: str) -> RunRequest | None:
        following = await self._done(keys=self._keys(thread_id), args=[run_id, self._ttl_ms])
        return None if not following else _decode(following)

    async def withdraw(self, thread_id: str, run_id: str) -> RunRequest | None:
        item = await self._withdraw(keys=self._keys(thread_id)[1:], args=[run_id])
        return None if not item else _decode(item)

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _keys(self, thread_id: str) -> list[str]:
        base = f"{self._prefix}:thread:{thread_id}"
        return [f"{base}:active", f"{base}:waiting"]


class _RunLookup(Protocol):
    async def get_run(self, user_id: str, run_id: str) -> object: ...


#: How long the next run's row may take to appear: its node stores it right after admitting.
STORED_WAIT_SECONDS = 10.0


async def next_stored(
    line: ThreadLine, store: _RunLookup, thread_id: str, run_id: str
) -> RunRequest | None:
    """``run_id`` ended: the next run of the thread, once its message is stored.

    A run is admitted before its message is stored (so a refusal stores
    nothing); one whose message never gets stored (its node failed) is
    skipped, and the thread goes on to the one after it.
    """
    following = await line.done(thread_id, run_id)
    while following is not None:
        if await _wait_stored(store, following):
            return following
        log.warning(
            "a waiting run was never stored; skipping it", extra={"run_id": following.run_id}
        )
        following = await line.done(thread_id, following.run_id)
    return None


async def _wait_stored(store: _RunLookup, request: RunRequest) -> bool:
    deadline = time.monotonic() + STORED_WAIT_SECONDS
    while True:
        try:
            await store.get_run(request.user_id, request.run_id)
            return True
        except NotFound:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)


def _encode(request: RunRequest) -> bytes:
    return orjson.dumps(asdict(request))


def _decode(raw: bytes | str) -> RunRequest:
    return RunRequest(**orjson.loads(raw))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
