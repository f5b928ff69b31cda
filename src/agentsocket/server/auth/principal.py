"""Who a connection belongs to, once authenticated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Principal:
    """An authenticated user.

    Attributes:
        user_id: The token's ``sub``: a non-empty string.
        expires_at: The token's ``exp`` as Unix seconds; the server may close the
            connection then. ``None`` when the credential never expires.
        claims: Every verified claim of the token, read-only.
    """

    user_id: str
    expires_at: float | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id:
            raise ValueError("user_id must be a non-empty string")
        # Copy so that a caller mutating its dict cannot change a verified identity.
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
