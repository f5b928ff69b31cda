"""Argument checks shared by the queries; each raises :class:`InvalidArgument`."""

from __future__ import annotations

from typing import get_args

from agentsocket.store.errors import InvalidArgument
from agentsocket.store.records import Role, RunStatus

MAX_TITLE_LENGTH = 200
MAX_LIMIT = 200
ROLES: tuple[Role, ...] = get_args(Role)
END_STATUSES: tuple[RunStatus, ...] = ("completed", "error", "cancelled")


def check_text(argument: str, value: str) -> str:
    """Return ``value``, or raise if it holds U+0000, which PostgreSQL text cannot store.

    The protocol refuses NUL from clients already; this keeps every other
    caller (agents, embedding apps) from reaching the database with it, where
    it would fail as a driver error mid-transaction on PostgreSQL only.
    """
    if "\x00" in value:
        raise InvalidArgument(argument, "must not contain U+0000 (NUL)")
    return value


def check_title(title: str) -> str:
    """Return ``title`` without surrounding whitespace, or raise if empty, too long or NUL."""
    title = check_text("title", title).strip()
    if not title:
        raise InvalidArgument("title", "must not be empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidArgument(
            "title", f"has {len(title)} characters, at most {MAX_TITLE_LENGTH} are allowed"
        )
    return title


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidArgument("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_end_status(status: str) -> RunStatus:
    """Accept only the statuses a run can end with."""
    if status not in END_STATUSES:
        raise InvalidArgument("status", f"must be one of {', '.join(END_STATUSES)}, got {status!r}")
    return status


def check_not_empty(argument: str, value: str) -> None:
    if not value:
        raise InvalidArgument(argument, "must not be empty")
