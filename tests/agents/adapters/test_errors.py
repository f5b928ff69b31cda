"""Model API errors of the frameworks become upstream_* codes; the rest stays agent_failed."""

from __future__ import annotations

import httpx
import pytest

from agentsocket.agents import AgentFailure
from agentsocket.agents.adapters._errors import model_errors, upstream_failure
from agentsocket.protocol.codes import AgentErrorCode


def _openai_errors() -> list[tuple[BaseException, AgentErrorCode, bool]]:
    openai = pytest.importorskip("openai", reason="needs the openai-agents extra")
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def status(code: int) -> httpx.Response:
        return httpx.Response(code, request=request)

    return [
        (openai.APITimeoutError(request), AgentErrorCode.UPSTREAM_TIMEOUT, True),
        (
            openai.RateLimitError("slow down", response=status(429), body=None),
            AgentErrorCode.UPSTREAM_RATE_LIMITED,
            True,
        ),
        (
            openai.InternalServerError("down", response=status(503), body=None),
            AgentErrorCode.UPSTREAM_ERROR,
            True,
        ),
        (
            openai.AuthenticationError("no key", response=status(401), body=None),
            AgentErrorCode.UPSTREAM_ERROR,
            False,
        ),
        (openai.APIConnectionError(request=request), AgentErrorCode.UPSTREAM_ERROR, True),
    ]


def _pydantic_ai_errors() -> list[tuple[BaseException, AgentErrorCode, bool]]:
    errors = pytest.importorskip("pydantic_ai.exceptions", reason="needs the pydantic-ai extra")
    return [
        (errors.ModelTimeoutError("m", "too slow"), AgentErrorCode.UPSTREAM_TIMEOUT, True),
        (errors.ModelRateLimitError("m", "slow down"), AgentErrorCode.UPSTREAM_RATE_LIMITED, True),
        (errors.ModelServerError("m", "down"), AgentErrorCode.UPSTREAM_ERROR, True),
        (errors.ModelAuthenticationError("m", "no key"), AgentErrorCode.UPSTREAM_ERROR, False),
    ]


@pytest.mark.parametrize("source", [_openai_errors, _pydantic_ai_errors])
def test__model_api_errors__typed_codes(source: object) -> None:
    assert callable(source)
    for error, code, retryable in source():
        failure = upstream_failure(error)
        assert failure is not None, error
        assert (failure.code, failure.retryable) == (code, retryable), error
        assert failure.message.startswith("model API error: ")


def test__other_errors__left_as_they_are() -> None:
    assert upstream_failure(ValueError("bug")) is None
    with pytest.raises(ValueError, match="bug"), model_errors():
        raise ValueError("bug")


def test__model_errors__raises_the_failure_and_logs_the_original(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors = pytest.importorskip("pydantic_ai.exceptions", reason="needs the pydantic-ai extra")
    with pytest.raises(AgentFailure) as raised, model_errors():
        raise errors.ModelRateLimitError("m", "slow down")
    assert raised.value.code == AgentErrorCode.UPSTREAM_RATE_LIMITED
    assert isinstance(raised.value.__cause__, errors.ModelRateLimitError)
    assert caplog.records[-1].exc_info is not None
