"""The AG-UI example of docs/agents.md runs against the stand-in AG-UI server."""

from __future__ import annotations

import pytest

from tests.agents.adapters.agui_standin import AGUIStandin, Events, run_events, text, tool
from tests.agents.test_docs import _load


async def test__ag_ui_agent_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGUI_TOKEN", "t0ken")
    events = run_events(*tool("c1", "multiply", '{"a": 6, "b": 7}', "42"), *text("m1", "42."))
    async with AGUIStandin([Events(events)]) as server:
        outcome = await _load("ag_ui_agent").main(server.url)

    assert (outcome.status, outcome.text) == ("completed", "42.")
    assert server.received[0].headers["authorization"] == "Bearer t0ken"
