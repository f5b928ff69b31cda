"""An agent cannot stop the process: SystemExit and other BaseExceptions fail only its run."""

from __future__ import annotations

import asyncio

import pytest

from agentsocket.agents import ListSink, RunContext, Runner
from agentsocket.protocol.server_messages import AgentError


class Raises:
    name = "raises"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def run(self, ctx: RunContext, prompt: str) -> None:
        raise self.error


class Custom(BaseException):
    pass


@pytest.mark.parametrize("error", [SystemExit(3), GeneratorExit(), Custom("odd")])
async def test__base_exception__agent_failed_and_the_loop_goes_on(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    sink = ListSink()
    runner = Runner()
    runner.start("u", "t", Raises(error), "hi", "run_1", sink)
    outcome = await runner.wait("run_1")
    await asyncio.sleep(0)  # the loop is still running: nothing escaped into it

    assert (outcome.status, outcome.error_code, outcome.retryable) == (
        "error",
        "agent_failed",
        False,
    )
    [event] = sink.of_type(AgentError)
    assert event.message.startswith(f"AgentEscaped: the agent raised {type(error).__name__}")
    assert "Traceback" in caplog.text
