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
besides, for a rate that does not depend on the chunking. Both are added in
batches of :data:`TOKEN_BATCH` and at the run's end, as each addition takes a lock.

Times measured from "accepted" (``RunRequest.accepted_at``: the gateway took
the ``user_message``) to an event being published into the user's stream
span processes in queue mode (gateway, then worker): they compare wall
clocks, so keep the hosts' clocks synchronised (NTP). Everything else uses
the monotonic clock of the process that runs the agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, cast

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
    AgentQuestion,
    AgentStarted,
    InterruptResolved,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
)

__all__ = ["OTHER", "RunMetrics", "RunObserver", "declared_tools"]

#: Tokens a run counts before adding them to the token and character counters (and
#: at its end): a scrape sees a running run's output at most this many tokens late.
TOKEN_BATCH = 32

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
            "Tool approvals and agent questions waiting for the user in this process.",
            registry=r,
        )
        self.approval_wait = Histogram(
            "agentsocket_approval_wait_seconds",
            "From tool_approval_required or agent_question to its resolution: approved, "
            "denied (or expired), answered or expired (a question), or ended (the run ended "
            "first).",
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
        self._tool_children: dict[tuple[str, str], Any] = {}

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

    def tool_child(self, tool_name: str, status: str) -> Any:
        """The tool histogram's child for a call, looked up once per (tool, status)."""
        key = (tool_name, status)
        child = self._tool_children.get(key)
        if child is None:
            labels = (self.tool_label(tool_name), status)
            child = self._tool_children[key] = self.metrics.tool_duration.labels(*labels)
        return child


_TERMINAL = frozenset({AgentCompleted, AgentError, AgentCancelled})
_OUTCOMES = {AgentCompleted: "completed", AgentError: "error", AgentCancelled: "cancelled"}


class _ObservedSink:
    """A run's sink that records metrics once each event is through.

    Events are told apart by ``type(event)``, not ``isinstance``: pydantic's
    ``isinstance`` costs about a microsecond, and deltas come by the hundred.
    """

    def __init__(self, observer: RunObserver, request: RunRequest, sink: EventSink) -> None:
        metrics = observer.metrics
        self._observer = observer
        self._metrics = metrics
        self._sink = sink
        self._run_id = request.run_id
        self._agent = agent = observer.agent_label(request.agent)
        self._accepted_at = request.accepted_at
        self._tokens = metrics.tokens.labels(agent)
        self._characters = metrics.characters.labels(agent)
        self._started: float | None = None  # monotonic, at agent_started
        self._token_count = 0
        self._unreported = 0  # tokens counted here, not yet added to the counters
        self._unreported_chars = 0
        self._first_token: float | None = None  # monotonic
        self._last_token = 0.0
        #: Approvals and questions not resolved yet: their id -> monotonic time asked.
        self._approvals: dict[str, float] = {}

    async def emit(self, event: AgentEvent) -> None:
        kind = type(event)
        try:
            await self._sink.emit(event)
            if kind is AgentMessageDelta:
                if event.run_id == self._run_id:
                    self._token(cast(AgentMessageDelta, event))
            elif kind is ToolCompleted:
                self._tool_completed(cast(ToolCompleted, event))
            elif kind is ToolExecuting:
                self._decided(cast(ToolExecuting, event).tool_call_id, "approved")
            elif kind is ToolApprovalRequired:
                self._asked(cast(ToolApprovalRequired, event).tool_call_id)
            elif kind is AgentQuestion:
                self._asked(cast(AgentQuestion, event).question_id)
            elif kind is InterruptResolved:
                self._resolved(cast(InterruptResolved, event))
            elif kind is AgentStarted and event.run_id == self._run_id:
                self._started = time.monotonic()
                self._metrics.in_progress.labels(self._agent).inc()
                self._since_accepted(self._metrics.first_event)
        finally:
            if kind in _TERMINAL and event.run_id == self._run_id:
                self._ended(event)

    def _token(self, event: AgentMessageDelta) -> None:
        now = time.monotonic()
        self._token_count += 1
        if self._first_token is None:
            self._first_token = now
            self._since_accepted(self._metrics.first_token)
        self._last_token = now
        # The counters take a lock per call: add to them in batches, not per token.
        self._unreported += 1
        self._unreported_chars += len(event.content)
        if self._unreported >= TOKEN_BATCH:
            self._report_tokens()

    def _report_tokens(self) -> None:
        if self._unreported:
            self._tokens.inc(self._unreported)
            self._characters.inc(self._unreported_chars)
            self._unreported = self._unreported_chars = 0

    def _tool_completed(self, event: ToolCompleted) -> None:
        self._decided(event.tool_call_id, "denied")
        self._observer.tool_child(event.tool_name, event.status).observe(event.duration_ms / 1000)

    def _ended(self, event: AgentEvent) -> None:
        metrics, agent = self._metrics, self._agent
        now = time.monotonic()
        self._report_tokens()
        for asked in self._approvals.values():
            metrics.approvals_pending.dec()
            metrics.approval_wait.labels("ended").observe(now - asked)
        self._approvals.clear()
        if self._started is None:
            return  # agent_started never went out: nothing was counted in progress
        metrics.in_progress.labels(agent).dec()
        metrics.duration.labels(agent, _OUTCOMES[type(event)]).observe(now - self._started)
        self._started = None
        if isinstance(event, AgentError):
            code = event.code if event.code in _ERROR_CODES else OTHER
            metrics.errors.labels(agent, code).inc()
        if self._token_count >= 2 and self._first_token is not None:
            elapsed = self._last_token - self._first_token
            if elapsed > 0:
                metrics.token_rate.labels(agent).observe((self._token_count - 1) / elapsed)

    def _asked(self, interrupt_id: str) -> None:
        if interrupt_id not in self._approvals:
            self._approvals[interrupt_id] = time.monotonic()
            self._metrics.approvals_pending.inc()

    def _resolved(self, event: InterruptResolved) -> None:
        if event.kind == "approval":
            decision = "approved" if event.approved else "denied"
        else:
            decision = "answered" if event.resolution == "answered" else "expired"
        self._decided(event.interrupt_id, decision)

    def _decided(self, tool_call_id: str, decision: str) -> None:
        asked = self._approvals.pop(tool_call_id, None)
        if asked is not None:
            self._metrics.approvals_pending.dec()
            self._metrics.approval_wait.labels(decision).observe(time.monotonic() - asked)

    def _since_accepted(self, histogram: Histogram) -> None:
        if self._accepted_at is not None:
            wait = max(0.0, time.time() - self._accepted_at)
            histogram.labels(self._agent).observe(wait)
