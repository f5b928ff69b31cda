"""Every number and code that goes on the wire, in one place.

``ErrorCode`` values travel in ``error`` messages; ``CloseCode`` values close
the WebSocket. Clients branch on them, so they are never reused with another
meaning (see ``RESERVED`` in :mod:`agentsocket.protocol.versions`).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """Why a frame or request was refused; the connection stays usable."""

    # The frame itself (codec).
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    VALIDATION_FAILED = "validation_failed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    # The request (router and services).
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    TOO_MANY_RUNS = "too_many_runs"
    NOT_SUPPORTED = "not_supported"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class AgentErrorCode(StrEnum):
    """Why an agent run ended in ``agent_error``."""

    AGENT_FAILED = "agent_failed"
    TIMEOUT = "timeout"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited"
    UPSTREAM_ERROR = "upstream_error"
    UPSTREAM_MALFORMED = "upstream_malformed"
    UPSTREAM_UNREACHABLE = "upstream_unreachable"  # connection refused, DNS failure
    UPSTREAM_DISCONNECTED = "upstream_disconnected"  # the stream broke off mid-answer
    UPSTREAM_TOO_LARGE = "upstream_too_large"  # an event or stream over its byte cap
    WORKER_LOST = "worker_lost"
    NO_WORKER = "no_worker"
    GATEWAY_LOST = "gateway_lost"  # the node running it died (crash, kill -9); retryable
    UNKNOWN_AGENT = "unknown_agent"
    # Run again after its process died, the agent asked something else than before a pause.
    RESUME_DIVERGED = "resume_diverged"


class CloseCode(IntEnum):
    """WebSocket close codes the gateway uses.

    1000-2999 are RFC 6455's; 4000-4999 are ours. The 40xx block means
    "do not reconnect without changing something", the 41xx block means
    "reconnect, with backoff". ``docs/close-codes.md`` is generated from this.
    """

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down this node; reconnect elsewhere
    # 1002 protocol error, 1003 unsupported data: not used, frames get error replies
    INVALID_PAYLOAD = 1007  # from the transport: a text frame that is not valid UTF-8
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011  # also: no pong to the server's keepalive ping in time
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    # 4000-4099: do not reconnect as is.
    UNAUTHORIZED = 4001  # no, malformed or invalid credentials
    TOKEN_EXPIRED = 4002  # token expired (at connect or during the connection)
    FORBIDDEN_ORIGIN = 4003
    UNSUPPORTED_VERSION = 4004
    TOO_MANY_CONNECTIONS = 4005
    ABUSE = 4008  # sustained rate-limit or malformed-frame abuse
    # 4100-4199: reconnect with backoff.
    # 4100 is reserved: heartbeat timeouts close with 1011 from the transport.
    SLOW_CONSUMER = 4101
    NOT_READY = 4102  # a backend (e.g. Redis) is unavailable

    @property
    def reconnect(self) -> bool:
        """True when a client should reconnect (with backoff) after this code."""
        return self in _RECONNECT


_RECONNECT = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.SLOW_CONSUMER,
        CloseCode.NOT_READY,
    }
)
