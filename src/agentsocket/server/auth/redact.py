"""Keep credentials out of log lines: records are redacted before any handler sees them.

Browsers authenticate with ``?ticket=...`` (and some clients with
``?token=...``); uvicorn logs every WebSocket handshake as
``"WebSocket /ws?ticket=..." [accepted]`` on ``uvicorn.error``, even with its
access log off, and at debug level the ``websockets`` protocol it drives logs
every request header (``< authorization: Bearer eyJ...``) there too.
:class:`RedactQueryFilter` rewrites such records:

- every query parameter except the few that never carry a secret
  (:data:`SAFE_QUERY_KEYS`) keeps its name and loses its value::

    /ws?ticket=Zx9...&protocol=v2   ->   /ws?ticket=[redacted]&protocol=v2

- a logged header that carries credentials (:data:`SECRET_HEADERS`) keeps
  only its scheme, and ``bearer.<token>`` subprotocol entries lose the token;
- a peer's malformed handshake (``websockets`` logs ``! <reason>`` at debug
  level with the exception) stays one line: the traceback is dropped, since
  parser exceptions can quote the request's bytes and one bad peer must not
  flood the log.

:func:`install` puts the filter on uvicorn's loggers; call it once at start-up
after logging is configured (``server.logs.configure`` does).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: Query parameters whose values are never secret, so logs keep them for debugging.
SAFE_QUERY_KEYS = frozenset({"protocol", "last_seq", "epoch"})
#: uvicorn's loggers: handshakes and errors on ``uvicorn.error``, requests on ``uvicorn.access``.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
REDACTED = "[redacted]"
#: Request and response headers whose values are credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
#: The format ``websockets`` logs each header with, ``<`` received and ``>`` sent.
_HEADER_FORMATS = frozenset({"< %s: %s", "> %s: %s"})

# A query string: from "?" to the first character that cannot be part of a URL in a log line.
_QUERY = re.compile(r"\?([^\s\"'<>]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def redact_query(text: str) -> str:
    """``text`` with the value of every query parameter outside :data:`SAFE_QUERY_KEYS` redacted."""
    if "?" not in text:
        return text
    return _QUERY.sub(_redact_match, text)


def redact_header(name: str, value: str) -> str:
    """``value`` of header ``name`` as it may be logged."""
    lowered = name.lower()
    if lowered in SECRET_HEADERS:
        scheme, space, _ = value.strip().partition(" ")
        return f"{scheme} {REDACTED}" if space and _NAME.fullmatch(scheme) else REDACTED
    if lowered == "sec-websocket-protocol":
        entries = (entry.strip() for entry in value.split(","))
        return ", ".join(
            f"bearer.{REDACTED}" if entry[:7].lower() == "bearer." else entry for entry in entries
        )
    return value


def _redact_match(match: re.Match[str]) -> str:
    return "?" + "&".join(_redact_pair(pair) for pair in match.group(1).split("&"))


def _redact_pair(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    if name in SAFE_QUERY_KEYS:
        return pair
    if not pair:
        return pair
    # A name that does not look like one may be the secret itself (``/ws?eyJhbGciOi...``).
    return f"{name}={REDACTED}" if equals and _NAME.fullmatch(name) else REDACTED


class RedactQueryFilter(logging.Filter):
    """Redacts query strings in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("! "):
            record.exc_info = None
            record.exc_text = None
        args = record.args
        if (
            record.msg in _HEADER_FORMATS
            and isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[0], str)
            and isinstance(args[1], str)
        ):
            record.args = (args[0], redact_header(args[0], args[1]))
            return True
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        return True


def _redact_arg(value: object) -> object:
    return redact_query(value) if isinstance(value, str) else value


def install(logger_names: Iterable[str] = UVICORN_LOGGERS) -> RedactQueryFilter:
    """Add one :class:`RedactQueryFilter` to each named logger (idempotent); return it."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactQueryFilter) for existing in logger.filters):
            logger.addFilter(_FILTER)
    return _FILTER


_FILTER = RedactQueryFilter()
