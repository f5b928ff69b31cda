"""How an agent says why its run failed.

An agent raises :class:`AgentFailure` to end its run with a chosen
``agent_error`` code; any other exception becomes ``agent_failed``, not
retryable. The runner never lets either escape: they become events.
"""

from __future__ import annotations

from agentsocket.protocol.codes import AgentErrorCode


class AgentFailure(Exception):  # noqa: N818 - an outcome the agent chooses, not a bug
    """End the run with ``agent_error``: ``code``, ``message`` and ``retryable``.

    Args:
        code: why the run failed, e.g. ``AgentErrorCode.UPSTREAM_TIMEOUT``.
        message: what the user sees.
        retryable: whether resending the same message may succeed.
    """

    def __init__(self, code: AgentErrorCode, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = AgentErrorCode(code)
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return (
            f"AgentFailure(code={self.code.value!r}, message={self.message!r}, "
            f"retryable={self.retryable})"
        )
