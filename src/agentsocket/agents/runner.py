"""Start, stop and await agent runs; each run's events come out whole and in order.

Guarantees for every run started with :meth:`Runner.start`:

- ``agent_started`` is its first event and exactly one terminal event
  (``agent_completed``, ``agent_error`` or ``agent_cancelled``) its last; a
  sub-run's events all come before its parent's terminal event;
- after :meth:`Runner.cancel` returns True, the only events left to come
  from the run are the terminal events of the sub-runs it is in and its own
  ``agent_cancelled``, even if a tool is still running in a thread or an
  approval is pending;
- an exception from the agent becomes ``agent_error`` (``agent_failed``, or
  the code of an :class:`~agentsocket.agents.errors.AgentFailure`); exceeding
  the run timeout becomes ``agent_error`` ``timeout``, retryable.

Example::

    runner = Runner(timeout=120)
    handle = runner.start("user-1", "thread-1", DemoAgent(), "what is 2+2?", "run_1", sink)
    outcome = await handle.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from agentsocket import tracing
from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.history import HistoryLoader
from agentsocket.agents.pauses import MemoryPauses, Pause, PauseBook, Replay, Resolution, Waits
from agentsocket.agents.runtime import DIVERGED, Agent, RunContext, agent_tools, record_end
from agentsocket.agents.sink import EventSink
from agentsocket.agents.state import Deadline, RunNode, RunTree, Stop
from agentsocket.agents.tool import Tool
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import AgentCancelled, AgentError, AgentEvent

logger = logging.getLogger("agentsocket.agents")

RunStatus = Literal["completed", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, as given to ``on_finish`` and returned by ``wait``.

    Attributes:
        status: ``completed``, ``error`` or ``cancelled`` (the store's end statuses).
        text: the answer: the run's messages, one paragraph each; for a run
            that did not complete, as far as it got.
        error_code: an ``AgentErrorCode`` value when ``status`` is ``error``.
        reason: why it was cancelled, when ``status`` is ``cancelled``.
    """

    run_id: str
    user_id: str
    thread_id: str
    agent_name: str
    status: RunStatus
    text: str
    duration_ms: float
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False
    reason: str | None = None


#: Called once per run, before its terminal event is emitted (so a client that
#: sees ``agent_completed`` finds the run and answer already stored).
FinishCallback = Callable[[RunOutcome], Awaitable[None]]


class RunHandle:
    """A started run: who it is for, and a way to await its outcome."""

    def __init__(self, tree: RunTree, task: asyncio.Task[RunOutcome]) -> None:
        self._tree = tree
        self._task = task

    @property
    def run_id(self) -> str:
        return self._tree.root.run_id

    @property
    def user_id(self) -> str:
        return self._tree.user_id

    @property
    def thread_id(self) -> str:
        return self._tree.thread_id

    @property
    def agent_name(self) -> str:
        return self._tree.root.agent_name

    def done(self) -> bool:
        """True once the run's terminal event has been emitted."""
        return self._task.done()

    async def wait(self) -> RunOutcome:
        """Wait for the run to end; cancelling the waiter does not cancel the run."""
        return await asyncio.shield(self._task)


