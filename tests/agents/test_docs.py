"""The examples in docs/agents.md: each block is in a file of docs/examples/, which runs."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.agents.standin import StandIn, Stream, finish, serve, text, tool_call

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "agents.md"
EXAMPLES = ROOT / "docs" / "examples"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _in_file(block: str, source: str) -> bool:
    """True if ``block``, indented by some multiple of four spaces, is part of ``source``."""
    return any(textwrap.indent(block, " " * depth) in source for depth in range(0, 17, 4))


def test__every_python_block_in_the_doc__is_part_of_an_example_file() -> None:
    sources = [path.read_text() for path in sorted(EXAMPLES.glob("*.py"))]
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8
    missing = [block for block in blocks if not any(_in_file(block, s) for s in sources)]
    assert missing == []


def test__every_example_file__is_linked_from_the_doc() -> None:
    doc = DOC.read_text()
    for path in EXAMPLES.glob("*.py"):
        assert f"(examples/{path.name})" in doc


async def test__echo_agent() -> None:
    assert await _load("echo_agent").main() == [
        "agent_started",
        "agent_thinking",
        "agent_message_delta",
        "agent_message",
        "agent_completed",
    ]


async def test__tool_agent(capsys: pytest.CaptureFixture[str]) -> None:
    types = await _load("tool_agent").main()
    assert types[:6] == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_message_delta",
        "agent_message_delta",
        "agent_message",
    ]
    assert capsys.readouterr().out.splitlines() == [
        "That is 3 words.",
        "agent_failed - Give me some text to count.",
    ]


async def test__approval_agent() -> None:
    assert await _load("approval_agent").main() == "I kept it (I still need it)."


async def test__delegating_agent() -> None:
    events: list[tuple[str, str, Any]] = await _load("delegating_agent").main()
    assert [(name, kind) for name, kind, _ in events if kind == "agent_started"] == [
        ("supervisor", "agent_started"),
        ("shouter", "agent_started"),
        ("reverser", "agent_started"),
    ]
    assert {parent for name, _, parent in events if name != "supervisor"} == {"run-1"}


async def test__demo_agent() -> None:
    assert await _load("demo_agent").main() == (
        "- 17*23 = 391, which is 0x187 in hexadecimal.\n"
        '- I found 1 earlier message about "pizza":\n'
        "  - Pizza on Friday?"
    )


async def test__openai_agent_against_a_stand_in_server() -> None:
    async for standin in serve(StandIn()):
        standin.script(
            Stream(
                [*tool_call(0, "c1", "calculate", '{"expression": "17*23"}'), finish("tool_calls")]
            ),
            Stream([*text("17*23 is 391."), finish()]),
        )
        outcome = await _load("openai_agent").main(standin.base_url, "stand-in")
        assert (outcome.status, outcome.text) == ("completed", "17*23 is 391.")
        assert standin.requests[0]["messages"][0]["role"] == "system"
        assert standin.requests[1]["messages"][-1]["content"] == "391"


def test__examples_import_only_public_modules() -> None:
    for path in EXAMPLES.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith("from agentsocket"):
                module = line.split()[1]
                assert module in {
                    "agentsocket.agents",
                    "agentsocket.agents.adapters.ag_ui",
                    "agentsocket.protocol.server_messages",
                }
