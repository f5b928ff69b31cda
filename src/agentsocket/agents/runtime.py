"""What an agent is, and the context it works through.

An :class:`Agent` has a ``name`` and an async ``run(ctx, prompt)``. Everything
it shows the user goes through its :class:`RunContext`: thoughts, tool calls,
streamed text, sub-agents. The context turns each into protocol events; the
agent never sees a socket or a wire format::

    class Echo:
        name = "echo"

        async def run(self, ctx: RunContext, prompt: str) -> None:
            await ctx.think("Repeating the prompt")
            await ctx.say(prompt)

Runs are started by :class:`~agentsocket.agents.runner.Runner`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Protocol

from agentsocket import tracing
from agentsocket.agents.answers import check_schema, schema_errors
from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.history import ChatMessage, ChatTurn, Turn, before_run, chat_messages
from agentsocket.agents.pauses import Pause, PauseKind, Resolution
from agentsocket.agents.state import Decision, RunNode, RunTree, new_id
from agentsocket.agents.tool import (
    Tool,
    ToolContext,
    ToolResult,
    ToolStatus,
    describe_error,
    invoke,
    jsonable,
)
from agentsocket.protocol.codes import AgentErrorCode
from agentsocket.protocol.server_messages import (
    AgentCancelled,
    AgentError,
    AgentEvent,
    AgentMessage,
    AgentMessageDelta,
    AgentQuestion,
    AgentThinking,
    InterruptResolved,
    ToolApprovalRequired,
    ToolCompleted,
    ToolExecuting,
    Usage,
)

#: Characters per ``agent_message_delta`` for :meth:`RunContext.say`.
DEFAULT_CHUNK = 24

#: Characters of a tool name kept in a span (a name a model made up may be any length).
_MAX_TRACED_NAME = 64

#: Why a run continued after a restart fails when its agent does not do what it did before.
DIVERGED = "the agent, run again after a restart, did not ask what it had asked before"

#: A tool call id a client can send back in ``tool_approval`` (its ``Identifier``).
_ANSWERABLE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class Agent(Protocol):
    """Anything with a ``name`` and an async ``run``.

    An agent may also have a ``tools`` attribute (a sequence of
    :class:`~agentsocket.agents.tool.Tool`) to call them by name with
    :meth:`RunContext.tool`. ``run`` must let ``asyncio.CancelledError``
    propagate: that is how a run is cancelled.
    """

    @property
    def name(self) -> str: ...

    async def run(self, ctx: RunContext, prompt: str) -> None:
        """Do the work for ``prompt``, reporting through ``ctx``; return when done."""
        ...


def agent_tools(agent: Agent) -> dict[str, Tool]:
    """The tools ``agent`` offers by name (its optional ``tools`` attribute)."""
    tools: Sequence[Tool] = getattr(agent, "tools", ())
    return {tool.name: tool for tool in tools}


class RunContext:
    """An agent's handle on its run: every method emits protocol events.

    Obtained as the ``ctx`` argument of :meth:`Agent.run`, never built by hand.
    """

    def __init__(self, tree: RunTree, node: RunNode) -> None:
        self._tree = tree
        self._node = node

    @property
    def run_id(self) -> str:
        return self._node.run_id

    @property
    def parent_run_id(self) -> str | None:
        """The delegating run's id for a sub-agent, else None."""
        return self._node.parent_run_id

    @property
    def agent_name(self) -> str:
        return self._node.agent_name

    @property
    def thread_id(self) -> str:
        return self._tree.thread_id

    @property
    def user_id(self) -> str:
        return self._tree.user_id

    @property
    def text(self) -> str:
        """The run's answer so far: its messages, one paragraph each."""
        return self._node.text

    async def history(self) -> list[ChatTurn]:
        """The thread's earlier turns, oldest first, as ``{"role", "content"}`` dicts.

        ``role`` is ``"user"`` or ``"assistant"``, as chat APIs take them. The turns end before the
        prompt of this run (the ``prompt`` argument of ``run``), so an agent
        sends the history, then the prompt. Sub-agents see the same thread.
        Loaded once per run; empty when the runner was given no history loader.

        Raises:
            AgentFailure: ``agent_failed`` (retryable) if the history cannot be read.
        """
        tree = self._tree
        if tree.turns is None:
            tree.turns = before_run(await self._stored_turns(), tree.root.run_id)
        return [dict(turn) for turn in tree.turns]

    async def history_messages(self) -> list[ChatMessage]:
        """The thread's earlier turns, oldest first, in the chat-completions format.

        Like :meth:`history`, and each earlier run's own tool calls and results
        are included as the model had them: an ``assistant`` message with
        ``tool_calls``, then a ``tool`` message per call, before the run's answer.

        Raises:
            AgentFailure: ``agent_failed`` (retryable) if the history cannot be read.
        """
        return chat_messages(await self._stored_turns(), self._tree.root.run_id)

    async def _stored_turns(self) -> Sequence[Turn]:
        tree = self._tree
        if tree.stored_turns is None:
            if tree.history is None:
                return []
            try:
                tree.stored_turns = await tree.history(tree.user_id, tree.thread_id)
            except Exception as exc:
                raise AgentFailure(
                    AgentErrorCode.AGENT_FAILED,
                    f"could not load the thread's earlier messages: {describe_error(exc)}",
                    retryable=True,
                ) from exc
        return tree.stored_turns

    def report_usage(
        self, input_tokens: int, output_tokens: int, total_tokens: int | None = None
    ) -> None:
        """Add the tokens one model call used; ``agent_completed`` carries the run's sum.

        Call it once per model call (a run with tool rounds calls it once per
        round). A sub-agent's tokens go on its own ``agent_completed``, not its
        delegator's. Without any report, ``usage`` is null.

        Args:
            input_tokens: prompt tokens (OpenAI's ``prompt_tokens``/``input_tokens``).
            output_tokens: completion tokens (``completion_tokens``/``output_tokens``).
            total_tokens: as the model reported it; default the sum of both.

        Raises:
            ValueError: a count is negative or not an integer.
        """
        counts = (("input", input_tokens), ("output", output_tokens), ("total", total_tokens))
        for name, value in counts:
            if value is None and name == "total":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}_tokens must be an integer >= 0, not {value!r}")
        total = input_tokens + output_tokens if total_tokens is None else total_tokens
        node, before = self._node, self._node.usage
        if before is not None:
            input_tokens += before.input_tokens
            output_tokens += before.output_tokens
            total += before.total_tokens
        node.usage = Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=total
        )

    async def think(self, text: str) -> None:
        """Show what the agent is working on (``agent_thinking``)."""
        await self._emit(AgentThinking(**self._fields(), content=text))

    async def tool(
        self, tool: Tool | str, arguments: Mapping[str, Any] | None = None
    ) -> ToolResult:
        """Call a tool, reporting it as ``tool_executing`` then ``tool_completed``.

        A tool that needs approval first emits ``tool_approval_required`` and
        waits for :meth:`Runner.resolve_approval
        <agentsocket.agents.runner.Runner.resolve_approval>`; a refusal or no
        answer in time ends the call as ``denied`` without running it.

        Args:
            tool: the tool, or the name of one of the agent's ``tools`` or the
                runner's tools. An unknown name is an ``error`` result.
            arguments: keyword arguments for the tool, JSON-compatible.

        Returns:
            The result; a tool that raised gives ``status="error"`` and the run goes on.
        """
        spec = tool if isinstance(tool, Tool) else self._find_tool(tool)
        name = tool.name if isinstance(tool, Tool) else tool
        call_id = new_id("call_")
        # Current while the tool runs: a sub-run or a span the tool makes is its child.
        # An unknown name (a model may make one up) stays out of the span's name.
        span_name = "execute_tool" if spec is None else f"execute_tool {name}"
        with tracing.span(span_name, _tool_attributes(name, call_id)) as span:
            result = await self._tool(spec, name, call_id, dict(arguments or {}))
            _record_tool(span, result)
        return result

    async def _tool(
        self, spec: Tool | None, name: str, call_id: str, args: dict[str, Any]
    ) -> ToolResult:
        started = time.perf_counter()
        if spec is None:
            await self._tool_executing(call_id, name, args)
            return await self._tool_completed(
                call_id, name, started, "error", error=f"unknown tool {name!r}"
            )
        if spec.requires_approval:
            call_id, decision = await self._approval(
                call_id, spec.name, args, arguments_schema=dict(spec.parameters)
            )
            if not decision.approved:
                reason = decision.reason or "the user denied this tool call"
                return await self._tool_completed(call_id, name, started, "denied", error=reason)
            if decision.arguments is not None:
                args = decision.arguments
            started = time.perf_counter()
        await self._tool_executing(call_id, name, args)
        context = ToolContext(self.user_id, self.thread_id, self.run_id, call_id)
        try:
            value = await invoke(spec, args, context)
        except Exception as exc:
            return await self._tool_completed(
                call_id, name, started, "error", error=describe_error(exc)
            )
        return await self._tool_completed(call_id, name, started, "success", value=value)

    async def tool_call(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, call_id: str | None = None
    ) -> ToolCallReport:
        """Report a tool call that the agent's own framework executes (``tool_executing``).

        For adapters of frameworks that run their tools themselves; finish the
        call with :meth:`ToolCallReport.succeeded` or :meth:`ToolCallReport.failed`
        (``tool_completed``). Tools run by agentsocket use :meth:`tool` instead.

        Args:
            call_id: the framework's own id for the call, if it has one.
        """
        report = ToolCallReport(self, call_id or new_id("call_"), name)
        await self._tool_executing(report.call_id, name, dict(arguments or {}))
        # The framework runs the tool wherever it likes: this span is never made current.
        report.span = tracing.start(f"execute_tool {name}", _tool_attributes(name, report.call_id))
        return report

    async def ask_approval(
        self,
        tool_name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        expires_in: float | None = None,
        approve_on_expiry: bool | None = None,
        arguments_schema: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Ask the user to approve a tool call (``tool_approval_required``) and wait.

        The request is stored before it is sent, so it outlives this process
        (see :mod:`agentsocket.agents.pauses`). With no answer in time the
        default applies (the gateway's ``APPROVAL_DEFAULT``, deny unless set).
        For adapters whose framework pauses for approval itself; tools run by
        :meth:`tool` with ``requires_approval`` are asked for automatically.

        Args:
            call_id: the framework's own id for the call. One a client cannot
                send back in ``tool_approval`` (more than 128 characters, or
                others than letters, digits and ``_.:-``) is replaced by a new one.
            expires_in: seconds to wait; default the runner's approval timeout.
            approve_on_expiry: what applies on expiry; default the runner's.
            arguments_schema: JSON Schema of the arguments, to let the user
                edit them; the decision's ``arguments`` then satisfy it.

        Returns:
            The decision; ``approved`` False with a reason when refused or expired.
        """
        if call_id is None or not _ANSWERABLE.fullmatch(call_id):
            call_id = new_id("call_")
        schema = None if arguments_schema is None else dict(arguments_schema)
        _, decision = await self._approval(
            call_id,
            tool_name,
            dict(arguments or {}),
            expires_in=expires_in,
            approve_on_expiry=approve_on_expiry,
            arguments_schema=schema,
        )
        return decision

    async def ask(
        self,
        prompt: str,
        schema: Mapping[str, Any],
        *,
        default: Any = None,
        expires_in: float | None = None,
    ) -> Answer:
        """Ask the user a question (``agent_question``) and wait for the answer.

        The answer satisfies ``schema`` (a JSON Schema); an answer that does not
        is refused with ``validation_failed`` and the question stays open. The
        question is stored before it is sent, so it outlives this process.

        Args:
            default: the answer if none comes before it expires; None to let
                it expire unanswered (``Answer.value`` None).
            expires_in: seconds to wait; default the runner's approval timeout.

        Raises:
            ValueError: ``schema`` is not a valid JSON Schema, or ``default``
                does not satisfy it.
        """
        answer_schema = dict(schema)
        check_schema(answer_schema)
        if default is not None and (problems := schema_errors(answer_schema, default)):
            raise ValueError(f"the default does not satisfy the schema: {problems[0][1]}")
        timeout = self._tree.approval_timeout if expires_in is None else expires_in
        _, resolution = await self._pause(
            "question",
            new_id("q_"),
            timeout,
            default,
            lambda p: AgentQuestion(
                **self._fields(),
                question_id=p.interrupt_id,
                prompt=prompt,
                answer_schema=answer_schema,
                timeout_seconds=timeout,
                expires_at=p.expires_at,
                default=default,
            ),
            prompt=prompt,
            answer_schema=answer_schema,
        )
        return Answer(resolution.answer, resolution.resolution, resolution.answered_by)

    async def tool_denied(
        self,
        name: str,
        reason: str | None = None,
        *,
        call_id: str,
    ) -> ToolResult:
        """Report a tool call refused at approval, so never run (``tool_completed``, ``denied``).

        The counterpart of :meth:`tool` refusing a call, for adapters that ask
        with :meth:`ask_approval` before their framework runs the tool.
        """
        reason = reason or "the user denied this tool call"
        return await self._tool_completed(
            call_id, name, time.perf_counter(), "denied", error=reason
        )

    def message(self) -> MessageStream:
        """Stream one answer message: ``async with ctx.message() as m: await m.write(...)``.

        Each ``write`` emits an ``agent_message_delta``; leaving the block
        normally emits one ``agent_message`` with the whole text.
        """
        return MessageStream(self)

    async def say(self, text: str, *, chunk: int = DEFAULT_CHUNK, delay: float = 0.0) -> str:
        """Stream ``text`` as one message, in pieces of at most ``chunk`` characters.

        Args:
            delay: seconds to wait between pieces, to make a canned answer look typed.

        Returns:
            ``text``.
        """
        async with self.message() as stream:
            for i, piece in enumerate(split_chunks(text, chunk)):
                if delay and i:
                    await asyncio.sleep(delay)
                await stream.write(piece)
        return text

    async def delegate(self, agent: Agent, prompt: str) -> str:
        """Run ``agent`` as a sub-agent of this run and return its answer text.

        The sub-run has its own ``run_id`` and events (``agent_started`` to its
        terminal event), with ``parent_run_id`` set to this run.

        Raises:
            Exception: whatever the sub-agent raised, after its ``agent_error``;
                let it propagate to fail this run too, or catch it to go on.
        """
        async with self.sub_run(agent.name, tools=agent_tools(agent)) as sub:
            await agent.run(sub, prompt)
        return sub.text

    def sub_run(
        self, agent_name: str, *, tools: Sequence[Tool] | Mapping[str, Tool] = ()
    ) -> SubRun:
        """Open a sub-run of this run: ``async with ctx.sub_run("helper") as sub: ...``.

        For adapters whose framework hands over to another agent itself (e.g.
        a handoff): entering emits the sub-run's ``agent_started`` (with
        ``parent_run_id`` set to this run), ``sub`` is its :class:`RunContext`,
        and leaving emits its terminal event: ``agent_completed``, or
        ``agent_error`` / ``agent_cancelled`` for the exception that left the
        block (which goes on propagating). :meth:`delegate` is built on it.

        Args:
            tools: the sub-agent's own tools, for :meth:`tool` by name.
        """
        by_name = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
        node = RunNode(self._tree.new_sub_run_id(), agent_name, self.run_id, by_name)
        return SubRun(self._tree, node)

    # --- internals -------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        return self._tree.fields(self._node)

    async def _emit(self, event: AgentEvent) -> bool:
        return await self._tree.emit(self._node, event)

    def _find_tool(self, name: str) -> Tool | None:
        return self._node.tools.get(name) or self._tree.tools.get(name)

    async def _approval(
        self,
        call_id: str,
        tool_name: str,
        args: dict[str, Any],
        *,
        expires_in: float | None = None,
        approve_on_expiry: bool | None = None,
        arguments_schema: dict[str, Any] | None = None,
    ) -> tuple[str, Decision]:
        """Ask for approval; the call's id (the original one, when replaying) and the decision."""
        tree = self._tree
        timeout = tree.approval_timeout if expires_in is None else expires_in
        default = tree.approval_default if approve_on_expiry is None else approve_on_expiry
        arguments = jsonable(args)
        pause, resolution = await self._pause(
            "approval",
            call_id,
            timeout,
            default,
            lambda p: ToolApprovalRequired(
                **self._fields(),
                tool_call_id=p.interrupt_id,
                tool_name=tool_name,
                arguments=arguments,
                timeout_seconds=timeout,
                expires_at=p.expires_at,
                on_expiry="approve" if default else "deny",
                arguments_schema=arguments_schema,
            ),
            tool_name=tool_name,
            arguments=arguments,
            arguments_schema=arguments_schema,
        )
        approved = bool(resolution.approved)
        reason = resolution.reason
        if not approved and reason is None and resolution.resolution != "answered":
            reason = _default_reason(resolution, timeout)
        return pause.interrupt_id, Decision(approved, reason, resolution.arguments)

    async def _pause(
        self,
        kind: PauseKind,
        interrupt_id: str,
        seconds: float,
        default: Any,
        request: Callable[[Pause], AgentEvent],
        **details: Any,
    ) -> tuple[Pause, Resolution]:
        """Store a pause, announce it, wait for its resolution and announce that."""
        tree = self._tree
        pause = Pause(
            run_id=tree.root.run_id,
            node_run_id=self.run_id,
            ordinal=tree.pause_count,
            kind=kind,
            interrupt_id=interrupt_id,
            expires_at=time.time() + seconds,
            default=default,
            sub_run_ids=tuple(tree.sub_run_ids),
            **details,
        )
        tree.pause_count += 1
        if tree.replay is not None:
            return await self._replayed(pause, seconds)
        if not tree.answerable:
            resolution = pause.resolved_by_default("unanswerable")
            await self._emit(
                AgentThinking(**self._fields(), content=_describe(pause, resolution, seconds))
            )
            await self._resolved(pause, resolution, seconds)
            return pause, resolution
        announcement = request(pause)
        pause = replace(
            pause,
            announcement={"type": announcement.TYPE, "data": announcement.model_dump(mode="json")},
        )
        # Open before announcing, so an answer that comes back at once is not missed.
        waiting = tree.waits.open(self.user_id, pause)
        try:
            await tree.pauses.open(pause)
            await self._emit(announcement)
            tree.waiting_started()
            try:
                resolution = await asyncio.wait_for(
                    asyncio.shield(waiting), max(0.0, pause.expires_at - time.time())
                )
            except TimeoutError:
                resolution = await tree.pauses.expire(pause)
            finally:
                tree.waiting_ended()
        finally:
            tree.waits.close(self.run_id, interrupt_id)
        await self._resolved(pause, resolution, seconds)
        return pause, resolution

    async def _replayed(self, pause: Pause, seconds: float) -> tuple[Pause, Resolution]:
        """The stored resolution of a pause asked again while replaying."""
        tree = self._tree
        replay = tree.replay
        if replay is None or pause.ordinal > replay.last_ordinal:
            raise RuntimeError("not replaying this pause")
        stored, resolution = replay.resolved[pause.ordinal]
        same = (stored.kind, stored.tool_name, stored.prompt, stored.node_run_id) == (
            pause.kind,
            pause.tool_name,
            pause.prompt,
            pause.node_run_id,
        )
        if not same:
            raise AgentFailure(
                AgentErrorCode.RESUME_DIVERGED,
                DIVERGED,
                retryable=True,
            )
        if pause.ordinal == replay.last_ordinal:
            tree.replay = None  # live from here on
            await self._resolved(stored, resolution, seconds)
        return stored, resolution

    async def _resolved(self, pause: Pause, resolution: Resolution, seconds: float) -> None:
        await self._emit(
            InterruptResolved(
                **self._fields(),
                interrupt_id=pause.interrupt_id,
                kind=pause.kind,
                resolution=resolution.resolution,
                approved=resolution.approved,
                arguments=resolution.arguments,
                answer=resolution.answer,
                answered_by=resolution.answered_by,
                message=_describe(pause, resolution, seconds),
            )
        )

    async def _tool_executing(self, call_id: str, name: str, args: dict[str, Any]) -> None:
        await self._emit(
            ToolExecuting(
                **self._fields(), tool_call_id=call_id, tool_name=name, arguments=jsonable(args)
            )
        )

    async def _tool_completed(
        self,
        call_id: str,
        name: str,
        started: float,
        status: ToolStatus,
        *,
        value: Any = None,
        error: str | None = None,
    ) -> ToolResult:
        await self._emit(
            ToolCompleted(
                **self._fields(),
                tool_call_id=call_id,
                tool_name=name,
                status=status,
                result=jsonable(value),
                error=error,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
        return ToolResult(call_id, name, status, value, error)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of :meth:`RunContext.ask`.

    Attributes:
        value: the answer (it satisfies the question's schema), the default
            on expiry, or None when the question expired without a default.
        resolution: ``answered``, ``expired`` or ``unanswerable`` (the run's
            client cannot answer questions, so the default applied at once).
        answered_by: the connection id the answer came from.
    """

    value: Any
    resolution: str
    answered_by: str | None = None


def _default_reason(resolution: Resolution, timeout: float) -> str:
    if resolution.resolution == "unanswerable":
        return "this client cannot answer approvals, and the default is to deny"
    return f"no approval within {timeout:g} seconds"


def _describe(pause: Pause, resolution: Resolution, timeout: float) -> str:
    """What happened to a pause, for a person to read."""
    if pause.kind == "approval":
        what = f"{pause.tool_name} was " + ("approved" if resolution.approved else "denied")
        if resolution.resolution == "answered":
            edited = " with edited arguments" if resolution.arguments is not None else ""
            return f"{what}{edited}."
    else:
        what = (
            "the question expired unanswered"
            if resolution.answer is None
            else "the default answer applied"
        )
        if resolution.resolution == "answered":
            return "The question was answered."
    if resolution.resolution == "expired":
        return f"No answer within {timeout:g} seconds: {what} (the default)."
    return f"This client cannot answer {pause.kind}s: {what} (the default)."


class SubRun:
    """A sub-run being opened or closed; see :meth:`RunContext.sub_run`."""

    def __init__(self, tree: RunTree, node: RunNode) -> None:
        self._tree = tree
        self._node = node
        self._span = tracing.Span()  # recording from entering on (tracing on)

    async def __aenter__(self) -> RunContext:
        node = self._node
        # Current inside the block (entered and left in one task), so its tools are its children.
        self._span = tracing.start(
            f"invoke_agent {node.agent_name}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": node.agent_name,
                "agentsocket.run_id": node.run_id,
                "agentsocket.parent_run_id": node.parent_run_id or "",
            },
            current=True,
        )
        try:
            announced = await self._tree.announce(node)
        except BaseException:
            self._span.end()
            raise
        if not announced:
            self._span.end()
            raise asyncio.CancelledError  # the run is stopping; its task is being cancelled
        return RunContext(self._tree, node)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tree = self._tree
        event = tree.ending(self._node, exc)
        try:
            await tree.finish(self._node, event)
        finally:
            if isinstance(event, AgentError):
                record_end(self._span, "error", event.code)
            elif isinstance(event, AgentCancelled):
                record_end(self._span, "cancelled", event.reason)
            else:
                record_end(self._span, "completed", None)
            self._span.end()
        if exc is None and tree.stop is not None:
            raise asyncio.CancelledError


class ToolCallReport:
    """A tool call an agent's framework is executing; see :meth:`RunContext.tool_call`."""

    def __init__(self, ctx: RunContext, call_id: str, name: str) -> None:
        self.call_id = call_id
        self.name = name
        self._ctx = ctx
        self._started = time.perf_counter()
        self._done = False
        self.span = tracing.Span()  # recording once RunContext.tool_call sets it

    async def succeeded(self, value: Any = None) -> ToolResult:
        """The tool returned ``value`` (JSON-compatible, or made so): ``tool_completed``."""
        return await self._complete("success", value=value)

    async def failed(self, error: str, *, status: ToolStatus = "error") -> ToolResult:
        """The tool failed, or was ``denied``: ``tool_completed`` with ``error``."""
        return await self._complete(status, error=error)

    async def _complete(
        self, status: ToolStatus, *, value: Any = None, error: str | None = None
    ) -> ToolResult:
        if self._done:
            raise RuntimeError(f"tool call {self.call_id} is already completed")
        self._done = True
        try:
            result = await self._ctx._tool_completed(
                self.call_id, self.name, self._started, status, value=value, error=error
            )
        finally:
            self.span.set("agentsocket.tool.status", status)
            if status == "error":
                self.span.fail(error or "error")
            self.span.end()
        return result


class MessageStream:
    """One answer message being streamed; see :meth:`RunContext.message`."""

    def __init__(self, ctx: RunContext) -> None:
        self.message_id = new_id("msg_")
        self._ctx = ctx
        self._parts: list[str] = []
        self._ended = False

    @property
    def text(self) -> str:
        """What has been written so far."""
        return "".join(self._parts)

    async def write(self, delta: str) -> None:
        """Emit ``delta`` as the next ``agent_message_delta``; empty text is skipped."""
        if self._ended:
            raise RuntimeError("this message has ended; open a new one with ctx.message()")
        if not delta:
            return
        event = AgentMessageDelta(**self._ctx._fields(), message_id=self.message_id, content=delta)
        if await self._ctx._emit(event):
            self._parts.append(delta)

    async def __aenter__(self) -> MessageStream:
        self._ctx._node.messages.append(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ended = True
        if exc_type is None and self._parts:
            await self._ctx._emit(
                AgentMessage(**self._ctx._fields(), message_id=self.message_id, content=self.text)
            )


def record_end(span: tracing.Span, status: str, detail: str | None) -> None:
    """Record how a run or sub-run ended on its span; an error fails the span."""
    span.set("agentsocket.run.status", status)
    if status == "error":
        span.fail(detail or "error")
    elif detail is not None:
        span.set("agentsocket.run.reason", detail)


def _tool_attributes(name: str, call_id: str) -> dict[str, str]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name[:_MAX_TRACED_NAME],
        "gen_ai.tool.call.id": call_id,
    }


def _record_tool(span: tracing.Span, result: ToolResult) -> None:
    span.set("agentsocket.tool.status", result.status)
    if result.status == "error":
        span.fail(result.error or "error")


def split_chunks(text: str, size: int) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` characters, after a space when possible.

    ``"".join(split_chunks(text, size)) == text`` always holds.
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut + 1
        pieces.append(text[start:end])
        start = end
    return pieces
