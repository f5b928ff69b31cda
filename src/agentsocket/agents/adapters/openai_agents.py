"""Serve an OpenAI Agents SDK agent (``pip install 'agentsocket[openai-agents]'``).

The agent runs with ``Runner.run_streamed()``; its stream events become ours:

- raw ``response.output_text.delta`` events → streamed text (one
  ``agent_message`` per message output item); reasoning deltas →
  ``agent_thinking``;
- ``tool_called`` → ``tool_executing`` (the SDK's ``call_id``),
  ``tool_output`` → ``tool_completed``;
- a handoff → a sub-run of the target agent (``agent_started`` with
  ``parent_run_id``, its tool calls and text, ``agent_completed``); when the
  run ends in a handed-to agent, the root run repeats its final answer, so the
  thread keeps it (as the built-in demo agent does with its specialists);
- tools with ``needs_approval`` pause the run: each interruption becomes
  ``tool_approval_required``; the run resumes from ``to_state()`` with
  ``state.approve(item)`` (the tool runs: ``tool_executing`` →
  ``tool_completed``) or ``state.reject(item, rejection_message=reason)`` (it
  does not: ``tool_completed`` with ``denied``).

The thread's earlier turns are the run's input items
(``{"role": "user"|"assistant", "content": ...}``), the prompt last. Errors of
the model API become ``upstream_*`` codes, anything else ``agent_failed``.
The run's usage (``result.context_wrapper.usage``: every model request, the
resumptions and handed-to agents included) goes on the root run's
``agent_completed``. The SDK asks for streamed usage only from OpenAI itself;
for another endpoint set ``ModelSettings(include_usage=True)`` on the agent.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

from agents.items import (
    HandoffOutputItem,
    MessageOutputItem,
    ToolApprovalItem,
    ToolCallItem,
    ToolCallOutputItem,
)
from agents.stream_events import AgentUpdatedStreamEvent, RawResponsesStreamEvent, StreamEvent

from agents import Agent, RunConfig, Runner, RunResultStreaming
from agentsocket.agents.adapters._errors import model_errors
from agentsocket.agents.adapters._text import Replies
from agentsocket.agents.runtime import RunContext, ToolCallReport

_TEXT_DELTA = "response.output_text.delta"
_REASONING_DELTAS = frozenset(
    {"response.reasoning_text.delta", "response.reasoning_summary_text.delta"}
)


class OpenAIAgentsAgent:
    """An OpenAI Agents SDK ``Agent`` as an agentsocket agent.

    Args:
        agent: the SDK agent (the starting agent of each run).
        name: the agent's name; default: the SDK agent's name.
        description: what the agent does; default: its ``handoff_description``.
        run_config: passed to ``Runner.run_streamed`` (model provider, tracing...).
        max_turns: the SDK's limit on model turns per run.
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        name: str | None = None,
        description: str | None = None,
        run_config: RunConfig | None = None,
        max_turns: int = 10,
    ) -> None:
        self.agent = agent
        self.name = name or agent.name
        self.description = description or agent.handoff_description
        self.run_config = run_config
        self.max_turns = max_turns

    async def run(self, ctx: RunContext, prompt: str) -> None:
        items: list[Any] = [
            {"role": turn["role"], "content": turn["content"]} for turn in await ctx.history()
        ]
        items.append({"role": "user", "content": prompt})
        async with AsyncExitStack() as stack:
            turn = _Turn(ctx, self.agent, stack)
            run_input: Any = items
            while True:
                result = Runner.run_streamed(
                    self.agent, run_input, max_turns=self.max_turns, run_config=self.run_config
                )
                await _drain(result, turn)
                if not result.interruptions:
                    break
                state = result.to_state()
                for item in result.interruptions:
                    reason = await turn.ask(item)
                    if reason is None:
                        state.approve(item)
                    else:
                        state.reject(item, rejection_message=reason)
                run_input = state
            # Cumulative over the resumptions; handed-to agents' requests included.
            used = result.context_wrapper.usage
            if used.total_tokens or used.input_tokens or used.output_tokens:
                # All zero: the model server reported nothing (null, not "0 tokens").
                ctx.report_usage(used.input_tokens, used.output_tokens, used.total_tokens)
            await turn.finish(result.final_output)


async def _drain(result: RunResultStreaming, turn: _Turn) -> None:
    """Hand each stream event to ``turn``; stop the SDK's run if we stop first."""
    try:
        with model_errors():
            async for event in result.stream_events():
                await turn.handle(event)
    finally:
        if not result.is_complete:
            result.cancel()  # cancels the SDK's background run task and its tools


