"""adapt(): our agents pass as they are, framework objects are wrapped, the rest refused."""

from __future__ import annotations

import subprocess
import sys

from agentsocket.agents import DemoAgent, RunContext
from agentsocket.agents.adapters import adapt, is_agent


class Echo:
    name = "echo"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        await ctx.say(prompt)


class SyncRun:
    name = "sync"

    def run(self, ctx: RunContext, prompt: str) -> None:
        """Not an agent: run must be async."""


def test__an_agentsocket_agent__returned_as_it_is() -> None:
    echo, demo = Echo(), DemoAgent()
    assert adapt(echo) is echo
    assert adapt(demo, name="ignored") is demo


def test__not_an_agent__none() -> None:
    for obj in (object(), "echo", SyncRun(), Echo, 42):
        assert adapt(obj) is None
    assert not is_agent(SyncRun())


def test__core_import__loads_no_framework() -> None:
    code = (
        "import sys\n"
        "from agentsocket.agents.adapters import adapt\n"
        "assert adapt(object()) is None\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('langgraph', 'langchain_core', 'pydantic_ai', 'agents', 'openai')]\n"
        "print(loaded)\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
