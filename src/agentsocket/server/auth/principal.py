"""Who a connection belongs to, once authenticated."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

MAX_USER_ID_CHARS = 256
"""Longest ``sub`` accepted as a user id."""


def user_id_problem(user_id: object) -> str | None:
    """Why ``user_id`` cannot name a user, or ``None`` when it can.

    A user id is a non-empty string of at most `MAX_USER_ID_CHARS` characters
    without control characters: NUL cannot be stored in PostgreSQL text, and a
    newline would forge log lines.
    """
    if not isinstance(user_id, str) or not user_id:
        return "is missing, empty or not a string"
    if len(user_id) > MAX_USER_ID_CHARS:
        return f"is over {MAX_USER_ID_CHARS} characters"
    if not user_id.isprintable() and any(unicodedata.category(c) == "Cc" for c in user_id):
        return "holds a control character"
    return None


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
        problem = user_id_problem(self.user_id)
        if problem is not None:
            raise ValueError(f"user_id {problem}")
        # Copy so that a caller mutating its dict cannot change a verified identity.
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
