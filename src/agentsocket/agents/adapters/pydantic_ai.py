"""Serve a PydanticAI agent (``pip install 'agentsocket[pydantic-ai]'``).

The agent runs with ``run_stream_events()``; its events become ours:

- text parts → streamed text (one ``agent_message`` per text part run);
  thinking parts → ``agent_thinking``;
- ``FunctionToolCallEvent`` → ``tool_executing`` (PydanticAI's
  ``tool_call_id``), ``FunctionToolResultEvent`` → ``tool_completed``
  (``error`` when the tool failed or asked the model to retry);
- tools that require approval (``requires_approval=True``, or raising
  ``ApprovalRequired``) end the run with ``DeferredToolRequests``: each call
  becomes ``tool_approval_required``, and the run is resumed with
  ``DeferredToolResults`` — approved calls run, denied ones do not (the model
  is told the user's reason) and are reported ``denied``.

The thread's earlier turns are passed as ``message_history``
(``ModelRequest``/``UserPromptPart`` and ``ModelResponse``/``TextPart``). An
output that is not text (a structured ``output_type``) is sent as JSON.
The run's ``result.usage`` (input and output tokens, each resumption
after an approval added) is reported as the run's usage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, ToolDenied, ToolFailed
from pydantic_ai.agent import AbstractAgent, AgentRunEvents
from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.toolsets import FunctionToolset
from pydantic_core import to_jsonable_python

from agentsocket.agents.adapters._errors import model_errors
from agentsocket.agents.adapters._text import Replies
from agentsocket.agents.runtime import RunContext, ToolCallReport

_NO_EXTERNAL_TOOLS = "this tool is to be run outside the agent, which the gateway cannot do"


class PydanticAIAgent:
    """A PydanticAI ``Agent`` as an agentsocket agent.

    Args:
        agent: the PydanticAI agent, with its model set.
        name: the agent's name; default: the agent's own name, else ``pydantic-ai``.
        description: what the agent does; default: the agent's own description.
    """

    def __init__(
        self,
        agent: AbstractAgent[Any, Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.agent = agent
        self.name = name or agent.name or "pydantic-ai"
        self.description = description or getattr(agent, "description", None)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        turn = _Turn(ctx, _approval_tools(self.agent))
        history: list[ModelMessage] = [_message(t) for t in await ctx.history()]
        output_type = _with_deferred(self.agent)
        user_prompt: str | None = prompt
        results: DeferredToolResults | None = None
        while True:
            stream: AbstractAsyncContextManager[AgentRunEvents[Any]]
            stream = self.agent.run_stream_events(
                user_prompt,
                message_history=history,
                deferred_tool_results=results,
                output_type=output_type,
            )
            # Leaving the block (also by cancellation) cancels the agent's run task.
            with model_errors():
                async with stream as events:
                    async for event in events:
                        if isinstance(event, AgentRunResultEvent):
                            output, history = event.result.output, event.result.all_messages()
                            used = event.result.usage
                            ctx.report_usage(
                                used.input_tokens, used.output_tokens, used.total_tokens
                            )
                        else:
                            await turn.handle(event)
            if not isinstance(output, DeferredToolRequests):
                break
            user_prompt, results = None, await turn.ask(output)
        await turn.replies.end()
        if not isinstance(output, str):
            await ctx.say(json.dumps(_jsonable(output), ensure_ascii=False))
        elif not turn.replies.written and output:
            await ctx.say(output)


class _Turn:
    """One run's streaming state: the text, open tool calls, calls awaiting approval."""

    def __init__(self, ctx: RunContext, approval_tools: frozenset[str]) -> None:
        self.ctx = ctx
        self.replies = Replies(ctx)
        self.calls: dict[str, ToolCallReport] = {}
        self.approval_tools = approval_tools
        self.approved: set[str] = set()
        self.denied: set[str] = set()

    async def handle(self, event: AgentStreamEvent) -> None:
        if isinstance(event, PartStartEvent):
            if isinstance(event.part, TextPart):
                await self.replies.write(event.part.content, key=event.index)
            elif isinstance(event.part, ThinkingPart):
                await self.replies.reason(event.part.content)
        elif isinstance(event, PartDeltaEvent):
            if isinstance(event.delta, TextPartDelta):
                await self.replies.write(event.delta.content_delta, key=event.index)
            elif isinstance(event.delta, ThinkingPartDelta):
                await self.replies.reason(event.delta.content_delta or "")
        elif isinstance(event, PartEndEvent):
            if isinstance(event.part, TextPart | ThinkingPart):
                await self.replies.end()
        elif isinstance(event, FunctionToolCallEvent):
            await self._called(event.part)
        elif isinstance(event, FunctionToolResultEvent):
            await self._returned(event)

    async def ask(self, requests: DeferredToolRequests) -> DeferredToolResults:
        """Ask the user about each call awaiting approval; the results to resume with."""
        await self.replies.end()
        results = DeferredToolResults()
        for call in requests.approvals:
            decision = await self.ctx.ask_approval(
                call.tool_name, call.args_as_dict(), call_id=call.tool_call_id
            )
            if decision.approved:
                self.approved.add(call.tool_call_id)
                results.approvals[call.tool_call_id] = True
            else:
                reason = decision.reason or "the user denied this tool call"
                self.denied.add(call.tool_call_id)
                results.approvals[call.tool_call_id] = ToolDenied(reason)
                report = self.calls.pop(call.tool_call_id, None)
                if report is not None:
                    await report.failed(reason, status="denied")
                else:
                    await self.ctx.tool_denied(call.tool_name, reason, call_id=call.tool_call_id)
        for call in requests.calls:  # external tools (CallDeferred): nobody here can run them
            results.calls[call.tool_call_id] = ToolFailed(_NO_EXTERNAL_TOOLS)
        return results

    async def _called(self, part: ToolCallPart) -> None:
        call_id = part.tool_call_id
        if call_id in self.calls or call_id in self.denied:
            return  # announced already; a resumed run reports the call again
        if part.tool_name in self.approval_tools and call_id not in self.approved:
            return  # approval first: tool_executing once the user agrees
        await self.replies.end()
        self.calls[call_id] = await self.ctx.tool_call(
            part.tool_name, part.args_as_dict(), call_id=call_id
        )

    async def _returned(self, event: FunctionToolResultEvent) -> None:
        part = event.part
        if part.tool_call_id in self.denied:
            return  # reported as denied when the user answered
        report = self.calls.pop(part.tool_call_id, None)
        if report is None:
            report = await self.ctx.tool_call(part.tool_name, call_id=part.tool_call_id)
        outcome = getattr(part, "outcome", "success")
        if outcome == "success":
            await report.succeeded(_jsonable(part.content))
        else:
            denied = outcome == "denied"
            await report.failed(part.model_response_str(), status="denied" if denied else "error")


