"""The state of one run and its sub-runs, and the gate all their events pass.

Internal to the runtime: :class:`~agentsocket.agents.runtime.RunContext`
emits through a :class:`RunTree`, the :class:`~agentsocket.agents.runner.Runner`
stops it. The gate is what makes the ordering guarantees hold whatever the
agent does:

- an agent's events pass only while the tree is not stopping or closed, so
  nothing of a run follows its ``agent_cancelled`` (even from a task the
  agent leaked);
- a stop never interrupts an event half-way into the sink: it waits until
  the event is through, then cancels the agent's task;
- a run's terminal event is emitted once, never for a run whose
  ``agent_started`` did not go out, and never after the root's terminal event.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.history import ChatTurn, HistoryLoader, Turn
from agentsocket.agents.pauses import MemoryPauses, PauseBook, Replay, Waits
from agentsocket.agents.sink import EventSink
from agentsocket.agents.tool import Tool
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentCompleted,
    AgentError,
    AgentEvent,
    AgentStarted,
    Usage,
)

logger = logging.getLogger("agentsocket.agents")

_MAX_ERROR_MESSAGE = 500


def new_id(prefix: str) -> str:
    """Return ``prefix`` followed by 32 random hex digits, e.g. ``call_3f2a…``."""
    return prefix + uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run is being stopped: cancelled (with a reason), timed out, or suspended.

    A run is suspended when its process shuts down while it waits for a person:
    it does not end (no terminal event, nothing stored), so it is continued
    from its stored pauses once answered (:mod:`agentsocket.agents.pauses`).
    """

    kind: Literal["cancelled", "timeout", "suspended"]
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The user's answer to a ``tool_approval_required``.

    ``arguments`` are the arguments the user edited the call to, if they did.
    """

    approved: bool
    reason: str | None = None
    arguments: dict[str, Any] | None = None


class Deadline:
    """A run's timeout, whose clock stops while the run waits for a person."""

    def __init__(self, seconds: float, expire: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._left = seconds
        self._expire = expire
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(seconds, expire)

    def hold(self) -> None:
        """Stop the clock (the run waits for a person)."""
        if self._timer is not None:
            self._left = max(0.0, self._timer.when() - self._loop.time())
            self._timer.cancel()
            self._timer = None

    def release(self) -> None:
        """Start the clock again with the time that was left."""
        if self._timer is None:
            self._timer = self._loop.call_later(self._left, self._expire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._expire = _nothing


def _nothing() -> None:
    return None


class _Text(Protocol):
    @property
    def text(self) -> str: ...


class RunNode:
    """One run of the tree: the root or a sub-run."""

    def __init__(
        self, run_id: str, agent_name: str, parent_run_id: str | None, tools: Mapping[str, Tool]
    ) -> None:
        self.run_id = run_id
        self.agent_name = agent_name
        self.parent_run_id = parent_run_id
        self.tools = tools
        self.started_at = time.perf_counter()
        self.announced = False  # its agent_started went out
        self.finished = False  # its terminal event went out
        self.messages: list[_Text] = []
        self.usage: Usage | None = None  # tokens its agent reported, summed

    @property
    def text(self) -> str:
        """Its messages so far, one paragraph each (an unfinished one as far as it got)."""
        return "\n\n".join(m.text for m in self.messages if m.text)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started_at) * 1000


class RunTree:
    """A root run and its sub-runs: one sink, one stop, one gate."""

    def __init__(
        self,
        *,
        user_id: str,
        thread_id: str,
        sink: EventSink,
        root: RunNode,
        tools: Mapping[str, Tool],
        waits: Waits,
        approval_timeout: float,
        approval_default: bool = False,
        history: HistoryLoader | None = None,
        pauses: PauseBook | None = None,
        replay: Replay | None = None,
        answerable: bool = True,
    ) -> None:
        self.user_id = user_id
        self.thread_id = thread_id
        self.sink = sink
        self.root = root
        self.tools = tools
        self.waits = waits
        self.approval_timeout = approval_timeout
        self.approval_default = approval_default
        self.history = history
        self.pauses: PauseBook = pauses or MemoryPauses()
        #: Set while a continued run re-does what it had done before its last pause.
        self.replay = replay if replay is not None and replay.resolved else None
        #: False for a run whose client cannot answer (v1, v2): defaults apply at once.
        self.answerable = answerable
        self.pause_count = 0  # pauses asked so far (a pause's ordinal)
        self.waiting = 0  # pauses being waited for right now
        self.deadline: Deadline | None = None  # the run's timeout, if it has one
        self.sub_run_ids: list[str] = []  # sub-runs opened so far, in order
        self.turns: list[ChatTurn] | None = None  # the thread's history, once loaded
        self.stored_turns: Sequence[Turn] | None = None  # ... as the loader returned it
        self.stop: Stop | None = None
        self.stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False  # the root's outcome is decided: no more agent events
        self.agent_task: asyncio.Task[None] | None = None
        self._emitting = 0
        self._cancel_pending = False

    def fields(self, node: RunNode) -> dict[str, Any]:
        """The fields every event of ``node`` carries."""
        return {
            "run_id": node.run_id,
            "thread_id": self.thread_id,
            "agent_name": node.agent_name,
            "parent_run_id": node.parent_run_id,
        }

    @property
    def replaying(self) -> bool:
        return self.replay is not None

    def waiting_started(self) -> None:
        self.waiting += 1
        if self.waiting == 1 and self.deadline is not None:
            self.deadline.hold()

    def waiting_ended(self) -> None:
        self.waiting -= 1
        if self.waiting == 0 and self.deadline is not None:
            self.deadline.release()

    @property
    def suspended(self) -> bool:
        return self.stop is not None and self.stop.kind == "suspended"

    def new_sub_run_id(self) -> str:
        """A sub-run's id: the one it had before, while replaying."""
        if self.replay is not None and self.replay.sub_run_ids:
            run_id = self.replay.sub_run_ids.popleft()
        else:
            run_id = new_id("run_")
        self.sub_run_ids.append(run_id)
        return run_id

    def request_stop(self, stop: Stop) -> None:
        """Stop the tree (first request wins): close the gate, cancel the agent's task."""
        if self.stop is not None or self.closed:
            return
        self.stop = stop
        self.stopped.set_result(None)
        if self._emitting:
            self._cancel_pending = True
        elif self.agent_task is not None:
            self.agent_task.cancel()

    async def emit(self, node: RunNode, event: AgentEvent) -> bool:
        """Pass an agent's event through the gate; False if the gate dropped it.

        Raises:
            RuntimeError: ``node`` has already ended (the agent kept its context).
        """
        if self.stop is not None or self.closed:
            return False
        if node.finished:
            raise RuntimeError(f"run {node.run_id} has ended; it cannot emit {event.TYPE}")
        if self.replay is not None:
            return True  # sent before the process went away
        self._emitting += 1
        try:
            await self.sink.emit(event)
        finally:
            self._emitting -= 1
            if self._cancel_pending and not self._emitting:
                self._cancel_pending = False
                if self.agent_task is not None:
                    self.agent_task.cancel()
        return True

    async def announce(self, node: RunNode) -> bool:
        """Emit ``agent_started`` for ``node``: the root's always, a sub-run's through the gate."""
        event = AgentStarted(**self.fields(node))
        if self.replay is not None:
            pass  # sent before the process went away
        elif node is self.root:
            await self.sink.emit(event)
        elif not await self.emit(node, event):
            return False
        node.announced = True
        return True

    async def finish(self, node: RunNode, event: AgentEvent) -> None:
        """Emit ``node``'s terminal event, bypassing the gate, at most once."""
        if node.finished or not node.announced or self.suspended:
            return
        if node is not self.root and self.root.finished:
            return
        node.finished = True
        await self.sink.emit(event)

    def ending(self, node: RunNode, error: BaseException | None) -> AgentEvent:
        """The terminal event for ``node``: a stop wins over how the agent ended."""
        fields = self.fields(node)
        if self.stop is not None:
            if self.stop.kind == "timeout":
                return AgentError(
                    **fields,
                    code=AgentErrorCode.TIMEOUT.value,
                    message=self.stop.reason,
                    retryable=True,
                )
            return AgentCancelled(**fields, reason=self.stop.reason)
        if error is None:
            return AgentCompleted(**fields, duration_ms=node.elapsed_ms(), usage=node.usage)
        if isinstance(error, asyncio.CancelledError):
            # Cancelled from inside the agent (e.g. its own timeout around a delegation).
            return AgentCancelled(**fields, reason="interrupted")
        failure = as_failure(error, node)
        return AgentError(
            **fields, code=failure.code.value, message=failure.message, retryable=failure.retryable
        )


def as_failure(error: BaseException, node: RunNode) -> AgentFailure:
    """``error`` as an :class:`AgentFailure`; an unexpected one is logged with its traceback."""
    if isinstance(error, AgentFailure):
        return error
    logger.error(
        "agent %s failed in run %s",
        node.agent_name,
        node.run_id,
        exc_info=(type(error), error, error.__traceback__),
    )
    message = f"{type(error).__name__}: {error}"[:_MAX_ERROR_MESSAGE]
    return AgentFailure(AgentErrorCode.AGENT_FAILED, message, retryable=False)
