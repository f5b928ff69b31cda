"""Prometheus metrics of agent runs, recorded where the run executes.

One :class:`RunMetrics` per registry holds the metrics; one
:class:`RunObserver` per agent set knows which label values are allowed
and wraps each run's event sink (:meth:`RunObserver.watch`). Everything is
read off the events the run emits, so the run path needs one call and
agents need nothing::

    observer = RunObserver(RunMetrics(registry), agents)
    sink = observer.watch(request, sink)        # before Runner.start
    observer.dequeued(request)                  # a worker, when it takes a queued run

Label values never come from clients: ``agent`` is a name of the configured
agent set, ``tool`` a tool one of those agents declares (its ``tools``, and
its ``specialists``' tools), ``outcome``, ``code`` and ``decision`` values of
our own enums. Anything else is ``other``: an LLM can be talked into calling
a tool name of the user's choosing.

What a "token" is: agents report no token usage, so one ``agent_message_delta``
of the run (not of its sub-runs) counts as one token. A streaming LLM agent
sends one delta per chunk, about one model token; the demo agent one per
``chunk`` characters. ``agentsocket_run_output_characters`` counts characters
besides, for a rate that does not depend on the chunking.

Times measured from "accepted" (``RunRequest.accepted_at``: the gateway took
the ``user_message``) to an event being published into the user's stream
span processes in queue mode (gateway, then worker): they compare wall
clocks, so keep the hosts' clocks synchronised (NTP). Everything else uses
the monotonic clock of the process that runs the agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agentsocket.agents.runtime import Agent, agent_tools
from agentsocket.agents.sink import EventSink
from agentsocket.delivery.run_queue import RunRequest
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentCompleted,
    AgentError,
    AgentEvent,
    AgentMessageDelta,
    AgentStarted,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
)

__all__ = ["OTHER", "RunMetrics", "RunObserver", "declared_tools"]

#: The label value of anything not from a fixed, configured set.
OTHER = "other"

#: Seconds until the user sees something: a person notices past ~0.1 s, gives up past ~10 s.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds a run takes: an answer from a demo agent to a long tool-using LLM run.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Seconds one tool call takes: an in-process function to a slow remote API.
TOOL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Tokens per second: slow local models stream ~5, hosted ones 50-200.
RATE_BUCKETS = (1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0)
#: Seconds a run waits for a worker; above the 30 s default queue timeout it ends no_worker.
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds a person takes to answer an approval (the default timeout is 120 s).
APPROVAL_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

_ERROR_CODES = frozenset(code.value for code in AgentErrorCode)


class RunMetrics:
    """The run metrics, registered on ``registry`` (the gateway's, or a worker's)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.first_event = Histogram(
            "agentsocket_run_first_event_seconds",
            "From the user_message accepted to the run's first event (agent_started) published.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "agentsocket_run_first_token_seconds",
            "From the user_message accepted to the run's first agent_message_delta published.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "agentsocket_run_duration_seconds",
            "From agent_started to the run's terminal event, by how it ended.",
            ["agent", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.in_progress = Gauge(
            "agentsocket_runs_in_progress",
            "Runs executing in this process (agent_started sent, no terminal event yet).",
            ["agent"],
            registry=r,
        )
        self.errors = Counter(
            "agentsocket_run_errors",
            "Runs that ended with agent_error, by its code (an AgentErrorCode value, else other).",
            ["agent", "code"],
            registry=r,
        )
        self.tokens = Counter(
            "agentsocket_run_output_tokens",
            "Answer tokens streamed: one agent_message_delta of a run (not of its sub-runs).",
            ["agent"],
            registry=r,
        )
        self.characters = Counter(
            "agentsocket_run_output_characters",
            "Characters of the answer streamed in agent_message_delta events.",
            ["agent"],
            registry=r,
        )
        self.token_rate = Histogram(
            "agentsocket_run_tokens_per_second",
            "A run's streaming rate: (tokens - 1) / seconds from its first to its last token; "
            "runs with fewer than 2 tokens are not observed.",
            ["agent"],
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.tool_duration = Histogram(
            "agentsocket_tool_duration_seconds",
            "A tool call's duration_ms from tool_completed, by tool and status "
            "(success, error, denied; a denied call's is the wait for the refusal).",
            ["tool", "outcome"],
            buckets=TOOL_BUCKETS,
            registry=r,
        )
        self.approvals_pending = Gauge(
            "agentsocket_approvals_pending",
            "Tool calls waiting for the user's tool_approval in this process.",
            registry=r,
        )
        self.approval_wait = Histogram(
            "agentsocket_approval_wait_seconds",
            "From tool_approval_required to the decision: approved, denied (or timed out), "
            "or ended (the run ended first).",
            ["decision"],
            buckets=APPROVAL_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "agentsocket_run_queue_wait_seconds",
            "Queue mode, recorded by the worker: from the gateway queueing a run to a worker "
            "taking it.",
            ["agent"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )


def declared_tools(agents: Iterable[Agent]) -> frozenset[str]:
    """The tool names ``agents`` declare: their ``tools`` and their ``specialists``' tools."""
    names: set[str] = set()
    pending = list(agents)
    seen: set[int] = set()
    while pending:
        agent = pending.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        names.update(agent_tools(agent))
        pending.extend(getattr(agent, "specialists", ()))
    return frozenset(names)


class RunObserver:
    """Records the metrics of the runs of one agent set, from their events.

    Args:
        metrics: where to record.
        agents: the configured agents; their names and declared tools are the
            only ``agent`` and ``tool`` label values (else ``other``).
    """

    def __init__(self, metrics: RunMetrics, agents: Iterable[Agent]) -> None:
        agents = list(agents)
        self.metrics = metrics
        self._agents = frozenset(agent.name for agent in agents)
        self._tools = declared_tools(agents)

    def agent_label(self, name: str) -> str:
        return name if name in self._agents else OTHER

    def tool_label(self, name: str) -> str:
        return name if name in self._tools else OTHER

    def watch(self, request: RunRequest, sink: EventSink) -> EventSink:
        """``sink``, recording the metrics of ``request``'s run from the events passing it."""
        return _ObservedSink(self, request, sink)

    def dequeued(self, request: RunRequest) -> None:
        """A worker took ``request`` from the queue: record how long it waited."""
        if request.queued_at is not None:
            wait = max(0.0, time.time() - request.queued_at)
            self.metrics.queue_wait.labels(self.agent_label(request.agent)).observe(wait)


@dataclass(slots=True)
class _RunState:
    agent: str
    accepted_at: float | None
    started: float | None = None  # monotonic, at agent_started
    tokens: int = 0
    first_token: float | None = None  # monotonic
    last_token: float | None = None
    #: Approvals asked and not decided yet: tool_call_id -> monotonic time asked.
    approvals: dict[str, float] = field(default_factory=dict)


class _ObservedSink:
    """A run's sink that records metrics once each event is through."""

    def __init__(self, observer: RunObserver, request: RunRequest, sink: EventSink) -> None:
        self._observer = observer
        self._metrics = observer.metrics
        self._sink = sink
        self._run_id = request.run_id
        self._run = _RunState(observer.agent_label(request.agent), request.accepted_at)

    async def emit(self, event: AgentEvent) -> None:
        root = event.run_id == self._run_id
        terminal = isinstance(event, AgentCompleted | AgentError | AgentCancelled)
        try:
            await self._sink.emit(event)
            self._record(event, root)
        finally:
            if root and terminal:
                self._ended(event)

    def _record(self, event: AgentEvent, root: bool) -> None:
        run, metrics = self._run, self._metrics
        now = time.monotonic()
        if isinstance(event, AgentStarted) and root:
            run.started = now
            metrics.in_progress.labels(run.agent).inc()
            self._since_accepted(metrics.first_event)
        elif isinstance(event, AgentMessageDelta) and root:
            run.tokens += 1
            if run.first_token is None:
                run.first_token = now
                self._since_accepted(metrics.first_token)
            run.last_token = now
            metrics.tokens.labels(run.agent).inc()
            metrics.characters.labels(run.agent).inc(len(event.content))
        elif isinstance(event, ToolApprovalRequired):
            if event.tool_call_id not in run.approvals:
                run.approvals[event.tool_call_id] = now
                metrics.approvals_pending.inc()
        elif isinstance(event, ToolExecuting):
            self._decided(event.tool_call_id, "approved", now)
        elif isinstance(event, ToolCompleted):
            self._decided(event.tool_call_id, "denied", now)
            tool = self._observer.tool_label(event.tool_name)
            metrics.tool_duration.labels(tool, event.status).observe(event.duration_ms / 1000)

    def _ended(self, event: AgentEvent) -> None:
        run, metrics = self._run, self._metrics
        now = time.monotonic()
        for asked in run.approvals.values():
            metrics.approvals_pending.dec()
            metrics.approval_wait.labels("ended").observe(now - asked)
        run.approvals.clear()
        if run.started is None:
            return  # agent_started never went out: nothing was counted in progress
        metrics.in_progress.labels(run.agent).dec()
        outcome = (
            "completed"
            if isinstance(event, AgentCompleted)
            else "error"
            if isinstance(event, AgentError)
            else "cancelled"
        )
        metrics.duration.labels(run.agent, outcome).observe(now - run.started)
        if isinstance(event, AgentError):
            code = event.code if event.code in _ERROR_CODES else OTHER
            metrics.errors.labels(run.agent, code).inc()
        if run.tokens >= 2 and run.first_token is not None and run.last_token is not None:
            elapsed = run.last_token - run.first_token
            if elapsed > 0:
                metrics.token_rate.labels(run.agent).observe((run.tokens - 1) / elapsed)
        run.started = None

    def _decided(self, tool_call_id: str, decision: str, now: float) -> None:
        asked = self._run.approvals.pop(tool_call_id, None)
        if asked is not None:
            self._metrics.approvals_pending.dec()
            self._metrics.approval_wait.labels(decision).observe(now - asked)

    def _since_accepted(self, histogram: Histogram) -> None:
        accepted = self._run.accepted_at
        if accepted is not None:
            histogram.labels(self._run.agent).observe(max(0.0, time.time() - accepted))
