"""Structured logs: every record carries its context (connection_id, correlation_id, ...).

Context travels as ``extra={...}``; the formatter appends it as ``key=value``
pairs, or writes one JSON object per line with ``--log-json``. With tracing on,
lines logged inside a run's spans carry ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from agentsocket import tracing
from agentsocket.server.auth import redact

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class ContextLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that adds fixed context (say, a connection id) to every record.

    Unlike ``LoggerAdapter`` before Python 3.13, a call's own ``extra`` is
    merged in rather than dropped.
    """

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        return f"{line} {context}" if context else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def configure(level: str = "info", json: bool = False) -> None:
    """Send agentsocket's logs to stderr, structured; keep credentials out of uvicorn's.

    A line logged inside a traced span carries ``trace_id`` and ``span_id``.
    """
    handler = logging.StreamHandler()
    handler.addFilter(tracing.LogIds())
    handler.setFormatter(
        JsonFormatter()
        if json
        else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger("agentsocket")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    redact.install()


class PeerErrorFilter(logging.Filter):
    """uvicorn logs a client's invalid UTF-8 text frame with a traceback; it is the peer's error.

    The record becomes one debug line without the traceback (or nothing, when
    debug is off), so a client cannot flood the log. The close (1007) is uvicorn's.
    """

    _PEER_ERRORS = ("Invalid UTF-8 sequence received from client",)

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self._PEER_ERRORS):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return True


def quiet_peer_errors() -> None:
    """Install :class:`PeerErrorFilter` on uvicorn's error logger (after uvicorn configured it)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, PeerErrorFilter) for f in logger.filters):
        logger.addFilter(PeerErrorFilter())