def _with_deferred(agent: AbstractAgent[Any, Any]) -> list[Any] | None:
    """The agent's output types plus ``DeferredToolRequests``, which approvals need.

    None (the agent's own) when it has them already, or when it has output
    validators: PydanticAI then refuses a run's ``output_type``, and such an
    agent must list ``DeferredToolRequests`` itself to use approvals.
    """
    declared = agent.output_type
    kinds = list(declared) if isinstance(declared, Sequence) else [declared]
    if DeferredToolRequests in kinds or getattr(agent, "_output_validators", None):
        return None
    return [*kinds, DeferredToolRequests]


def _approval_tools(agent: AbstractAgent[Any, Any]) -> frozenset[str]:
    """Names of the agent's function tools marked ``requires_approval``."""
    names: set[str] = set()
    toolsets: Sequence[Any] = getattr(agent, "toolsets", ())
    for toolset in toolsets:
        if isinstance(toolset, FunctionToolset):
            names.update(n for n, t in toolset.tools.items() if t.requires_approval)
    return frozenset(names)


def _message(turn: dict[str, str]) -> ModelMessage:
    if turn["role"] == "assistant":
        return ModelResponse(parts=[TextPart(turn["content"])])
    return ModelRequest(parts=[UserPromptPart(turn["content"])])


def _jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data (pydantic models and dataclasses dumped)."""
    return to_jsonable_python(value, fallback=str)
