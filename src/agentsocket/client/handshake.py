"""What the client offers in a handshake, and what a close code tells it to do. Pure.

The version is offered as the ``agentsocket.<version>`` subprotocol, which the
server must echo; a token goes in the ``Authorization`` header, a ticket and
the resume position in the query string (``docs/protocol/reference-v3.md``,
"Connecting").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agentsocket.client.errors import (
    AuthenticationRefused,
    ConnectionRejected,
    VersionUnsupported,
)
from agentsocket.protocol import CloseCode, Version

_AUTH_CODES = frozenset({CloseCode.UNAUTHORIZED, CloseCode.TOKEN_EXPIRED})
#: Our close codes are grouped: 40xx "change something first", 41xx "reconnect".
_RECONNECT_BLOCK = range(4100, 4200)


@dataclass(frozen=True, slots=True)
class Handshake:
    """One connection attempt's URL, offered subprotocols and headers."""

    url: str
    subprotocols: tuple[str, ...]
    headers: dict[str, str] = field(repr=False)


def handshake(
    url: str,
    version: Version,
    *,
    token: str | None = None,
    ticket: str | None = None,
    resume: Mapping[str, str] | None = None,
) -> Handshake:
    """The handshake for ``url`` speaking ``version``.

    Args:
        token: sent as ``Authorization: Bearer <token>``.
        ticket: a single-use ticket, sent as ``?ticket=``.
        resume: ``last_seq`` (and ``epoch``) to resume from, see :class:`StreamCursor`.
    """
    query: dict[str, str] = dict(resume or {})
    if ticket is not None:
        query["ticket"] = ticket
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Handshake(with_query(url, query), (version.subprotocol,), headers)


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` set in its query string (replacing same-named ones)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class Outcome(Enum):
    """What to do after a close that is not an error."""

    RECONNECT = "reconnect"
    END = "end"


def after_close(code: int | None, reason: str) -> Outcome | ConnectionRejected:
    """Decide what a close means to the client.

    Args:
        code: the close code received, or ``None`` when the TCP connection
            dropped without a close frame (1006).

    Returns:
        ``RECONNECT`` for a dropped connection or a code whose
        :attr:`CloseCode.reconnect` is true (unknown 41xx codes too), ``END``
        for 1000, and otherwise the error to raise.
    """
    if code is None or code == 1006:
        return Outcome.RECONNECT
    if code == CloseCode.NORMAL:
        return Outcome.END
    try:
        known = CloseCode(code)
    except ValueError:
        return Outcome.RECONNECT if code in _RECONNECT_BLOCK else ConnectionRejected(code, reason)
    if known.reconnect:
        return Outcome.RECONNECT
    if known in _AUTH_CODES:
        return AuthenticationRefused(code, reason)
    if known is CloseCode.UNSUPPORTED_VERSION:
        return VersionUnsupported(code, reason)
    return ConnectionRejected(code, reason)
