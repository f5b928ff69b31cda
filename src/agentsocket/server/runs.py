"""From ``user_message`` to a finished run: the gateway's side of :mod:`agentsocket.runs`.

Each accepted message is stored with its run (one transaction), acknowledged
(``message_received``) and then run by the executor (in this process, or by
a worker); the run's events go into the user's stream, so every connection
of the user, on any node, sees them in order and can resume them. The run
and its final answer are stored before its terminal event is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from agentsocket import tracing
from agentsocket.agents import RunOutcome
from agentsocket.agents.history import Turn
from agentsocket.delivery import BrokerUnavailable
from agentsocket.delivery.run_queue import RunInfo, RunQueue, RunRequest, connect
from agentsocket.protocol import AgentErrorCode, ErrorCode, FieldIssue
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.runs import (
    AgentSet,
    Executor,
    LocalExecutor,
    QueueExecutor,
    build_agent_set,
    history_search,
    lost_run_outcome,
    persist_outcome,
    thread_history,
)
from agentsocket.runs.double_texting import (
    Admission,
    MemoryThreadLine,
    Policy,
    RedisThreadLine,
    ThreadLine,
    next_stored,
)
from agentsocket.runs.interrupts import AnswerRefused, Interrupts, StoredPauses
from agentsocket.runs.lease import NodeLease, gateway_owner
from agentsocket.runs.metrics import RunObserver
from agentsocket.runs.reaper import lost_run_error
from agentsocket.server.context import Request
from agentsocket.server.services import Services
from agentsocket.server.views import thread_info
from agentsocket.store import NotFound, TimelineItem
from agentsocket.store.base import new_id

log = logging.getLogger("agentsocket.runs")

_TITLE_LENGTH = 60


class RunService:
    """Accepts, stops and answers approvals for the runs of this node's users.

    Args:
        agents: the agent set, or agents given in code to serve besides those
            the settings name (:func:`agentsocket.runs.build_agent_set`).

    Raises:
        AgentSpecError: an agent cannot be loaded, or names clash.
    """

    def __init__(self, gateway: Services, agents: AgentSet | Iterable[object] = ()) -> None:
        self.gateway = gateway
        settings = gateway.settings
        self._started = False
        self._closed = False
        self.agents: AgentSet = (
            agents
            if isinstance(agents, AgentSet)
            else build_agent_set(settings, agents, search=self._search)
        )
        #: What the welcome says about them.
        self.available = [
            s.AvailableAgent(name=info.name, description=info.description)
            for info in self.agents.infos
        ]
        self.executor: Executor
        #: One run at a time per thread (double-texting), agreed by every node with Redis.
        self.line: ThreadLine = (
            RedisThreadLine(
                connect(settings.redis_url), settings.redis_prefix, settings.run_timeout
            )
            if settings.broker == "redis" or settings.runs == "queue"
            else MemoryThreadLine()
        )
        if settings.runs == "queue":
            self.executor = QueueExecutor(
                settings.redis_url,
                settings.redis_prefix,
                gateway.publish,
                self._lost,
                queue_timeout=settings.run_queue_timeout,
                on_lost_ended=self._lost_ended,
                on_lost_paused=self._lost_paused,
            )
        else:
            lease = None
            if settings.broker == "redis":
                queue = RunQueue(connect(settings.redis_url), settings.redis_prefix)
                lease = NodeLease(queue, gateway_owner(settings.server_id), settings.node_ttl)
            self.executor = LocalExecutor(
                self.agents,
                gateway.publish,
                self._finished,
                timeout=settings.run_timeout,
                approval_timeout=settings.approval_timeout,
                cancel_grace=settings.agent_cancel_grace,
                history=self._history,
                lease=lease,
                on_lost=self._lost,
                timeline=self._append_timeline,
                timeline_position=self._timeline_position,
                observer=RunObserver(gateway.metrics.run, self.agents),
                on_ended=self._ended,
                on_lost_ended=self._lost_ended,
                approval_default=settings.approval_default == "approve",
                pauses=lambda run: StoredPauses(self.gateway.get_store(), run),
                on_lost_paused=self._lost_paused,
            )
        #: Answers to approvals and questions, and runs continued after a crash.
        self.interrupts = Interrupts(self.gateway.get_store, self.executor, settings.server_id)
        #: Runs to start once the end of the run (the key) is out.
        self._following: dict[str, RunRequest] = {}
        #: Ends of runs a crashed predecessor left, per user, sent at the user's next connect.
        self._orphans: dict[str, list[s.AgentEvent]] = {}

    async def start(self) -> None:
        settings = self.gateway.settings
        if settings.runs == "local" and settings.broker == "memory" and not self._started:
            await self._end_orphans()
            # A paused run still has its thread: later messages follow it.
            depth = settings.double_texting_queue_depth
            for paused in await self.interrupts.paused():
                await self.line.admit(paused, "enqueue", depth)
            # Alone, this node was the one running them: continue what was answered meanwhile.
            await self._end_lost(await self.interrupts.recover())
            # Their requests were in the stream that died: send them again.
            for user_id, request in await self.interrupts.waiting():
                self._orphans.setdefault(user_id, []).append(request)
        await self.executor.start()
        self.interrupts.start()
        self._started = True

    async def connected(self, user_id: str) -> None:
        """A connection of the user is subscribed: tell it about runs lost in a crash.

        With the memory broker the stream died with the process, so a resuming
        client's old position only gets ``stream_gap``; these ends, and the
        requests of runs still waiting for the user, go out as live entries
        after it, once, to every connection of the user.
        """
        for event in self._orphans.pop(user_id, ()):
            await self.gateway.publish(user_id, event)

    async def _end_orphans(self) -> None:
        """End the runs the previous process left ``running`` (it crashed or was killed).

        One node owns a memory broker's runs, so every such run was this node's.
        """
        code = AgentErrorCode.GATEWAY_LOST
        ended = await self.gateway.get_store().end_running_runs(code.value, "gateway lost")
        for run in ended:
            self.gateway.metrics.runs.labels("error").inc()
            event = lost_run_error(run.id, run.thread_id, run.agent_name, code)
            self._orphans.setdefault(run.user_id, []).append(event)
        if ended:
            log.warning("ended runs a previous process left running", extra={"runs": len(ended)})

    async def _end_lost(self, run_ids: list[str]) -> None:
        """End paused runs that cannot go on, as a crash ends any run (``gateway_lost``)."""
        store = self.gateway.get_store()
        code = AgentErrorCode.GATEWAY_LOST
        for run_id in run_ids:
            run = await store.finish_run(run_id, "error", code.value, "gateway lost")
            self.gateway.metrics.runs.labels("error").inc()
            event = lost_run_error(run.id, run.thread_id, run.agent_name, code)
            self._orphans.setdefault(run.user_id, []).append(event)

    async def shutdown(self) -> None:
        """Stop the executor (local runs end with agent_cancelled ``shutdown``), then close
        the agents (their optional ``aclose()``); once."""
        if self._started:
            self._started = False
            await self.interrupts.close()
            await self.executor.close()
        if not self._closed:
            self._closed = True
            await self.agents.aclose()
            await self.line.aclose()

    async def submit(self, request: Request, message: c.UserMessage) -> None:
        """Store a user message with its run, acknowledge it and start the run (once per
        client_message_id).

        The run's trace starts here (a child of the message's ``traceparent``, if any).
        """
        trusted = self.gateway.settings.trace_client_parent
        parent = message.traceparent if trusted else None
        with tracing.span("agentsocket.user_message", kind="server", parent=parent) as span:
            await self._submit(request, message, span)

    async def _submit(self, request: Request, message: c.UserMessage, span: tracing.Span) -> None:
        gateway, user = self.gateway, request.user_id
        accepted_at = time.time()
        agent = message.agent or self.agents.default
        if agent not in self.agents:
            available = self.agents.listing()
            issue = FieldIssue(
                f"{request.data_path}.agent", f"unknown agent; available: {available}"
            )
            request.error(
                ErrorCode.NOT_FOUND, f"no agent {agent!r}; available: {available}", issues=(issue,)
            )
            return
        span.set("gen_ai.agent.name", agent)  # one of ours: never a name a client made up
        limit = gateway.settings.max_runs_per_user
        # Reserved before anything is stored: the limit holds for concurrent messages,
        # on every node.
        slot = await self.executor.reserve(user, limit)
        if slot is None:
            span.set("agentsocket.refused", ErrorCode.TOO_MANY_RUNS.value)
            request.error(ErrorCode.TOO_MANY_RUNS, f"at most {limit} runs at once")
            return
        launched = False
        try:
            launched = await self._start(request, message, agent, slot, accepted_at, span)
        finally:
            if not launched:
                await self.executor.release(user, slot)

    async def _start(
        self,
        request: Request,
        message: c.UserMessage,
        agent: str,
        slot: str,
        accepted_at: float,
        span: tracing.Span,
    ) -> bool:
        """Store the message with its run and launch it in ``slot`` (or line it up behind the
        thread's running run); False if nothing was launched."""
        gateway, user = self.gateway, request.user_id
        settings, store = gateway.settings, gateway.get_store()
        policy: Policy = message.double_texting or settings.double_texting
        depth = settings.double_texting_queue_depth
        run_id = new_id("run_")
        claimed: Admission | None = None
        resent = message.client_message_id is not None and (
            await store.run_for_client_message(user, message.client_message_id) is not None
        )
        if message.thread_id is not None and not resent:
            # Decided before anything is stored, in arrival order: a refused message
            # leaves no trace, and a waiting one is stored before its turn can come
            # (the node that starts it waits for its row: next_stored).
            line_request = RunRequest(
                run_id,
                user,
                message.thread_id,
                agent,
                message.content,
                accepted_at,
                answerable=request.answerable,
            )
            claimed = await self.line.admit(line_request, policy, depth)
            if claimed.kind in ("busy", "full"):
                span.set("agentsocket.refused", ErrorCode.CONFLICT.value)
                self._busy(request, message.thread_id, claimed)
                return False
        try:
            with tracing.span("agentsocket.store.start_run"):
                started = await store.start_run_with_message(
                    user,
                    message.thread_id,
                    agent,
                    message.content,
                    client_message_id=message.client_message_id,
                    metadata=message.metadata,
                    title=None if message.thread_id is not None else _title(message.content),
                    run_id=run_id,
                )
        except BaseException:
            if claimed is not None and message.thread_id is not None:
                await self._give_up(message.thread_id, run_id, claimed)
            raise
        if claimed is not None and message.thread_id is not None and not started.created:
            await self._give_up(message.thread_id, run_id, claimed)  # a resend after all
            claimed = None
        run = started.run
        span.set("agentsocket.run_id", run.id)
        span.set("agentsocket.thread_id", run.thread_id)
        launch = RunRequest(
            run.id,
            user,
            run.thread_id,
            agent,
            message.content,
            accepted_at,
            answerable=request.answerable,
        )
        admission = claimed
        if started.created and admission is None:
            # A new thread: nobody else knows it yet, so this always starts.
            admission = await self.line.admit(launch, policy, depth)
            if admission.kind in ("busy", "full"):
                await self._end_unrun(launch, "thread_busy")
                self._busy(request, run.thread_id, admission)
                return False
        if started.new_thread and started.thread is not None:
            await request.send(s.ThreadCreated(thread=thread_info(started.thread)))
        queued = admission is not None and admission.kind == "queued"
        await request.send(
            s.MessageReceived(
                message_id=started.message.id if started.message else "",
                thread_id=run.thread_id,
                run_id=run.id,
                client_message_id=message.client_message_id,
                duplicate=not started.created,
                queued=queued and started.created,
            )
        )
        if not started.created:
            span.set("agentsocket.duplicate", True)
            return False
        if admission is None:
            return False
        if started.message is not None:
            await self._announce(request, started.message.id, run.id, run.thread_id, agent, message)
        log_extra = {"run_id": run.id, "thread_id": run.thread_id, "policy": policy}
        if queued:
            request.log.info("run queued behind the thread's run", extra=log_extra)
            if admission.interrupt is not None:
                await self._cancel(user, admission.interrupt, "interrupted")
            for superseded in admission.superseded:
                await self._end_unrun(superseded, "interrupted")
            return False
        request.log.info("run accepted", extra=log_extra)
        try:
            await self.executor.launch(launch, slot)
        except BaseException:
            await self._hand_on(run.thread_id, run.id)  # never started: the thread goes on
            raise
        return True

    async def _give_up(self, thread_id: str, run_id: str, admission: Admission) -> None:
        """Take back an admission whose message was not stored after all."""
        if admission.kind == "start":
            await self._hand_on(thread_id, run_id)
        else:
            # None: its turn came already; the starting node finds no row and skips it.
            await self.line.withdraw(thread_id, run_id)

    def _busy(self, request: Request, thread_id: str, admission: Admission) -> None:
        if admission.kind == "full":
            text = (
                f"thread {thread_id} has {self.gateway.settings.double_texting_queue_depth} "
                f"messages waiting behind run {admission.active}; wait for it to end"
            )
        else:
            text = f"thread {thread_id} is busy with run {admission.active}; wait or stop it"
        request.error(ErrorCode.CONFLICT, text, run_id=admission.active)

    async def _end_unrun(self, waiting: RunRequest, reason: str) -> None:
        """End a run that never started (superseded, stopped while waiting): stored, then
        ``agent_cancelled`` into the user's stream."""
        outcome = RunOutcome(
            run_id=waiting.run_id,
            user_id=waiting.user_id,
            thread_id=waiting.thread_id,
            agent_name=waiting.agent,
            status="cancelled",
            text="",
            duration_ms=0.0,
            reason=reason,
        )
        self.gateway.metrics.runs.labels("cancelled").inc()
        await persist_outcome(self.gateway.get_store(), outcome)
        event = s.AgentCancelled(
            run_id=waiting.run_id,
            thread_id=waiting.thread_id,
            agent_name=waiting.agent,
            reason=reason,
        )
        await self.gateway.publish(waiting.user_id, event)

    async def _hand_on(self, thread_id: str, run_id: str) -> None:
        """``run_id`` has ended: start the next run waiting on its thread, if any."""
        await self._launch_next(await self._free(thread_id, run_id))

    async def _free(self, thread_id: str, run_id: str) -> RunRequest | None:
        """Free the thread of ``run_id`` (before its end is out: a client that sees the end
        may send again at once); the next run, now the thread's, or None."""
        try:
            return await next_stored(self.line, self.gateway.get_store(), thread_id, run_id)
        except Exception:
            log.exception("could not hand the thread on", extra={"run_id": run_id})
            return None

    async def _launch_next(self, following: RunRequest | None) -> None:
        while following is not None:
            extra = {"run_id": following.run_id, "thread_id": following.thread_id}
            if self._started:
                log.info("starting the next run of the thread", extra=extra)
                try:
                    await self.executor.launch(following)
                    return
                except Exception:
                    log.exception("could not start the thread's next run", extra=extra)
                    reason = "not_started"
            else:
                # Shutting down: nothing starts here any more, and no other node knows
                # these; they end now (the client can send again).
                reason = "shutdown"
            # Ended unrun, so the thread is not held by a run that will never end.
            try:
                await self._end_unrun(following, reason)
            except Exception:
                log.exception("could not end a run that never started", extra=extra)
            following = await self._free(following.thread_id, following.run_id)

    async def _ended(self, outcome: RunOutcome) -> None:
        # After the end is out, so the next run's events follow it in the stream.
        await self._launch_next(self._following.pop(outcome.run_id, None))

    async def _announce(
        self,
        request: Request,
        message_id: str,
        run_id: str,
        thread_id: str,
        agent: str,
        message: c.UserMessage,
    ) -> None:
        """The question, for every connection of the user: the run's first stream message.

        A stream that cannot take it does not stop the run (stored, acknowledged):
        its question is in the thread's history.
        """
        accepted = s.UserMessageAccepted(
            message_id=message_id,
            thread_id=thread_id,
            run_id=run_id,
            agent_name=agent,
            content=message.content,
            client_message_id=message.client_message_id,
        )
        try:
            await request.send(accepted)
        except BrokerUnavailable:
            request.log.warning(
                "stream unavailable: question not announced", extra={"run_id": run_id}
            )

    async def stop(self, request: Request, message: c.StopAgent) -> None:
        """Cancel a run of this user, running or waiting; ``agent_cancelled`` is the answer."""
        user = request.user_id
        if await self._cancel(user, message.run_id, "user_request"):
            return
        try:
            run = await self.gateway.get_store().get_run(user, message.run_id)
        except NotFound:
            run = None
        waiting = None
        if run is not None and run.status == "running":
            waiting = await self.line.withdraw(run.thread_id, run.id)
        if waiting is None or waiting.user_id != user:
            request.error(ErrorCode.NOT_FOUND, "no such running run")
            return
        await self._end_unrun(waiting, "user_request")

    async def _cancel(self, user: str, run_id: str, reason: str) -> bool:
        """Stop one of the user's runs wherever it runs, or a paused one nobody holds."""
        if await self.executor.cancel(user, run_id, reason):
            return True
        try:
            run = await self.gateway.get_store().get_run(user, run_id)
        except NotFound:
            return False
        if run.status != "running" or not await self.interrupts.dormant(run.id):
            return False
        # Paused, and no process holds it since its own died: it ends here.
        await self._end_unrun(RunRequest(run.id, user, run.thread_id, run.agent_name, ""), reason)
        await self._hand_on(run.thread_id, run.id)
        return True

    async def approve(self, request: Request, message: c.ToolApproval) -> None:
        """Answer a pending tool approval of this user's run, once, from any node."""
        try:
            await self.interrupts.answer(
                request.user_id,
                request.connection_id,
                message.run_id,
                message.tool_call_id,
                "approval",
                approved=message.approved,
                reason=message.reason,
                arguments=message.arguments,
            )
        except AnswerRefused as exc:
            _refuse(request, exc)

    async def answer(self, request: Request, message: c.QuestionAnswer) -> None:
        """Answer a pending question of this user's run, once, from any node."""
        try:
            await self.interrupts.answer(
                request.user_id,
                request.connection_id,
                message.run_id,
                message.question_id,
                "question",
                answer=message.answer,
            )
        except AnswerRefused as exc:
            _refuse(request, exc)

    async def _finished(self, outcome: RunOutcome) -> None:
        self.gateway.metrics.runs.labels(outcome.status).inc()
        await persist_outcome(self.gateway.get_store(), outcome)
        following = await self._free(outcome.thread_id, outcome.run_id)
        if following is not None:
            self._following[outcome.run_id] = following

    async def _lost(self, info: RunInfo) -> None:
        self.gateway.metrics.runs.labels("error").inc()
        await persist_outcome(self.gateway.get_store(), lost_run_outcome(info))
        following = await self._free(info.thread_id, info.run_id)
        if following is not None:
            self._following[info.run_id] = following

    async def _lost_paused(self, info: RunInfo) -> bool:
        return await self.interrupts.lost(info.run_id)

    async def _lost_ended(self, info: RunInfo) -> None:
        # After the lost run's end is out, so the next run's events follow it.
        await self._launch_next(self._following.pop(info.run_id, None))

    async def _append_timeline(self, run_id: str, items: Sequence[TimelineItem]) -> None:
        await self.gateway.get_store().append_timeline(run_id, items)

    async def _timeline_position(self, run_id: str) -> int:
        return await self.gateway.get_store().timeline_position(run_id)

    async def _history(self, user_id: str, thread_id: str) -> Sequence[Turn]:
        return await thread_history(self.gateway.get_store())(user_id, thread_id)

    async def _search(self, user_id: str, query: str) -> list[str]:
        return await history_search(self.gateway.get_store())(user_id, query)


def _refuse(request: Request, refused: AnswerRefused) -> None:
    issues = tuple(
        FieldIssue(f"{request.data_path}.{path}", reason) for path, reason in refused.issues
    )
    request.error(refused.code, refused.message, issues=issues)


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"
