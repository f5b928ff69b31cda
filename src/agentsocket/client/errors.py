"""Errors the client SDK raises.

::

    ClientError                      base of every SDK error (an AgentSocketError)
    ├── ConnectionRejected           the server closed with a do-not-reconnect code
    │   ├── AuthenticationRefused    4001 UNAUTHORIZED, 4002 TOKEN_EXPIRED
    │   └── VersionUnsupported       4004 UNSUPPORTED_VERSION
    ├── ConnectionLost               no connection within the retry budget
    ├── RequestError                 the server answered a request with ``error``
    ├── RequestInterrupted           the connection dropped under a request that
    │                                is not safe to resend
    ├── MissedEvents                 a ``stream_gap`` cut into ``events(run_id)``
    ├── ProtocolViolation            the server broke the protocol (a frame that
    │                                fails validation, a wrong subprotocol)
    ├── InvalidState                 misuse: the connection is closed (RuntimeError)
    └── MessageNotInVersion          misuse: the negotiated version lacks the
                                     message, e.g. ``tool_approval`` in v2 (ValueError)

Server decisions are data on the exception (``exc.code``, ``exc.reason``,
``exc.supported``); the close codes are documented in ``docs/close-codes.md``.
"""

from __future__ import annotations

from agentsocket.protocol import AgentSocketError, CloseCode, ErrorCode, ProtocolError
from agentsocket.protocol.server_messages import ErrorDetail, StreamGap


class ClientError(AgentSocketError):
    """Base class of every exception the client SDK raises."""


class ConnectionRejected(ClientError):  # noqa: N818 - reads as an outcome
    """The server closed the connection with a code that says "do not reconnect as is".

    Attributes:
        code: the close code (a :class:`CloseCode` when it is one of ours).
        reason: the close reason; it starts with a machine word (``expired``, ...).
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"connection closed with {code}: {reason}")
        self.code: CloseCode | int = _close_code(code)
        self.reason = reason


class AuthenticationRefused(ConnectionRejected):
    """Closed with 4001 (missing or invalid credentials) or 4002 (token expired).

    Get valid credentials (a fresh token or ticket), then connect again.
    """


class VersionUnsupported(ConnectionRejected):
    """Closed with 4004: the server does not speak the requested protocol version.

    Attributes:
        supported: the versions the server offers, parsed from the close reason.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        _, found, names = reason.rpartition("supported:")
        self.supported: tuple[str, ...] = (
            tuple(name.strip() for name in names.split(",") if name.strip()) if found else ()
        )


class ConnectionLost(ClientError):  # noqa: N818 - reads as a state
    """No connection could be (re-)established within the retry budget.

    Attributes:
        attempts: how many connection attempts failed in a row (0: ``reconnect=False``).
    """

    def __init__(self, attempts: int, cause: BaseException | None) -> None:
        detail = f": {cause!r}" if cause is not None else ""
        tried = f"after {attempts} failed attempts" if attempts else "(reconnect is off)"
        super().__init__(f"connection lost {tried}{detail}")
        self.attempts = attempts


class RequestError(ClientError):
    """The server refused a request with an ``error`` reply; the connection is still usable.

    Attributes:
        code: the :class:`ErrorCode` (``not_found``, ``rate_limited``, ...).
        message: the server's sentence.
        errors: for ``validation_failed``, every bad field (JSON path and reason).
        retry_after: for ``rate_limited``, seconds to wait before resending.
        run_id: the run the refusal is about: for ``conflict`` on a message,
            the thread's running run (double-texting ``reject``).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        errors: tuple[ErrorDetail, ...] = (),
        retry_after: float | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after
        self.run_id = run_id


class RequestInterrupted(ClientError):  # noqa: N818 - reads as an outcome
    """The connection dropped while a request that is not safe to resend was in flight.

    The server may or may not have acted on it (``create_thread``,
    ``delete_thread``, ``stop``, ``approve``): check, then retry if needed.
    """


class MissedEvents(ClientError):  # noqa: N818 - reads as an outcome
    """A ``stream_gap`` arrived while iterating ``events(run_id)``: some events are gone.

    Reload the thread with ``history(thread_id)``.

    Attributes:
        gap: the ``stream_gap`` message.
    """

    def __init__(self, gap: StreamGap) -> None:
        super().__init__(f"stream entries {gap.from_seq}..{gap.to_seq} are gone ({gap.reason})")
        self.gap = gap


class ProtocolViolation(ClientError):  # noqa: N818 - the name says what happened
    """The server broke the protocol; the connection is closed.

    Attributes:
        error: the codec's diagnosis (code and bad fields), when a frame failed to decode.
        frame: the offending frame, when there was one.
    """

    def __init__(
        self, message: str, error: ProtocolError | None = None, frame: bytes | str | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.frame = frame


class InvalidState(ClientError, RuntimeError):  # noqa: N818 - as in websockets
    """The call is not possible now: the connection was closed by :meth:`close`."""


class MessageNotInVersion(ClientError, ValueError):  # noqa: N818 - reads as a fact
    """The negotiated protocol version has no such message (``tool_approval`` before v3).

    Attributes:
        type_name: the message type.
        version: the negotiated version.
    """

    def __init__(self, type_name: str, version: str) -> None:
        super().__init__(f"protocol {version} has no {type_name!r} message")
        self.type_name = type_name
        self.version = version


def _close_code(code: int) -> CloseCode | int:
    try:
        return CloseCode(code)
    except ValueError:
        return code
