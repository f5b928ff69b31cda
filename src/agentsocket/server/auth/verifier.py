"""JWT verification: RFC 7519 claims, RFC 8725 best practices.

The accepted algorithms come from `AuthSettings`, never from the token, and
each family has its own key: HS* only ever uses the shared secret, RS*/ES*
only ever use a JWKS public key. That closes both ``alg: none`` and the
HS/RS key-confusion attack (an HS256 token "signed" with the public key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidSubjectError,
    MissingRequiredClaimError,
    PyJWTError,
)

from agentsocket.server.auth.errors import AuthenticationFailed, AuthFailure
from agentsocket.server.auth.jwks import JwksKeys, PublicKeyType
from agentsocket.server.auth.principal import Principal, user_id_problem
from agentsocket.server.auth.settings import HMAC_ALGORITHMS, AuthSettings

MAX_TOKEN_CHARS = 8192
"""Longer tokens are refused before any parsing."""

# Most specific first: several of these subclass each other.
_FAILURES: tuple[tuple[type[PyJWTError], AuthFailure, str], ...] = (
    (ExpiredSignatureError, AuthFailure.EXPIRED, "the token has expired"),
    (ImmatureSignatureError, AuthFailure.NOT_YET_VALID, "the token is not valid yet"),
    (InvalidAudienceError, AuthFailure.WRONG_AUDIENCE, "the token is for another audience"),
    (InvalidIssuerError, AuthFailure.WRONG_ISSUER, "the token is from another issuer"),
    (InvalidSubjectError, AuthFailure.MISSING_SUBJECT, "the token's sub is not a string"),
    (InvalidAlgorithmError, AuthFailure.ALGORITHM_NOT_ALLOWED, "the algorithm is not allowed"),
    (InvalidSignatureError, AuthFailure.BAD_SIGNATURE, "signature verification failed"),
    (InvalidKeyError, AuthFailure.UNKNOWN_KEY, "the key cannot verify this token"),
)
_MISSING_CLAIM_FAILURES = {
    "aud": AuthFailure.WRONG_AUDIENCE,
    "iss": AuthFailure.WRONG_ISSUER,
    "sub": AuthFailure.MISSING_SUBJECT,
}


class TokenVerifier:
    """Verifies bearer JWTs and turns them into a `Principal`.

    Args:
        settings: Keys, algorithms and claim checks.
        http_client: Used to fetch ``settings.jwks_url``; owned by the caller.
            Without one, each (rare) fetch opens a short-lived client.
        clock: Monotonic clock for the JWKS cache; tests inject their own.
    """

    def __init__(
        self,
        settings: AuthSettings,
        http_client: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        has_jwks = settings.jwks_file is not None or settings.jwks_url is not None
        self._jwks = JwksKeys(settings, http_client, clock=clock) if has_jwks else None

    async def verify(self, token: str) -> Principal:
        """Check the token's signature and claims.

        ``exp`` is required; ``nbf`` and ``iat`` are checked when present;
        ``aud`` and ``iss`` are checked when the settings name them.

        Returns:
            The principal whose ``user_id`` is the token's ``sub``.

        Raises:
            AuthenticationFailed: With the reason; the detail never holds the token.
        """
        if not token:
            raise AuthenticationFailed(AuthFailure.MISSING_TOKEN, "the bearer token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationFailed(
                AuthFailure.MALFORMED_TOKEN, f"the token is over {MAX_TOKEN_CHARS} characters"
            )
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise AuthenticationFailed(
                AuthFailure.MALFORMED_TOKEN, "the token is not a well-formed JWT"
            ) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._settings.algorithms:
            allowed = ", ".join(self._settings.algorithms)
            raise AuthenticationFailed(
                AuthFailure.ALGORITHM_NOT_ALLOWED,
                f"alg {str(alg)[:32]!r} is not allowed (allowed: {allowed})",
            )
        key = await self._key_for(alg, header.get("kid"))
        claims = self._decode(token, key, alg)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationFailed(AuthFailure.MISSING_SUBJECT, "the token has no sub")
        problem = user_id_problem(subject)
        if problem is not None:
            raise AuthenticationFailed(AuthFailure.INVALID_SUBJECT, f"the token's sub {problem}")
        return Principal(user_id=subject, expires_at=float(claims["exp"]), claims=claims)

    async def _key_for(self, alg: str, kid: Any) -> str | PublicKeyType:
        if alg in HMAC_ALGORITHMS:
            assert self._settings.secret is not None  # AuthSettings guarantees it
            return self._settings.secret
        assert self._jwks is not None  # AuthSettings guarantees it
        return (await self._jwks.find(kid, alg)).key

    def _decode(self, token: str, key: str | PublicKeyType, alg: str) -> dict[str, Any]:
        settings = self._settings
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={
                    "require": ["exp"],
                    "verify_aud": settings.audience is not None,
                    "enforce_minimum_key_length": True,
                },
            )
        except MissingRequiredClaimError as exc:
            failure = _MISSING_CLAIM_FAILURES.get(exc.claim, AuthFailure.MALFORMED_TOKEN)
            raise AuthenticationFailed(failure, f"the token has no {exc.claim} claim") from None
        except PyJWTError as exc:
            for error_type, failure, detail in _FAILURES:
                if isinstance(exc, error_type):
                    raise AuthenticationFailed(failure, detail) from None
            raise AuthenticationFailed(
                AuthFailure.MALFORMED_TOKEN, "the token is not a well-formed JWT"
            ) from None
