"""From ``user_message`` to a finished run: thread, idempotency, limits, events, storage.

Each accepted message is stored, acknowledged (``message_received``) and
then run by the executor (in this process, or by a worker); the run's events
go into the user's stream, so every connection of the user, on any node, sees
them in order and can resume them. The run and its final answer are stored
before its terminal event is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentsocket.agents import (
    Agent,
    DemoAgent,
    OpenAIChatAgent,
    RunOutcome,
    SearchFunc,
    search_history_tool,
)
from agentsocket.agents.history import HistoryLoader, Turn
from agentsocket.delivery.run_queue import RunInfo, RunRequest
from agentsocket.protocol import ErrorCode
from agentsocket.protocol import client_messages as c
from agentsocket.protocol import server_messages as s
from agentsocket.server.context import Request
from agentsocket.server.executors import (
    Executor,
    LocalExecutor,
    QueueExecutor,
    lost_run_outcome,
)
from agentsocket.server.services import Services
from agentsocket.server.views import thread_info
from agentsocket.store import Store

if TYPE_CHECKING:
    from agentsocket.server.settings import Settings

log = logging.getLogger("agentsocket.runs")

_TITLE_LENGTH = 60
#: Seconds between the demo agent's streamed chunks, so streaming is visible.
_DEMO_CHUNK_DELAY = 0.01


def build_agents(
    settings: Settings, search: SearchFunc, history: HistoryLoader | None = None
) -> dict[str, Agent]:
    """The agents offered: the demo always, an OpenAI-compatible one if configured."""
    agents: dict[str, Agent] = {"demo": DemoAgent(search=search, delay=_DEMO_CHUNK_DELAY)}
    if settings.openai_base_url:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        agents["openai"] = OpenAIChatAgent(
            settings.openai_base_url,
            settings.openai_model,
            key,
            tools=[search_history_tool(search)],
            name="openai",
            history=history,
        )
    return agents


def history_search(store: Store) -> SearchFunc:
    """The demo agent's search over one user's own stored messages."""

    async def search(user_id: str, query: str) -> list[str]:
        return [m.content for m in await store.search_messages(user_id, query, limit=5)]

    return search


def thread_history(store: Store) -> HistoryLoader:
    """The OpenAI agent's view of a thread: its newest stored messages, oldest first."""

    async def load(user_id: str, thread_id: str) -> list[Turn]:
        # Room beyond the agent's default cap of 20 for the current and queued prompts.
        page = await store.history(user_id, thread_id, limit=100)
        return [(m.role, m.content, m.run_id) for m in page.messages]

    return load


async def persist_outcome(store: Store, outcome: RunOutcome) -> None:
    """Store a finished run and, if it completed, its answer."""
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
        log.exception("could not store the end of a run", extra={"run_id": outcome.run_id})


class RunService:
    """Accepts, stops and answers approvals for the runs of this node's users."""

    def __init__(self, gateway: Services) -> None:
        self.gateway = gateway
        settings = gateway.settings
        self._started = False
        self.agent_names = {"demo"} | ({"openai"} if settings.openai_base_url else set())
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
                build_agents(settings, self._search, self._history),
                gateway.publish,
                self._finished,
                timeout=settings.run_timeout,
                approval_timeout=settings.approval_timeout,
            )

    async def start(self) -> None:
        await self.executor.start()
        self._started = True

    async def shutdown(self) -> None:
        """Stop the executor once (local runs end with agent_cancelled ``shutdown``)."""
        if self._started:
            self._started = False
            await self.executor.close()

    async def submit(self, request: Request, message: c.UserMessage) -> None:
        """Store a user message, acknowledge it and start its run (once per client_message_id)."""
        gateway, user = self.gateway, request.user_id
        store = gateway.get_store()
        agent = message.agent or gateway.settings.default_agent
        if agent not in self.agent_names:
            request.error(ErrorCode.NOT_FOUND, f"no agent {agent!r}")
            return
        limit = gateway.settings.max_runs_per_user
        if await self.executor.running_count(user) >= limit:
            request.error(ErrorCode.TOO_MANY_RUNS, f"at most {limit} runs at once")
            return
        if message.thread_id is not None:
            thread = await store.get_thread(user, message.thread_id)
        else:
            thread = await store.create_thread(user, _title(message.content))
            await request.send(s.ThreadCreated(thread=thread_info(thread)))
        run, created = await store.start_run(user, thread.id, agent, message.client_message_id)
        if not created:
            stored = await store.find_run_message(user, run.id)
            await request.send(
                s.MessageReceived(
                    message_id=stored.id if stored else "",
                    thread_id=run.thread_id,
                    run_id=run.id,
                    client_message_id=message.client_message_id,
                    duplicate=True,
                )
            )
            return
        stored = await store.add_message(
            user, thread.id, "user", message.content, run_id=run.id, metadata=message.metadata
        )
        await request.send(
            s.MessageReceived(
                message_id=stored.id,
                thread_id=thread.id,
                run_id=run.id,
                client_message_id=message.client_message_id,
            )
        )
        request.log.info("run accepted", extra={"run_id": run.id, "thread_id": thread.id})
        await self.executor.launch(RunRequest(run.id, user, thread.id, agent, message.content))

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

    async def _history(self, user_id: str, thread_id: str) -> Sequence[Turn]:
        return await thread_history(self.gateway.get_store())(user_id, thread_id)

    async def _search(self, user_id: str, query: str) -> list[str]:
        return await history_search(self.gateway.get_store())(user_id, query)


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1] + "…"
