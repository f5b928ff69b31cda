"""The framework examples of docs/agents.md ("An agent built with a framework") run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.agents.standin import StandIn, Stream, finish, serve, text, tool_call

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"

TOOL_RUN = [
    "agent_started",
    "tool_executing",
    "tool_completed",
    "agent_message_delta",
    "agent_message",
    "agent_completed",
]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _collapsed(types: list[str]) -> list[str]:
    return [t for i, t in enumerate(types) if not (i and t == types[i - 1])]


async def test__langgraph_example(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("langgraph", reason="needs the langgraph extra")
    assert _collapsed(await _load("langgraph_agent").main()) == TOOL_RUN
    assert capsys.readouterr().out == "The sum is 5.\n"


async def test__pydantic_ai_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pydantic_ai", reason="needs the pydantic-ai extra")
    monkeypatch.delenv("AGENT_MODEL", raising=False)
    assert _collapsed(await _load("pydantic_ai_agent").main()) == TOOL_RUN
    assert capsys.readouterr().out == '{"add":0}\n'


async def test__openai_agents_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("agents", reason="needs the openai-agents extra")
    async for standin in serve(StandIn()):
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "not-a-key")
        monkeypatch.setenv("AGENT_MODEL", "stand-in")
        standin.script(
            Stream([*tool_call(0, "c1", "add", '{"a": 2, "b": 3}'), finish("tool_calls")]),
            Stream([*text("2 + 3 ", "is 5."), finish()]),
        )
        assert _collapsed(await _load("openai_agents_agent").main()) == TOOL_RUN
        assert standin.requests[0]["model"] == "stand-in"
        assert capsys.readouterr().out == "2 + 3 is 5.\n"
