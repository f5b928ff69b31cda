"""Errors of the protocol package.

::

    AgentSocketError                 base of every error agentsocket raises
    ├── ProtocolError                a peer sent a frame we cannot accept
    │                                (returned by the codec, raised by clients)
    └── UnsupportedVersionError      a caller named a version we do not speak
        (also a ValueError)

Peer mistakes become data: :func:`agentsocket.protocol.codec.decode_client`
*returns* a :class:`ProtocolError`, which the server turns into an ``error``
message. Caller mistakes raise at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentsocket.protocol.codes import ErrorCode


class AgentSocketError(Exception):
    """Base class of every exception raised by agentsocket."""


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One bad field: a JSON path in the sender's wire shape, and why."""

    path: str
    reason: str


class ProtocolError(AgentSocketError):
    """A frame that cannot be accepted, with a wire error code.

    Attributes:
        code: the :class:`ErrorCode` sent back in the ``error`` message.
        message: a human sentence.
        issues: for ``validation_failed``, every bad field.
        correlation_id: the sender's correlation id, when it could be read.
        run_id: the run the refusal is about (``conflict``: a busy thread's run).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        issues: tuple[FieldIssue, ...] = (),
        correlation_id: str | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.issues = issues
        self.correlation_id = correlation_id
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"ProtocolError({self.code.value!r}, {self.message!r}, issues={self.issues!r})"


class UnsupportedVersionError(AgentSocketError, ValueError):
    """Raised when code asks for a protocol version that is not registered."""

    def __init__(self, version: str, supported: tuple[str, ...]) -> None:
        super().__init__(f"unsupported protocol version {version!r}; supported: {supported}")
        self.version = version
        self.supported = supported
