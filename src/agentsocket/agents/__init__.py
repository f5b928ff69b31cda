"""Agents and the runtime that runs them.

An agent gets a :class:`RunContext` and reports everything through it; the
:class:`Runner` turns that into protocol events (``agent_started`` ...
``agent_completed``) on an :class:`EventSink`. Agents never see a socket.

Built in: :class:`DemoAgent` (offline, deterministic, with sub-agents) and
:class:`OpenAIChatAgent` (any OpenAI-compatible chat-completions server).
:func:`adapt` wraps LangGraph, PydanticAI and OpenAI Agents SDK agents.
See ``docs/agents.md``.
"""

from agentsocket.agents.adapters import adapt
from agentsocket.agents.calculator import CalculatorError, calculate, convert_base
from agentsocket.agents.clock import Clock, ClockError, utc_now
from agentsocket.agents.demo import HELP, DemoAgent
from agentsocket.agents.errors import AgentFailure
from agentsocket.agents.openai import OpenAIChatAgent, tool_spec
from agentsocket.agents.runner import FinishCallback, RunHandle, Runner, RunOutcome, RunStatus
from agentsocket.agents.runtime import (
    DEFAULT_CHUNK,
    Agent,
    MessageStream,
    RunContext,
    ToolCallReport,
    split_chunks,
)
from agentsocket.agents.sink import EventSink, ListSink
from agentsocket.agents.specialists import (
    CalculatorAgent,
    ClockAgent,
    ResearcherAgent,
    UnitsAgent,
)
from agentsocket.agents.state import Decision
from agentsocket.agents.tool import Tool, ToolContext, ToolResult, ToolStatus, ToolTimeoutError
from agentsocket.agents.tools import (
    ANNOUNCE,
    CALCULATE,
    CONVERT_BASE,
    CONVERT_UNITS,
    SLEEP,
    SearchFunc,
    clock_tools,
    search_history_tool,
)
from agentsocket.agents.units import UnitError, convert_units
from agentsocket.protocol.codes import AgentErrorCode

__all__ = [
    "ANNOUNCE",
    "CALCULATE",
    "CONVERT_BASE",
    "CONVERT_UNITS",
    "DEFAULT_CHUNK",
    "HELP",
    "SLEEP",
    "Agent",
    "AgentErrorCode",
    "AgentFailure",
    "CalculatorAgent",
    "CalculatorError",
    "Clock",
    "ClockAgent",
    "ClockError",
    "Decision",
    "DemoAgent",
    "EventSink",
    "FinishCallback",
    "ListSink",
    "MessageStream",
    "OpenAIChatAgent",
    "ResearcherAgent",
    "RunContext",
    "RunHandle",
    "RunOutcome",
    "RunStatus",
    "Runner",
    "SearchFunc",
    "Tool",
    "ToolCallReport",
    "ToolContext",
    "ToolResult",
    "ToolStatus",
    "ToolTimeoutError",
    "UnitError",
    "UnitsAgent",
    "adapt",
    "calculate",
    "clock_tools",
    "convert_base",
    "convert_units",
    "search_history_tool",
    "split_chunks",
    "tool_spec",
    "utc_now",
]
