"""The demo agent's specialists: each recognises its own requests and answers them with tools.

:class:`CalculatorAgent` (arithmetic, base conversion), :class:`UnitsAgent`
(length, mass, temperature, time), :class:`ClockAgent` (date and time, on an
injected clock) and :class:`ResearcherAgent` (the user's own history, through
an injected search). Each works alone too: given a prompt, it finds and
answers every request of its kind in it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from agentsocket.agents.calculator import BASE_NAMES
from agentsocket.agents.clock import Clock, describe, utc_now
from agentsocket.agents.runtime import DEFAULT_CHUNK, RunContext
from agentsocket.agents.tool import Tool
from agentsocket.agents.tools import (
    CALCULATE,
    CONVERT_BASE,
    CONVERT_UNITS,
    SearchFunc,
    clock_tools,
    search_history_tool,
)
from agentsocket.agents.units import UNITS, unit


@dataclass(frozen=True, slots=True)
class Found:
    """A request a specialist recognised in a prompt: where it is, and its text."""

    start: int
    end: int
    text: str


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _format(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


class Specialist(ABC):
    """A sub-agent that recognises its own requests in a text."""

    name: str
    tools: tuple[Tool, ...] = ()

    def __init__(self, *, chunk: int = DEFAULT_CHUNK, delay: float = 0.0) -> None:
        self._chunk = chunk
        self._delay = delay

    @abstractmethod
    def find(self, text: str) -> list[Found]:
        """Every request for this specialist in ``text``, in order."""

    @abstractmethod
    async def run(self, ctx: RunContext, prompt: str) -> None:
        """Answer every request of this kind in ``prompt``, as one message."""

    async def _answer(self, ctx: RunContext, text: str) -> None:
        await ctx.say(text, chunk=self._chunk, delay=self._delay)


# --- calculator -----------------------------------------------------------------

_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_ARITHMETIC_RUN = re.compile(r"[\d.+\-*/%()\s]+")
# One class for the run between operator and operand: `\s*[-+(]*\s*` backtracked
# quadratically over a long run of spaces.
_OPERATION = re.compile(r"[\d.)]\s*(?:\*\*|//|[-+*/%])[-+(\s]*[\d.]")
_BASE_SUFFIX = re.compile(
    r"\s*(?:in|to|as|into)\s+(hexadecimal|hex|binary|bin|octal|oct)\b", re.IGNORECASE
)
_BASE_KEYS = {"hexadecimal": "hex", "binary": "bin", "octal": "oct"}


@dataclass(frozen=True, slots=True)
class _Calculation:
    expression: str
    base: str | None


def _calculations(text: str) -> list[tuple[Found, _Calculation]]:
    # Blank out dates first: 2030-01-01 is not a subtraction.
    masked = _ISO_DATE.sub(lambda m: " " * len(m.group()), text)
    found: list[tuple[Found, _Calculation]] = []
    for run in _ARITHMETIC_RUN.finditer(masked):
        start, end = _trim(masked, run.start(), run.end())
        expression = text[start:end]
        if not any(c.isdigit() for c in expression):
            continue
        suffix = _BASE_SUFFIX.match(text, end)
        if suffix is None and not _OPERATION.search(expression):
            continue
        base = None
        if suffix is not None:
            base = _BASE_KEYS.get(suffix.group(1).lower(), suffix.group(1).lower())
            end = suffix.end()
        found.append((Found(start, end, text[start:end]), _Calculation(expression, base)))
    return found


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a run to a plausible expression: no edge spaces, dangling operators or parens.

    Linear in the run's length: the parenthesis counts are kept up to date as
    the edges move, never recounted (recounting made ``"1+1" + ")" * 32765``
    take seconds on the event loop).
    """
    opens = text.count("(", start, end)
    closes = text.count(")", start, end)
    while True:
        before = (start, end)
        while start < end and text[start] in _LEADING_JUNK:
            closes -= text[start] == ")"
            start += 1
        while end > start and text[end - 1] in _TRAILING_JUNK:
            opens -= text[end - 1] == "("
            end -= 1
        if start < end and opens > closes and text[start] == "(":
            opens -= 1
            start += 1
        elif start < end and closes > opens and text[end - 1] == ")":
            closes -= 1
            end -= 1
        if (start, end) == before:
            return start, end


_LEADING_JUNK = frozenset(" \t\n.*/%)")
_TRAILING_JUNK = frozenset(" \t\n.+-*/%(")


