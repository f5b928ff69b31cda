"""From ``user_message`` to a finished run: thread, idempotency, limits, events, storage.

Each accepted message is stored, acknowledged (``message_received``) and
then run; the run's events go into the user's stream, so every connection of
the user, on any node, sees them in order and can resume them. The run and
its final answer are stored before its terminal event is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agentsocket.agents import (
    Agent,
    DemoAgent,
    OpenAIChatAgent,
    Runner,
    RunOutcome,
    SearchFunc,
    search_history_tool,
)
from agentsocket.protocol import ErrorCode, ProtocolError
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.server_messages import AgentEvent
from agentsocket.server.router import thread_info

if TYPE_CHECKING:
    from agentsocket.server.gateway import Gateway
    from agentsocket.server.session import Session
    from agentsocket.server.settings import Settings

log = logging.getLogger("agentsocket.runs")

_TITLE_LENGTH = 60
#: Seconds between the demo agent's streamed chunks, so streaming is visible.
_DEMO_CHUNK_DELAY = 0.01


def build_agents(settings: Settings, search: SearchFunc) -> dict[str, Agent]:
    """The agents this gateway offers: the demo always, an OpenAI-compatible one if configured."""
    agents: dict[str, Agent] = {"demo": DemoAgent(search=search, delay=_DEMO_CHUNK_DELAY)}
    if settings.openai_base_url:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        agents["openai"] = OpenAIChatAgent(
            settings.openai_base_url,
            settings.openai_model,
            key,
            tools=[search_history_tool(search)],
            name="openai",
        )
    return agents


class StreamSink:
    """An agent's event sink that appends each event to its user's stream."""

    def __init__(self, gateway: Gateway, user_id: str) -> None:
        self._gateway = gateway
        self._user_id = user_id

    async def emit(self, event: AgentEvent) -> None:
        await self._gateway.publish(self._user_id, event)


class RunService:
    """Starts, stops and answers approvals of the runs of this node's users."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        settings = gateway.settings
        self.agents: dict[str, Agent] = build_agents(settings, self._search_history)
        self.runner = Runner(
            timeout=settings.run_timeout,
            approval_timeout=settings.approval_timeout,
            on_finish=self._finished,
        )

    async def submit(self, session: Session, message: c.UserMessage, cid: str | None) -> None:
        """Store a user message, acknowledge it and start its run (once per client_message_id)."""
        gateway, user = self.gateway, session.user_id
        store = gateway.get_store()
        agent = self.agents.get(message.agent or gateway.settings.default_agent)
        if agent is None:
            self._refuse(session, ErrorCode.NOT_FOUND, f"no agent {message.agent!r}", cid)
            return
        if self.runner.running_count(user) >= gateway.settings.max_runs_per_user:
            limit = gateway.settings.max_runs_per_user
            self._refuse(session, ErrorCode.TOO_MANY_RUNS, f"at most {limit} runs at once", cid)
            return
        if message.thread_id is not None:
            thread = await store.get_thread(user, message.thread_id)
        else:
            thread = await store.create_thread(user, _title(message.content))
            await gateway.publish(user, s.ThreadCreated(thread=thread_info(thread)), cid)
        run, created = await store.start_run(user, thread.id, agent.name, message.client_message_id)
        if not created:
            stored = await store.find_run_message(user, run.id)
            session.connection.reply(
                s.MessageReceived(
                    message_id=stored.id if stored else "",
                    thread_id=run.thread_id,
                    run_id=run.id,
                    client_message_id=message.client_message_id,
                    duplicate=True,
                ),
                cid,
            )
            return
        stored = await store.add_message(
            user, thread.id, "user", message.content, run_id=run.id, metadata=message.metadata
        )
        session.connection.reply(
            s.MessageReceived(
                message_id=stored.id,
                thread_id=thread.id,
                run_id=run.id,
                client_message_id=message.client_message_id,
            ),
            cid,
        )
        self.runner.start(
            user, thread.id, agent, message.content, run.id, StreamSink(gateway, user)
        )

    async def stop(self, session: Session, message: c.StopAgent, cid: str | None) -> None:
        """Cancel a run of this user; ``agent_cancelled`` is the answer."""
        if not self.runner.cancel(message.run_id, user_id=session.user_id):
            self._refuse(session, ErrorCode.NOT_FOUND, "no such running run", cid)

    async def approve(self, session: Session, message: c.ToolApproval, cid: str | None) -> None:
        """Answer a pending tool approval of this user's run."""
        resolved = self.runner.resolve_approval(
            message.run_id,
            message.tool_call_id,
            message.approved,
            message.reason,
            user_id=session.user_id,
        )
        if not resolved:
            self._refuse(session, ErrorCode.NOT_FOUND, "no such pending approval", cid)

    async def shutdown(self) -> None:
        await self.runner.shutdown("shutdown")

    async def _finished(self, outcome: RunOutcome) -> None:
        store = self.gateway.get_store()
        self.gateway.metrics.runs.labels(outcome.status).inc()
        try:
            if outcome.status == "completed" and outcome.text:
                await store.add_message(
                    outcome.user_id,
                    outcome.thread_id,
                    "assistant",
                    outcome.text,
                    run_id=outcome.run_id,
                )
            await store.finish_run(
                outcome.run_id, outcome.status, outcome.error_code, outcome.error_message
            )
        except Exception:
            log.exception("could not store the end of run", extra={"run_id": outcome.run_id})

    async def _search_history(self, user_id: str, query: str) -> list[str]:
        found = await self.gateway.get_store().search_messages(user_id, query, limit=5)
        return [m.content for m in found]

    def _refuse(self, session: Session, code: ErrorCode, text: str, cid: str | None) -> None:
        session.router.send_error(session, ProtocolError(code, text, (), cid))


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"
