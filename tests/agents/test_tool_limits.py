"""CPU-heavy tool work cannot hold the event loop or a worker for long (issue 12, bug 2)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentsocket.agents.specialists import (
    CalculatorAgent,
    ClockAgent,
    ResearcherAgent,
    Specialist,
    UnitsAgent,
    _calculations,
    _trim,
)
from agentsocket.agents.tool import Tool, ToolContext, ToolTimeoutError, invoke
from agentsocket.agents.tools import CALCULATE, CONVERT_BASE, CONVERT_UNITS

CONTEXT = ToolContext("alice", "t-1", "r-1", "call-1")


def reference_trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The original (quadratic) algorithm: the behaviour the linear one must keep."""
    while True:
        before = (start, end)
        while start < end and text[start] in " \t\n.*/%)":
            start += 1
        while end > start and text[end - 1] in " \t\n.+-*/%(":
            end -= 1
        piece = text[start:end]
        if piece.count("(") > piece.count(")") and piece.startswith("("):
            start += 1
        elif piece.count(")") > piece.count("(") and piece.endswith(")"):
            end -= 1
        if (start, end) == before:
            return start, end


class TouchCountingStr(str):
    """A str that counts how many characters slicing, indexing and count() look at."""

    touched = 0

    def __getitem__(self, key: Any) -> str:
        piece = str.__getitem__(self, key)
        TouchCountingStr.touched += max(1, len(piece))
        return piece

    def count(self, sub: str, *args: Any) -> int:
        start, end, _ = slice(*args).indices(len(self)) if args else (0, len(self), 1)
        TouchCountingStr.touched += max(0, end - start)
        return str.count(self, sub, *args)


@given(st.text(alphabet="()1+-*/. \n%", max_size=60))
def test__trim__same_result_as_reference(text: str) -> None:
    assert _trim(text, 0, len(text)) == reference_trim(text, 0, len(text))


@pytest.mark.parametrize(
    "text", ["1+1" + ")" * 32765, "(" * 32765 + "1+1", "((" * 8000 + "1+1" + ")" * 16000]
)
def test__trim__attack_input__linear_work(text: str) -> None:
    # The attack run's prompt: the old _trim re-sliced and re-counted the whole run
    # once per removed parenthesis (~n²/2 characters, ~1 s on the event loop).
    TouchCountingStr.touched = 0
    _trim(TouchCountingStr(text), 0, len(text))
    assert TouchCountingStr.touched <= 8 * len(text)  # linear; the old one: n²/2


def test__calculations__attack_prompt__finds_the_sum() -> None:
    (found, calculation), *_ = _calculations("1+1" + ")" * 32765)
    assert calculation.expression == "1+1"
    assert (found.start, found.end) == (0, 3)


def test__computing_tools__have_a_time_limit() -> None:
    for tool in (CALCULATE, CONVERT_BASE, CONVERT_UNITS):
        assert tool.timeout_seconds is not None


async def test__threaded_tool_past_its_limit__timeout_error_and_loop_free() -> None:
    release = threading.Event()

    def spin() -> str:
        release.wait(10)  # a blocking call: it runs in a worker thread, not on the loop
        return "late"

    tool = Tool("spin", "blocks", {"type": "object"}, spin, timeout_seconds=0.05)
    with pytest.raises(ToolTimeoutError, match=r"spin took longer than 0\.05 s"):
        await invoke(tool, {}, CONTEXT)
    release.set()


async def test__async_tool_past_its_limit__timeout_error() -> None:
    async def slow() -> None:
        await asyncio.sleep(10)

    tool = Tool("slow", "waits", {"type": "object"}, slow, timeout_seconds=0.05)
    with pytest.raises(ToolTimeoutError):
        await invoke(tool, {}, CONTEXT)


async def test__tool_within_its_limit__returns_value() -> None:
    assert await invoke(CALCULATE, {"expression": "17*23"}, CONTEXT) == 391


def test__tool__non_positive_timeout__refused() -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        Tool("t", "d", {"type": "object"}, lambda: None, timeout_seconds=0)


HOSTILE_PROMPTS = {
    "digits": "1" * 32_768,  # UnitsAgent's regex: every digit a start, each scanning the rest
    "closing parens": "1+1" + ")" * 32_765,
    "opening parens": "(" * 32_765 + "1+1",
    "number then spaces": "5" + " " * 32_767,
    "operator then spaces": "1+" + " " * 32_766,
    "dotted digits": "1." * 16_384,
    "unit words": "5 km " * 6_553,
}


def _specialists() -> list[Specialist]:
    return [CalculatorAgent(), UnitsAgent(), ClockAgent(), ResearcherAgent(_no_search)]


async def _no_search(user_id: str, query: str) -> list[str]:
    return []


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS.values(), ids=HOSTILE_PROMPTS.keys())
def test__specialists_find__hostile_max_length_prompt__finishes(prompt: str) -> None:
    # A hang guard, not a speed test: each takes milliseconds now; the
    # backtracking regex took minutes on "digits", blocking the event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for specialist in _specialists():
            pool.submit(specialist.find, prompt).result(timeout=60)