class CalculatorAgent(Specialist):
    """Evaluates arithmetic with the ``calculate`` tool, and converts to hex, binary or octal."""

    name = "calculator"
    tools = (CALCULATE, CONVERT_BASE)

    def find(self, text: str) -> list[Found]:
        return [found for found, _ in _calculations(text)]

    async def run(self, ctx: RunContext, prompt: str) -> None:
        calculations = [c for _, c in _calculations(prompt)]
        if not calculations:
            await self._answer(ctx, 'I found no arithmetic in that. Try "what is 17*23 in hex?".')
            return
        lines = []
        for calc in calculations:
            await ctx.think(f"Evaluating {calc.expression}")
            value = await ctx.tool(CALCULATE, {"expression": calc.expression})
            if not value.ok:
                lines.append(f"I could not calculate {calc.expression}: {value.error}.")
                continue
            line = f"{calc.expression} = {value.value}"
            if calc.base is not None:
                name = BASE_NAMES[calc.base]
                converted = await ctx.tool(CONVERT_BASE, {"number": value.value, "base": calc.base})
                if converted.ok:
                    line += f", which is {converted.value} in {name}"
                else:
                    line += f" (not convertible to {name}: {converted.error})"
            lines.append(line + ".")
        await self._answer(ctx, "\n".join(lines))


# --- units ---------------------------------------------------------------------

# The lookbehind starts a match only where a number starts: without it every
# digit of a long number was a start, each scanning the rest (32,768 digits: minutes).
_CONVERSION = re.compile(
    r"(?<![\d.])(?P<value>-?\d+(?:\.\d+)?)\s*(?:degrees?\s+)?(?P<source>°?[a-z]+)"
    r"\s+(?:to|in|into|as)\s+(?:degrees?\s+)?(?P<target>°?[a-z]+)\b",
    re.IGNORECASE,
)


def _conversions(text: str) -> list[re.Match[str]]:
    return [
        m
        for m in _CONVERSION.finditer(text)
        if m.group("source").lower() in UNITS and m.group("target").lower() in UNITS
    ]


class UnitsAgent(Specialist):
    """Converts length, mass, temperature and time with the ``convert_units`` tool."""

    name = "units"
    tools = (CONVERT_UNITS,)

    def find(self, text: str) -> list[Found]:
        return [Found(m.start(), m.end(), m.group()) for m in _conversions(text)]

    async def run(self, ctx: RunContext, prompt: str) -> None:
        matches = _conversions(prompt)
        if not matches:
            await self._answer(ctx, 'I found no conversion in that. Try "5 miles to km".')
            return
        lines = []
        for m in matches:
            value = _number(m.group("value"))
            source, target = unit(m.group("source")), unit(m.group("target"))
            await ctx.think(f"Converting {_format(value)} {source.symbol} to {target.symbol}")
            result = await ctx.tool(
                CONVERT_UNITS,
                {"value": value, "from_unit": source.symbol, "to_unit": target.symbol},
            )
            if result.ok:
                lines.append(
                    f"{_format(value)} {source.symbol} = {_format(result.value)} {target.symbol}."
                )
            else:
                lines.append(f"I could not convert {m.group()}: {result.error}.")
        await self._answer(ctx, "\n".join(lines))


# --- clock ---------------------------------------------------------------------

