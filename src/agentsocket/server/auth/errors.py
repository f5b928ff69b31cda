"""Why a handshake was refused.

Exception tree::

    Exception
     └── AuthenticationFailed    the peer's credentials were refused; .failure says why

Peer mistakes (a bad token, a reused ticket) raise `AuthenticationFailed`; the
server maps `.failure` to a close code. Caller mistakes (bad settings) raise
`ValueError` at construction.
"""

from __future__ import annotations

from enum import StrEnum


class AuthFailure(StrEnum):
    """The reason a connection could not be authenticated."""

    MISSING_TOKEN = "missing_token"
    """No bearer token and no ticket was offered."""
    MALFORMED_TOKEN = "malformed_token"
    """Not a JWT, lacks a required claim (``exp``), or credentials were ambiguous."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not match the key."""
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    """``alg`` is ``none``, outside the configured list, or does not fit the key."""
    EXPIRED = "expired"
    """``exp`` is in the past (beyond the leeway)."""
    NOT_YET_VALID = "not_yet_valid"
    """``nbf`` (or ``iat``) is in the future (beyond the leeway)."""
    WRONG_AUDIENCE = "wrong_audience"
    """``aud`` is missing or does not name the configured audience."""
    WRONG_ISSUER = "wrong_issuer"
    """``iss`` is missing or is not the configured issuer."""
    MISSING_SUBJECT = "missing_subject"
    """``sub`` is missing, empty or not a string."""
    INVALID_SUBJECT = "invalid_subject"
    """``sub`` cannot name a user: over 256 characters, or holds a control character (NUL...)."""
    UNKNOWN_KEY = "unknown_key"
    """No usable JWKS key matches the token's ``kid``."""
    INVALID_TICKET = "invalid_ticket"
    """The ticket is unknown, expired or was already used."""
    JWKS_UNAVAILABLE = "jwks_unavailable"
    """The JWKS file or URL could not be read; the client may retry later."""


class AuthenticationFailed(Exception):  # noqa: N818 - the name the server API expects
    """The peer's credentials were refused.

    Attributes:
        failure: Machine-readable reason, mapped to a close code by the server.
        detail: Human explanation for logs; never contains the token or ticket.
    """

    def __init__(self, failure: AuthFailure, detail: str) -> None:
        super().__init__(f"{failure}: {detail}")
        self.failure = failure
        self.detail = detail
