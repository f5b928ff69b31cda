"""A token's ``sub`` must name a storable user: NUL, control characters and huge ones are refused.

Issue 12, bug 7: ``sub`` with U+0000 passed authentication and failed later in
PostgreSQL as ``internal``.
"""

from __future__ import annotations

import time

import jwt
import pytest

from agentsocket.server.auth import (
    AuthenticationFailed,
    AuthFailure,
    AuthSettings,
    Principal,
    TokenVerifier,
)
from agentsocket.server.auth.principal import MAX_USER_ID_CHARS

SECRET = "subject-tests-secret-that-is-long-enough-0123456789"


def token(sub: object) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "sub",
    ["a\x00b", "\x00", "alice\nINFO forged log line", "tab\there", "x" * (MAX_USER_ID_CHARS + 1)],
)
async def test__unusable_sub__verify__invalid_subject(sub: str) -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    with pytest.raises(AuthenticationFailed) as refused:
        await verifier.verify(token(sub))
    assert refused.value.failure is AuthFailure.INVALID_SUBJECT
    assert sub not in refused.value.detail


@pytest.mark.parametrize("sub", ["", 7, None])
async def test__missing_sub__verify__missing_subject(sub: object) -> None:
    verifier = TokenVerifier(AuthSettings(secret=SECRET))
    with pytest.raises(AuthenticationFailed) as refused:
        await verifier.verify(token(sub))
    assert refused.value.failure in {AuthFailure.MISSING_SUBJECT, AuthFailure.MALFORMED_TOKEN}


@pytest.mark.parametrize("sub", ["alice", "user@example.com", "ünïcødé ✓", "x" * MAX_USER_ID_CHARS])
async def test__usable_sub__verify__principal(sub: str) -> None:
    principal = await TokenVerifier(AuthSettings(secret=SECRET)).verify(token(sub))
    assert principal.user_id == sub


def test__principal__control_character__refused_at_construction() -> None:
    with pytest.raises(ValueError, match="control character"):
        Principal(user_id="a\x00")