class _Turn:
    """One run's streaming state: who is speaking, open tool calls, held approvals."""

    def __init__(self, root: RunContext, agent: Agent[Any], stack: AsyncExitStack) -> None:
        self.root = root
        self.ctx = root
        self.agent = agent  # the SDK agent now speaking
        self.replies = Replies(root)
        self.calls: dict[str, ToolCallReport] = {}
        self.held: dict[str, tuple[str, dict[str, Any]]] = {}  # needs approval: not yet shown
        self.denied: set[str] = set()
        self._root_agent = agent
        self._stack = stack
        self._sub: AsyncExitStack | None = None

    async def handle(self, event: StreamEvent) -> None:
        if isinstance(event, RawResponsesStreamEvent):
            kind = getattr(event.data, "type", "")
            if kind == _TEXT_DELTA:
                await self.replies.write(str(getattr(event.data, "delta", "")))
            elif kind in _REASONING_DELTAS:
                await self.replies.reason(str(getattr(event.data, "delta", "")))
        elif isinstance(event, AgentUpdatedStreamEvent):
            await self._switch(event.new_agent)
        elif isinstance(event.item, ToolCallItem):
            await self._called(event.item)
        elif isinstance(event.item, ToolCallOutputItem):
            await self._returned(event.item)
        elif isinstance(event.item, MessageOutputItem):
            await self.replies.end()
        elif isinstance(event.item, HandoffOutputItem):
            await self.replies.end()
            await self.ctx.think(f"Handing over to {event.item.target_agent.name}")

    async def ask(self, item: ToolApprovalItem) -> str | None:
        """Ask the user about a paused call; None if approved, else the reason to reject."""
        await self.replies.end()
        call_id = _call_id(item.raw_item)
        name = item.name or "tool"
        args = _arguments(item.arguments)
        decision = await self.ctx.ask_approval(name, args, call_id=call_id)
        if decision.approved:
            self.held[call_id] = (name, args)
            return None
        reason = decision.reason or "the user denied this tool call"
        self.held.pop(call_id, None)
        self.denied.add(call_id)
        await self.ctx.tool_denied(name, reason, call_id=call_id)
        return reason

    async def finish(self, final_output: Any) -> None:
        """End the answer: close a handed-to agent's sub-run, keep the answer on the root."""
        await self.replies.end()
        if self._sub is None:
            if not self.replies.written and final_output is not None:
                await self.root.say(_text(final_output))
            return
        spoke = self.replies.written
        await self._close_sub()
        if final_output is not None:
            await self.root.say(_text(final_output))
        elif spoke:
            await self.root.say(spoke)

    async def _switch(self, agent: Agent[Any]) -> None:
        if agent is self.agent:
            return  # a resumed run announces the same agent again
        await self.replies.end()
        await self._close_sub()
        self.agent = agent
        if agent is not self._root_agent:
            sub = AsyncExitStack()
            self.ctx = await sub.enter_async_context(self.root.sub_run(agent.name))
            self._sub = await self._stack.enter_async_context(sub)
        self.replies = Replies(self.ctx)

    async def _close_sub(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            await sub.aclose()  # the sub-run's agent_completed
            self.ctx = self.root
            self.replies = Replies(self.root)

    async def _called(self, item: ToolCallItem) -> None:
        await self.replies.end()
        call_id = _call_id(item.raw_item)
        name = _raw(item.raw_item, "name") or "tool"
        args = _arguments(_raw(item.raw_item, "arguments"))
        if _needs_approval(self.agent, name):
            self.held[call_id] = (name, args)  # shown once approved (or once it ran unasked)
            return
        self.calls[call_id] = await self.ctx.tool_call(name, args, call_id=call_id)

    async def _returned(self, item: ToolCallOutputItem) -> None:
        call_id = _call_id(item.raw_item)
        if call_id in self.denied:
            return  # reported as denied when the user answered
        report = self.calls.pop(call_id, None)
        if report is None:
            name, args = self.held.pop(call_id, ("tool", {}))
            report = await self.ctx.tool_call(name, args, call_id=call_id)
        await report.succeeded(item.output)


def _needs_approval(agent: Agent[Any], tool_name: str) -> bool:
    for tool in agent.tools:
        if getattr(tool, "name", None) == tool_name:
            return bool(getattr(tool, "needs_approval", False))
    return False


def _raw(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)


def _call_id(raw: Any) -> str:
    return str(_raw(raw, "call_id") or _raw(raw, "id") or "")


def _arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as a dict (the SDK keeps the model's JSON text)."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str) and arguments:
        try:
            value = json.loads(arguments)
        except ValueError:
            return {"arguments": arguments}
        return value if isinstance(value, dict) else {"arguments": value}
    return {}


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    dump = getattr(output, "model_dump", None)
    return json.dumps(dump(mode="json") if callable(dump) else output, default=str)
