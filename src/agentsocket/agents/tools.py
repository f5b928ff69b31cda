"""The demo agent's tools, ready for any agent (an LLM agent too).

Constant tools need nothing; :func:`clock_tools` and :func:`search_history_tool`
are built around what the server injects: a clock, and a search over the
run's own user's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from agentsocket.agents.calculator import calculate, convert_base
from agentsocket.agents.clock import Clock, days_until, parse_date, shift, weekday
from agentsocket.agents.tool import Tool, ToolContext
from agentsocket.agents.units import convert_units

#: Searches one user's thread history: ``(user_id, query) -> matching texts``.
SearchFunc = Callable[[str, str], Awaitable[list[str]]]

#: Longest wait the ``sleep`` tool accepts, in seconds.
MAX_SLEEP = 60.0
#: Longest a computing tool (calculate, convert_base, convert_units) may run, in seconds.
COMPUTE_TIMEOUT = 5.0


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD"}

CALCULATE = Tool(
    name="calculate",
    description="Evaluate arithmetic: numbers, + - * / // % **, unary minus, parentheses.",
    parameters=_object({"expression": _STRING}, "expression"),
    func=calculate,
    timeout_seconds=COMPUTE_TIMEOUT,
)

CONVERT_BASE = Tool(
    name="convert_base",
    description="Write a whole number in hexadecimal, binary or octal (0x…, 0b…, 0o…).",
    parameters=_object(
        {"number": {"type": "integer"}, "base": {"enum": ["hex", "bin", "oct"]}},
        "number",
        "base",
    ),
    func=convert_base,
    timeout_seconds=COMPUTE_TIMEOUT,
)

CONVERT_UNITS = Tool(
    name="convert_units",
    description="Convert a value between units of length, mass, temperature or time.",
    parameters=_object(
        {"value": _NUMBER, "from_unit": _STRING, "to_unit": _STRING},
        "value",
        "from_unit",
        "to_unit",
    ),
    func=convert_units,
    timeout_seconds=COMPUTE_TIMEOUT,
)


async def _sleep(seconds: float) -> float:
    if not 0 <= seconds <= MAX_SLEEP:
        raise ValueError(f"seconds must be between 0 and {MAX_SLEEP:g}")
    await asyncio.sleep(seconds)
    return seconds


SLEEP = Tool(
    name="sleep",
    description=f"Wait a number of seconds (at most {MAX_SLEEP:g}), then return it.",
    parameters=_object({"seconds": _NUMBER}, "seconds"),
    func=_sleep,
)


def _announce(text: str) -> str:
    return text.upper()


ANNOUNCE = Tool(
    name="announce",
    description="Say a text out loud (in upper case); the user must approve each call.",
    parameters=_object({"text": _STRING}, "text"),
    func=_announce,
    requires_approval=True,
)


def clock_tools(clock: Clock) -> tuple[Tool, ...]:
    """The date and time tools, reading the current time from ``clock``."""

    def now() -> str:
        return clock().isoformat()

    def shift_time(amount: float, unit: str) -> str:
        return shift(clock(), amount, unit).isoformat()

    def days_until_date(date: str) -> int:
        return days_until(clock().date(), parse_date(date))

    def weekday_of(date: str) -> str:
        return weekday(parse_date(date))

    units = {"enum": ["minutes", "hours", "days", "weeks"]}
    return (
        Tool("now", "The current date and time (ISO 8601).", _object({}), now),
        Tool(
            "shift_time",
            "The date and time a number of minutes, hours, days or weeks from now (negative: ago).",
            _object({"amount": _NUMBER, "unit": units}, "amount", "unit"),
            shift_time,
        ),
        Tool(
            "days_until",
            "Whole days from today to a date; negative if it is past.",
            _object({"date": _DATE}, "date"),
            days_until_date,
        ),
        Tool(
            "weekday",
            "The day of the week of a date.",
            _object({"date": _DATE}, "date"),
            weekday_of,
        ),
    )


def search_history_tool(search: SearchFunc) -> Tool:
    """A ``search_history`` tool over the current user's own threads.

    The user comes from the run, never from the arguments, so a prompt (or a
    model) cannot make it search someone else's history.
    """

    async def search_history(context: ToolContext, query: str) -> list[str]:
        return await search(context.user_id, query)

    return Tool(
        name="search_history",
        description="Search the user's earlier messages in all their threads.",
        parameters=_object({"query": _STRING}, "query"),
        func=search_history,
        takes_context=True,
    )
