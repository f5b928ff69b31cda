"""Model API errors of any framework as typed failures (``upstream_*`` codes).

Recognised by type, only for libraries already imported: PydanticAI's
``ModelAPIError`` family, and the ``openai`` client's ``APIError`` family
(the OpenAI Agents SDK, and LangChain's OpenAI models). Anything else stays
as it is and ends the run with ``agent_failed``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agentsocket.agents.errors import AgentFailure
from agentsocket.protocol.codes import AgentErrorCode

logger = logging.getLogger("agentsocket.agents")

_MAX_MESSAGE = 500


@contextmanager
def model_errors() -> Iterator[None]:
    """Turn a model API error raised inside the block into an :class:`AgentFailure`.

    The original error, with its traceback, goes to the log; the client sees
    only the typed failure.
    """
    try:
        yield
    except Exception as exc:
        failure = upstream_failure(exc)
        if failure is None:
            raise
        logger.warning("model API error: %s", failure.message, exc_info=exc)
        raise failure from exc


def upstream_failure(exc: BaseException) -> AgentFailure | None:
    """``exc`` as a typed failure if it is a model API error, else None."""
    found = _pydantic_ai(exc)
    return found if found is not None else _openai(exc)


def _pydantic_ai(exc: BaseException) -> AgentFailure | None:
    errors: Any = sys.modules.get("pydantic_ai.exceptions")
    if errors is None or not isinstance(exc, errors.ModelAPIError):
        return None
    message = f"model API error: {exc}"[:_MAX_MESSAGE]
    if isinstance(exc, errors.ModelTimeoutError):
        return AgentFailure(AgentErrorCode.UPSTREAM_TIMEOUT, message, retryable=True)
    if isinstance(exc, errors.ModelRateLimitError):
        return AgentFailure(AgentErrorCode.UPSTREAM_RATE_LIMITED, message, retryable=True)
    transient = (errors.ModelUnavailableError, errors.ModelServerError, errors.ModelConnectionError)
    return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, isinstance(exc, transient))


def _openai(exc: BaseException) -> AgentFailure | None:
    openai: Any = sys.modules.get("openai")
    if openai is None or not isinstance(exc, openai.APIError):
        return None
    message = f"model API error: {exc.message}"[:_MAX_MESSAGE]
    if isinstance(exc, openai.APITimeoutError):
        return AgentFailure(AgentErrorCode.UPSTREAM_TIMEOUT, message, retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return AgentFailure(AgentErrorCode.UPSTREAM_RATE_LIMITED, message, retryable=True)
    if isinstance(exc, openai.APIStatusError):
        return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, exc.status_code >= 500)
    if isinstance(exc, openai.APIConnectionError):
        return AgentFailure(AgentErrorCode.UPSTREAM_ERROR, message, retryable=True)
    return AgentFailure(AgentErrorCode.UPSTREAM_MALFORMED, message, retryable=False)
