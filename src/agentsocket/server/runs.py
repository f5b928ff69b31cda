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
from agentsocket.runs.lease import NodeLease, gateway_owner
from agentsocket.runs.metrics import RunObserver
from agentsocket.runs.reaper import lost_run_error
from agentsocket.server.context import Request
from agentsocket.server.services import Services
from agentsocket.server.views import thread_info
from agentsocket.store import TimelineItem

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
        if settings.runs == "queue":
            self.executor = QueueExecutor(
                settings.redis_url,
                settings.redis_prefix,
                gateway.publish,
                self._lost,
                queue_timeout=settings.run_queue_timeout,
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
                observer=RunObserver(gateway.metrics.run, self.agents),
            )
        #: Ends of runs a crashed predecessor left, per user, sent at the user's next connect.
        self._orphans: dict[str, list[s.AgentError]] = {}

    async def start(self) -> None:
        settings = self.gateway.settings
        if settings.runs == "local" and settings.broker == "memory" and not self._started:
            await self._end_orphans()
        await self.executor.start()
        self._started = True

    async def connected(self, user_id: str) -> None:
        """A connection of the user is subscribed: tell it about runs lost in a crash.

        With the memory broker the stream died with the process, so a resuming
        client's old position only gets ``stream_gap``; these ends go out as
        live entries after it, once, to every connection of the user.
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

    async def shutdown(self) -> None:
        """Stop the executor (local runs end with agent_cancelled ``shutdown``), then close
        the agents (their optional ``aclose()``); once."""
        if self._started:
            self._started = False
            await self.executor.close()
        if not self._closed:
            self._closed = True
            await self.agents.aclose()

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
        """Store the message with its run and launch it in ``slot``; False if not launched."""
        gateway, user = self.gateway, request.user_id
        with tracing.span("agentsocket.store.start_run"):
            started = await gateway.get_store().start_run_with_message(
                user,
                message.thread_id,
                agent,
                message.content,
                client_message_id=message.client_message_id,
                metadata=message.metadata,
                title=None if message.thread_id is not None else _title(message.content),
            )
        run = started.run
        span.set("agentsocket.run_id", run.id)
        span.set("agentsocket.thread_id", run.thread_id)
        if started.new_thread and started.thread is not None:
            await request.send(s.ThreadCreated(thread=thread_info(started.thread)))
        await request.send(
            s.MessageReceived(
                message_id=started.message.id if started.message else "",
                thread_id=run.thread_id,
                run_id=run.id,
                client_message_id=message.client_message_id,
                duplicate=not started.created,
            )
        )
        if not started.created:
            span.set("agentsocket.duplicate", True)
            return False
        request.log.info("run accepted", extra={"run_id": run.id, "thread_id": run.thread_id})
        if started.message is not None:
            await self._announce(request, started.message.id, run.id, run.thread_id, agent, message)
        await self.executor.launch(
            RunRequest(run.id, user, run.thread_id, agent, message.content, accepted_at), slot
        )
        return True

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
        """Cancel a run of this user; ``agent_cancelled`` is the answer."""
        if not await self.executor.cancel(request.user_id, message.run_id):
            request.error(ErrorCode.NOT_FOUND, "no such running run")

    async def approve(self, request: Request, message: c.ToolApproval) -> None:
        """Answer a pending tool approval of this user's run."""
        resolved = await self.executor.approve(
            request.user_id, message.run_id, message.tool_call_id, message.approved, message.reason
        )
        if not resolved:
            request.error(ErrorCode.NOT_FOUND, "no such pending approval")

    async def _finished(self, outcome: RunOutcome) -> None:
        self.gateway.metrics.runs.labels(outcome.status).inc()
        await persist_outcome(self.gateway.get_store(), outcome)

    async def _lost(self, info: RunInfo) -> None:
        self.gateway.metrics.runs.labels("error").inc()
        await persist_outcome(self.gateway.get_store(), lost_run_outcome(info))

    async def _append_timeline(self, run_id: str, items: Sequence[TimelineItem]) -> None:
        await self.gateway.get_store().append_timeline(run_id, items)

    async def _history(self, user_id: str, thread_id: str) -> Sequence[Turn]:
        return await thread_history(self.gateway.get_store())(user_id, thread_id)

    async def _search(self, user_id: str, query: str) -> list[str]:
        return await history_search(self.gateway.get_store())(user_id, query)


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"