_NOW = re.compile(
    r"\bwhat(?:'s| is)? the (?:time|date)\b|\bwhat time is it\b|\bwhat day is (?:it|today)\b"
    r"|\btoday'?s date\b|\bcurrent (?:time|date)\b",
    re.IGNORECASE,
)
_LATER = re.compile(r"\bin (?P<n>\d+) (?P<unit>minute|hour|day|week)s?\b", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(?P<n>\d+) (?P<unit>minute|hour|day|week)s? (?P<way>ago|from now)\b", re.IGNORECASE
)
_UNTIL = re.compile(
    r"\b(?:how many )?days? (?:until|till|to|before|since) (?P<date>\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    r"\bwhat day (?:of the week )?(?:is|was|will be) (?P<date>\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_CLOCK_PATTERNS = (_WEEKDAY, _UNTIL, _RELATIVE, _LATER, _NOW)


class ClockAgent(Specialist):
    """Answers date and time questions with its clock tools (``now``, ``shift_time``, ...)."""

    name = "clock"

    def __init__(
        self, clock: Clock = utc_now, *, chunk: int = DEFAULT_CHUNK, delay: float = 0.0
    ) -> None:
        super().__init__(chunk=chunk, delay=delay)
        self.tools = clock_tools(clock)
        self._tool = {tool.name: tool for tool in self.tools}

    def find(self, text: str) -> list[Found]:
        found: list[Found] = []
        taken: list[tuple[int, int]] = []
        for pattern in _CLOCK_PATTERNS:
            for m in pattern.finditer(text):
                if all(m.end() <= a or m.start() >= b for a, b in taken):
                    taken.append(m.span())
                    found.append(Found(m.start(), m.end(), m.group()))
        return sorted(found, key=lambda f: f.start)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        answer = await self._handle(ctx, prompt)
        await self._answer(ctx, answer)

    async def _handle(self, ctx: RunContext, prompt: str) -> str:
        if m := _WEEKDAY.search(prompt):
            result = await ctx.tool(self._tool["weekday"], {"date": m["date"]})
            return f"{m['date']} is a {result.value}." if result.ok else f"{result.error}."
        if m := _UNTIL.search(prompt):
            result = await ctx.tool(self._tool["days_until"], {"date": m["date"]})
            if not result.ok:
                return f"{result.error}."
            days = result.value
            if days == 0:
                return f"{m['date']} is today."
            plural = "" if abs(days) == 1 else "s"
            if days > 0:
                return f"{m['date']} is {days} day{plural} away."
            return f"{m['date']} was {-days} day{plural} ago."
        later, relative = _LATER.search(prompt), _RELATIVE.search(prompt)
        if m := relative or later:
            amount = int(m["n"])
            amount = -amount if relative is not None and m["way"].lower() == "ago" else amount
            unit_name = m["unit"].lower() + "s"
            result = await ctx.tool(self._tool["shift_time"], {"amount": amount, "unit": unit_name})
            if not result.ok:
                return f"{result.error}."
            when = describe(datetime.fromisoformat(result.value))
            span = f"{abs(amount)} {unit_name if abs(amount) != 1 else unit_name[:-1]}"
            if amount < 0:
                return f"{span} ago it was {when}."
            return f"In {span} it will be {when}."
        result = await ctx.tool(self._tool["now"])
        return f"It is {describe(datetime.fromisoformat(result.value))}."


# --- researcher ----------------------------------------------------------------

_SEARCH = re.compile(
    r"\b(?:search|look up|find|recall)\b(?:\s+(?:in\s+)?(?:my|our|the)"
    r"\s+(?:history|threads?|messages?|conversations?|chats?))?\s+(?:for|about)\s+(?P<q>[^?!.;]+)",
    re.IGNORECASE,
)
_SAID = re.compile(
    r"\bwhat did i (?:say|write|ask|tell you) about\s+(?P<q>[^?!.;]+)", re.IGNORECASE
)
_MAX_RESULTS = 5
_MAX_RESULT_CHARS = 200


class ResearcherAgent(Specialist):
    """Searches the user's own earlier messages with the ``search_history`` tool."""

    name = "researcher"

    def __init__(
        self,
        search: SearchFunc | None = None,
        *,
        chunk: int = DEFAULT_CHUNK,
        delay: float = 0.0,
    ) -> None:
        super().__init__(chunk=chunk, delay=delay)
        self._search = None if search is None else search_history_tool(search)
        self.tools = () if self._search is None else (self._search,)

    def find(self, text: str) -> list[Found]:
        found = [Found(m.start(), m.end(), m.group()) for m in _SEARCH.finditer(text)]
        found += [Found(m.start(), m.end(), m.group()) for m in _SAID.finditer(text)]
        return sorted(found, key=lambda f: f.start)

    async def run(self, ctx: RunContext, prompt: str) -> None:
        m = _SEARCH.search(prompt) or _SAID.search(prompt)
        query = (m["q"] if m else prompt).strip()
        if self._search is None:
            await self._answer(ctx, "History search is not set up on this server.")
            return
        await ctx.think(f'Searching your history for "{query}"')
        result = await ctx.tool(self._search, {"query": query})
        if not result.ok:
            await self._answer(ctx, f"The search failed: {result.error}.")
            return
        hits: list[str] = list(result.value)[:_MAX_RESULTS]
        if not hits:
            await self._answer(ctx, f'I found nothing about "{query}" in your history.')
            return
        plural = "" if len(hits) == 1 else "s"
        lines = [f'I found {len(hits)} earlier message{plural} about "{query}":']
        lines += [f"- {_shorten(hit)}" for hit in hits]
        await self._answer(ctx, "\n".join(lines))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_RESULT_CHARS else text[: _MAX_RESULT_CHARS - 1] + "…"
