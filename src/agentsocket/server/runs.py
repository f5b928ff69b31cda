"""From ``user_message`` to a finished run: the gateway's side of :mod:`agentsocket.runs`.

Each accepted message is stored with its run (one transaction), acknowledged
(``message_received``) and then run by the executor (in this process, or by
a worker); the run's events go into the user's stream, so every connection
of the user, on any node, sees them in order and can resume them. The run
and its final answer are stored before its terminal event is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from agentsocket.agents import RunOutcome
from agentsocket.agents.history import Turn
from agentsocket.delivery.run_queue import RunInfo, RunRequest
from agentsocket.protocol import ErrorCode, FieldIssue, ProtocolError
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
from agentsocket.server.router import thread_info

if TYPE_CHECKING:
    from agentsocket.server.gateway import Gateway
    from agentsocket.server.session import Session

log = logging.getLogger("agentsocket.runs")

_TITLE_LENGTH = 60


class RunService:
    """Accepts, stops and answers approvals for the runs of this node's users.

    Args:
        agents: agents given in code, besides those the settings name
            (:func:`agentsocket.runs.build_agent_set`).

    Raises:
        AgentSpecError: an agent cannot be loaded, or names clash.
    """

    def __init__(self, gateway: Gateway, agents: Iterable[object] = ()) -> None:
        self.gateway = gateway
        settings = gateway.settings
        self._started = False
        self.agents: AgentSet = build_agent_set(settings, agents, search=self._search)
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
            self.executor = LocalExecutor(
                self.agents,
                gateway.publish,
                self._finished,
                timeout=settings.run_timeout,
                approval_timeout=settings.approval_timeout,
                cancel_grace=settings.agent_cancel_grace,
                history=self._history,
            )

    async def start(self) -> None:
        await self.executor.start()
        self._started = True

    async def shutdown(self) -> None:
        """Stop the executor once (local runs end with agent_cancelled ``shutdown``)."""
        if self._started:
            self._started = False
            await self.executor.close()

    async def submit(self, session: Session, message: c.UserMessage, cid: str | None) -> None:
        """Store a user message with its run, acknowledge it and start the run (once per
        client_message_id)."""
        gateway, user = self.gateway, session.user_id
        agent = message.agent or self.agents.default
        if agent not in self.agents:
            available = self.agents.listing()
            path = f"{session.connection.version.data_path}.agent"
            issue = FieldIssue(path, f"unknown agent; available: {available}")
            why = f"no agent {agent!r}; available: {available}"
            session.router.send_error(
                session, ProtocolError(ErrorCode.NOT_FOUND, why, (issue,), cid)
            )
            return
        limit = gateway.settings.max_runs_per_user
        if await self.executor.running_count(user) >= limit:
            self._refuse(session, ErrorCode.TOO_MANY_RUNS, f"at most {limit} runs at once", cid)
            return
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
        if started.new_thread and started.thread is not None:
            await gateway.publish(user, s.ThreadCreated(thread=thread_info(started.thread)), cid)
        session.connection.reply(
            s.MessageReceived(
                message_id=started.message.id if started.message else "",
                thread_id=run.thread_id,
                run_id=run.id,
                client_message_id=message.client_message_id,
                duplicate=not started.created,
            ),
            cid,
        )
        if not started.created:
            return
        log.info(
            "run accepted",
            extra={
                "connection_id": session.connection.id,
                "correlation_id": cid,
                "run_id": run.id,
                "thread_id": run.thread_id,
            },
        )
        await self.executor.launch(RunRequest(run.id, user, run.thread_id, agent, message.content))

    async def stop(self, session: Session, message: c.StopAgent, cid: str | None) -> None:
        """Cancel a run of this user; ``agent_cancelled`` is the answer."""
        if not await self.executor.cancel(session.user_id, message.run_id):
            self._refuse(session, ErrorCode.NOT_FOUND, "no such running run", cid)

    async def approve(self, session: Session, message: c.ToolApproval, cid: str | None) -> None:
        """Answer a pending tool approval of this user's run."""
        resolved = await self.executor.approve(
            session.user_id, message.run_id, message.tool_call_id, message.approved, message.reason
        )
        if not resolved:
            self._refuse(session, ErrorCode.NOT_FOUND, "no such pending approval", cid)

    async def _finished(self, outcome: RunOutcome) -> None:
        self.gateway.metrics.runs.labels(outcome.status).inc()
        await persist_outcome(self.gateway.get_store(), outcome)

    async def _lost(self, info: RunInfo) -> None:
        self.gateway.metrics.runs.labels("error").inc()
        await persist_outcome(self.gateway.get_store(), lost_run_outcome(info))

    async def _history(self, user_id: str, thread_id: str) -> Sequence[Turn]:
        return await thread_history(self.gateway.get_store())(user_id, thread_id)

    async def _search(self, user_id: str, query: str) -> list[str]:
        return await history_search(self.gateway.get_store())(user_id, query)

    def _refuse(self, session: Session, code: ErrorCode, text: str, cid: str | None) -> None:
        session.router.send_error(session, ProtocolError(code, text, (), cid))


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"
