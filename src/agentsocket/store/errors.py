"""Exceptions raised by :mod:`agentsocket.store`.

The tree::

    StoreError
     ├── NotFound          (also LookupError)  missing, or owned by another user
     └── InvalidArgument   (also ValueError)   the caller passed a bad value

Database failures (connection refused, disk full) are not wrapped: they reach
the caller as SQLAlchemy exceptions, because nothing here can recover from them.
:func:`is_unavailable` tells the ones worth retrying later (the database is
unreachable) from the rest.
"""

from __future__ import annotations

from sqlalchemy import exc as sa


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFound(StoreError, LookupError):  # noqa: N818 (the API's chosen name)
    """The thread, message or run does not exist *for this user*.

    Raised alike when the record is missing and when it belongs to someone
    else, so a caller cannot probe for other users' ids.

    Attributes:
        kind: ``"thread"``, ``"message"`` or ``"run"``.
        id: The id that was looked up.
    """

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id!r} not found")
        self.kind = kind
        self.id = id


class InvalidArgument(StoreError, ValueError):  # noqa: N818 (the API's chosen name)
    """An argument is out of range or malformed; nothing was written.

    Attributes:
        argument: The parameter's name, e.g. ``"title"``.
        reason: What is wrong with it, for humans.
    """

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"invalid {argument}: {reason}")
        self.argument = argument
        self.reason = reason


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached right now (retry later).

    Connection failures, dropped connections and pool timeouts; not bad SQL,
    constraint violations or data errors, which a retry would only repeat.
    """
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    unreachable = (
        sa.OperationalError,
        sa.InterfaceError,
        sa.DisconnectionError,
        sa.TimeoutError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(error, unreachable)