class Runner:
    """Runs agents as asyncio tasks, one event sink per run.

    Args:
        tools: tools every agent may call by name, besides its own ``tools``.
        timeout: seconds a run may take before it ends with ``timeout``; None for no
            limit. Time spent waiting for a person (approvals, questions) does not count.
        approval_timeout: seconds to wait for a tool approval or a question's answer
            before the default applies.
        approval_default: approve (True) or deny (False) a tool call nobody answered in time.
        cancel_grace: seconds a cancelled agent gets to unwind before its run is
            ended without it (its later events are dropped).
        on_finish: called with each run's :class:`RunOutcome` before its terminal event.
        on_ended: called with it once the terminal event is out and the run no longer
            counts as running (e.g. to start the next run of its thread).
        history: loads a thread's stored messages, for :meth:`RunContext.history
            <agentsocket.agents.runtime.RunContext.history>`; without it a run sees none.
        keep_finished: how many finished runs :meth:`wait` still knows about.
    """

    def __init__(
        self,
        *,
        tools: Sequence[Tool] = (),
        timeout: float | None = 600.0,
        approval_timeout: float = 120.0,
        approval_default: bool = False,
        cancel_grace: float = 5.0,
        on_finish: FinishCallback | None = None,
        on_ended: FinishCallback | None = None,
        history: HistoryLoader | None = None,
        keep_finished: int = 1000,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._timeout = timeout
        self._approval_timeout = approval_timeout
        self._approval_default = approval_default
        self._cancel_grace = cancel_grace
        self._on_finish = on_finish
        self._on_ended = on_ended
        self._history = history
        self._keep_finished = keep_finished
        self._waits = Waits()
        self._active: dict[str, tuple[RunTree, RunHandle]] = {}
        self._finished: OrderedDict[str, RunOutcome] = OrderedDict()

    def start(
        self,
        user_id: str,
        thread_id: str,
        agent: Agent,
        prompt: str,
        run_id: str,
        sink: EventSink,
        *,
        timeout: float | None = None,
        pauses: PauseBook | None = None,
        replay: Replay | None = None,
        answerable: bool = True,
    ) -> RunHandle:
        """Start running ``agent`` on ``prompt`` as a task; its events go to ``sink``.

        Must be called from a running event loop. The per-user limit is the
        caller's to enforce, with :meth:`running_count`.

        Args:
            run_id: the run's id (the store's); sub-runs get ``run_…`` ids.
            timeout: this run's timeout in seconds; None for the runner's.
            pauses: where the run's approvals and questions are kept; None: in memory.
            replay: continue a run whose process went away while it waited
                (see :mod:`agentsocket.agents.pauses`).
            answerable: False when nobody can answer (a v1/v2 client): every
                approval or question gets its default at once.

        Raises:
            ValueError: a run with this id is still running.
        """
        if run_id in self._active:
            raise ValueError(f"run {run_id!r} is already running")
        root = RunNode(run_id, agent.name, None, agent_tools(agent))
        tree = RunTree(
            user_id=user_id,
            thread_id=thread_id,
            sink=sink,
            root=root,
            tools=self._tools,
            waits=self._waits,
            approval_timeout=self._approval_timeout,
            approval_default=self._approval_default,
            history=self._history,
            pauses=pauses,
            replay=replay,
            answerable=answerable,
        )
        task = asyncio.create_task(self._drive(tree, agent, prompt), name=f"agent run {run_id}")
        handle = RunHandle(tree, task)
        self._active[run_id] = (tree, handle)
        limit = self._timeout if timeout is None else timeout
        if limit is not None:
            stop = Stop("timeout", f"the run took longer than {limit:g} s")
            deadline = tree.deadline = Deadline(limit, lambda: tree.request_stop(stop))
            task.add_done_callback(lambda _: deadline.cancel())
        return handle

    def cancel(
        self, run_id: str, reason: str = "user_request", *, user_id: str | None = None
    ) -> bool:
        """Stop a running run; it ends with ``agent_cancelled`` (``reason``).

        Returns at once; await :meth:`wait` to see the run end. Cancelling a
        run that is already being cancelled is fine and returns True.

        Args:
            user_id: if given, only that user's run is cancelled.

        Returns:
            False if no such run is running (for ``user_id``), or it is already ending.
        """
        entry = self._active.get(run_id)
        if entry is None or (user_id is not None and entry[0].user_id != user_id):
            return False
        tree = entry[0]
        if tree.closed:
            return False
        tree.request_stop(Stop("cancelled", reason))
        return tree.stop is not None and tree.stop.kind == "cancelled"

    def resolve_approval(
        self,
        run_id: str,
        tool_call_id: str,
        approved: bool,
        reason: str | None = None,
        *,
        user_id: str | None = None,
    ) -> bool:
        """Answer a ``tool_approval_required`` of ``run_id`` (a run or a sub-run).

        Returns:
            False if that call is not waiting for approval (unknown, answered,
            timed out, its run ended, or it is not ``user_id``'s).
        """
        resolution = Resolution("answered", approved=approved, reason=reason)
        return self._waits.wake(run_id, tool_call_id, resolution, user_id)

    def resolve(
        self, run_id: str, interrupt_id: str, resolution: Resolution, *, user_id: str | None = None
    ) -> bool:
        """Wake the run or sub-run ``run_id`` waiting at ``interrupt_id`` with ``resolution``.

        The caller has made sure the resolution is the only one (the pause
        book's claim); here the waiting run only learns it.

        Returns:
            False if nothing waits there in this process (or it is not ``user_id``'s).
        """
        return self._waits.wake(run_id, interrupt_id, resolution, user_id)

    def pending(self, run_id: str, interrupt_id: str, user_id: str | None = None) -> Pause | None:
        """The pause the run or sub-run ``run_id`` waits at in this process, if it does."""
        return self._waits.pending(run_id, interrupt_id, user_id)

    async def wait(self, run_id: str) -> RunOutcome:
        """Wait for a run to end and return its outcome.

        Raises:
            KeyError: no such run is running or finished recently.
        """
        entry = self._active.get(run_id)
        if entry is not None:
            return await entry[1].wait()
        return self._finished[run_id]

    def get(self, run_id: str) -> RunHandle | None:
        """The handle of a running run, else None."""
        entry = self._active.get(run_id)
        return None if entry is None else entry[1]

    def running_count(self, user_id: str) -> int:
        """How many of ``user_id``'s runs are running (sub-runs not counted)."""
        return sum(1 for tree, _ in self._active.values() if tree.user_id == user_id)

    async def shutdown(self, reason: str = "shutdown") -> None:
        """Cancel every running run with ``reason`` and wait until all have ended.

        A run waiting for a person is suspended instead: it does not end, and
        another process continues it from its stored pauses.
        """
        handles = [handle for _, handle in self._active.values()]
        for tree, _ in self._active.values():
            if tree.waiting and not isinstance(tree.pauses, MemoryPauses):
                tree.request_stop(Stop("suspended", reason))
            else:
                tree.request_stop(Stop("cancelled", reason))
        await asyncio.gather(*(handle.wait() for handle in handles))

    # --- the run itself -------------------------------------------------------

    async def _drive(self, tree: RunTree, agent: Agent, prompt: str) -> RunOutcome:
        root = tree.root
        # A child of the span that started the run (the task copied its context).
        with tracing.span(
            f"invoke_agent {root.agent_name}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": root.agent_name,
                "agentsocket.run_id": root.run_id,
            },
        ) as span:
            outcome = await self._run(tree, agent, prompt)
            record_end(span, outcome.status, outcome.error_code or outcome.reason)
        return outcome

    async def _run(self, tree: RunTree, agent: Agent, prompt: str) -> RunOutcome:
        root = tree.root
        error: BaseException | None = None
        try:
            await tree.announce(root)
            if tree.stop is None:
                tree.agent_task = asyncio.create_task(
                    _contained(agent, RunContext(tree, root), prompt),
                    name=f"agent {root.run_id}",
                )
                error = await self._settle(tree, tree.agent_task)
                if error is None and tree.replay is not None:
                    # It ended without reaching the pause it had waited at.
                    error = AgentFailure(AgentErrorCode.RESUME_DIVERGED, DIVERGED, retryable=True)
        except asyncio.CancelledError:
            # This task itself was cancelled (e.g. the loop is shutting down):
            # stop the agent and still end the run properly.
            tree.request_stop(Stop("cancelled", "shutdown"))
            if (current := asyncio.current_task()) is not None:
                current.uncancel()
            if tree.agent_task is not None:
                await self._unwind(tree, tree.agent_task)
        except Exception as exc:  # the sink refused agent_started
            error = exc
        tree.closed = True
        event = tree.ending(root, error)
        outcome = self._outcome(tree, event)
        if tree.suspended:
            del self._active[root.run_id]
            logger.info("run %s suspended while waiting for a person", root.run_id)
            return outcome
        try:
            if self._on_finish is not None:
                try:
                    await self._on_finish(outcome)
                except Exception:
                    logger.exception("on_finish failed for run %s", root.run_id)
            try:
                await tree.finish(root, event)
            except Exception:
                logger.exception("could not emit the end of run %s", root.run_id)
        finally:
            del self._active[root.run_id]
            self._finished[root.run_id] = outcome
            while len(self._finished) > self._keep_finished:
                self._finished.popitem(last=False)
        if self._on_ended is not None:
            try:
                await self._on_ended(outcome)
            except Exception:
                logger.exception("on_ended failed for run %s", root.run_id)
        return outcome

    async def _settle(self, tree: RunTree, agent_task: asyncio.Task[None]) -> BaseException | None:
        """Wait for the agent to end or the run to be stopped; return what the agent raised."""
        await asyncio.wait({agent_task, tree.stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not agent_task.done():
            await self._unwind(tree, agent_task)
        if not agent_task.done():
            return None
        if agent_task.cancelled():
            return asyncio.CancelledError()
        return agent_task.exception()

    async def _unwind(self, tree: RunTree, agent_task: asyncio.Task[None]) -> None:
        """Give a stopped agent ``cancel_grace`` seconds to end its sub-runs."""
        await asyncio.wait({agent_task}, timeout=self._cancel_grace)
        if not agent_task.done():
            logger.warning(
                "agent %s ignored cancellation of run %s; its events are dropped",
                tree.root.agent_name,
                tree.root.run_id,
            )
            agent_task.add_done_callback(_consume)

    def _outcome(self, tree: RunTree, event: AgentEvent) -> RunOutcome:
        root = tree.root
        outcome = RunOutcome(
            run_id=root.run_id,
            user_id=tree.user_id,
            thread_id=tree.thread_id,
            agent_name=root.agent_name,
            status="completed",
            text=root.text,
            duration_ms=root.elapsed_ms(),
        )
        if isinstance(event, AgentError):
            return replace(
                outcome,
                status="error",
                error_code=event.code,
                error_message=event.message,
                retryable=event.retryable,
            )
        if isinstance(event, AgentCancelled):
            return replace(outcome, status="cancelled", reason=event.reason)
        return outcome


async def _contained(agent: Agent, ctx: RunContext, prompt: str) -> None:
    """Run an agent so that nothing it raises can stop the process.

    asyncio re-raises ``SystemExit`` (and other non-``Exception`` errors but
    cancellation and ``KeyboardInterrupt``) from a task into the event loop,
    which would end the gateway; an agent's becomes an ordinary failure.
    """
    try:
        # Made here, not by the caller: a task cancelled before it starts then
        # leaves no coroutine that was never awaited.
        await agent.run(ctx, prompt)
    except (asyncio.CancelledError, KeyboardInterrupt, Exception):
        raise
    except BaseException as exc:
        raise AgentEscaped(f"the agent raised {type(exc).__name__}: {exc}") from exc


class AgentEscaped(RuntimeError):  # noqa: N818 - what happened, not a bug class
    """An agent raised ``SystemExit`` or another ``BaseException``; its run fails."""


def _consume(task: asyncio.Task[None]) -> None:
    # Retrieve the result of an agent task left behind, so asyncio does not log it.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
