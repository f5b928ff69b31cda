"""Structured logs: every record carries its context (connection_id, correlation_id, ...).

Context travels as ``extra={...}``; the formatter appends it as ``key=value``
pairs, or writes one JSON object per line with ``--log-json``.
"""

from __future__ import annotations

import logging

import orjson

from agentsocket.server.auth import redact

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


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
    """Send agentsocket's logs to stderr, structured; keep credentials out of uvicorn's."""
    handler = logging.StreamHandler()
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
