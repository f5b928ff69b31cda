"""How tokens are verified: keys, algorithms and claim checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
"""Verified with the shared secret, never with a JWKS key."""
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Verified with a public key from the JWKS, never with the secret."""
MIN_SECRET_BYTES = 32
"""RFC 7518 section 3.2: an HMAC key is at least as long as the hash output (HS256)."""
_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


@dataclass(frozen=True)
class AuthSettings:
    """Configuration of `TokenVerifier` and the ticket stores.

    Attributes:
        secret: HMAC shared secret, in UTF-8 at least 32 bytes (48 for HS384,
            64 for HS512: RFC 7518 section 3.2).
        jwks_file: Path of a JWKS document with the RS256/ES256 public keys.
        jwks_url: URL of a JWKS document (exclusive with ``jwks_file``).
        algorithms: Accepted ``alg`` values; empty means HS256 when a secret is
            set plus RS256 and ES256 when a JWKS is set. The token never chooses.
        audience: Required ``aud`` value; ``None`` skips the audience check.
        issuer: Required ``iss`` value; ``None`` skips the issuer check.
        leeway_seconds: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        ticket_ttl_seconds: Lifetime of a single-use ticket.
        jwks_cache_seconds: How long fetched JWKS keys are trusted without refetching.
        jwks_min_refetch_seconds: Least time between two JWKS reads, so that
            tokens with made-up ``kid`` values cannot hammer the JWKS endpoint.

    Raises:
        ValueError: No key source, both JWKS sources, a short secret, or an
            algorithm that is unknown, ``none``, or has no key to verify it.
    """

    secret: str | None = field(default=None, repr=False)
    jwks_file: Path | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ()
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: float = 0
    ticket_ttl_seconds: float = 30
    jwks_cache_seconds: float = 300
    jwks_min_refetch_seconds: float = 30

    def __post_init__(self) -> None:
        has_jwks = self.jwks_file is not None or self.jwks_url is not None
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("set jwks_file or jwks_url, not both")
        if self.secret is None and not has_jwks:
            raise ValueError("set a secret, a jwks_file or a jwks_url")
        if self.secret is not None and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        defaults: tuple[str, ...] = ("HS256",) if self.secret is not None else ()
        defaults += ("RS256", "ES256") if has_jwks else ()
        algorithms = tuple(self.algorithms) or defaults
        # Frozen: __post_init__ is the one place allowed to fill a default.
        object.__setattr__(self, "algorithms", algorithms)
        for alg in self.algorithms:
            if alg in HMAC_ALGORITHMS and self.secret is None:
                raise ValueError(f"{alg} needs a secret")
            if alg in ASYMMETRIC_ALGORITHMS and not has_jwks:
                raise ValueError(f"{alg} needs a jwks_file or jwks_url")
            if alg not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS:
                raise ValueError(f"unsupported algorithm {alg!r}")
            needed = _HMAC_KEY_BYTES.get(alg, 0)
            if self.secret is not None and len(self.secret.encode()) < needed:
                raise ValueError(f"{alg} needs a secret of at least {needed} bytes")
        for name in ("leeway_seconds", "jwks_cache_seconds", "jwks_min_refetch_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.ticket_ttl_seconds <= 0:
            raise ValueError("ticket_ttl_seconds must be positive")
