"""HS256 tokens for the embedded default's dev mode and for tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt

from agentsocket.server.auth.settings import MIN_SECRET_BYTES


def issue_token(
    secret: str,
    user_id: str,
    ttl_seconds: float = 3600,
    audience: str | None = None,
    issuer: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """Sign an HS256 token that `TokenVerifier` accepts with the same secret.

    Args:
        secret: The shared secret (at least 32 bytes, as `AuthSettings` demands).
        user_id: Becomes ``sub``.
        ttl_seconds: ``exp`` is now plus this; negative yields an expired token.
        audience: Becomes ``aud`` when given.
        issuer: Becomes ``iss`` when given.
        extra_claims: Added last, so they may override any claim above.

    Returns:
        The compact JWT.

    Raises:
        ValueError: Short secret or empty ``user_id``.
    """
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
    if not user_id:
        raise ValueError("user_id must not be empty")
    now = time.time()
    claims: dict[str, Any] = {"sub": user_id, "iat": int(now), "exp": int(now + ttl_seconds)}
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    claims.update(extra_claims or {})
    return jwt.encode(claims, secret, algorithm="HS256")


#: ``environment`` values in which dev mode is refused.
PRODUCTION_ENVIRONMENTS = frozenset({"production", "prod"})


def dev_mode_refusal(
    environment: str, *, configured_secret: bool, configured_jwks: bool
) -> str | None:
    """Why dev mode must not start here, or ``None`` when it may.

    Dev mode mints a token for any user who asks (``POST /auth/dev-token``).
    With the deployment's own secret or JWKS those tokens would be valid in
    production, so dev mode only runs with a secret made for that run, and
    never in a production environment.

    Args:
        environment: the gateway's ``environment`` setting.
        configured_secret: a JWT secret was configured (not generated for this run).
        configured_jwks: a JWKS file or URL was configured.
    """
    if environment.strip().lower() in PRODUCTION_ENVIRONMENTS:
        return f"dev mode is refused in environment {environment!r}"
    if configured_secret or configured_jwks:
        which = "a JWT secret" if configured_secret else "a JWKS"
        return (
            f"dev mode is refused with {which} configured: it would mint tokens that "
            "configuration accepts; unset it (dev mode makes its own secret)"
        )
    return None
