"""server/auth/redact.py: no token or ticket in a log line (issue 12, bug 6)."""

from __future__ import annotations

import logging

import pytest

from agentsocket.server.auth.redact import (
    REDACTED,
    RedactQueryFilter,
    install,
    redact_header,
    redact_query,
)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/ws?token={TOKEN}", f"/ws?token={REDACTED}"),
        ("/ws?ticket=abc&protocol=v2", f"/ws?ticket={REDACTED}&protocol=v2"),
        (
            f"/ws?protocol=v3&last_seq=7&epoch=e1&access_token={TOKEN}",
            f"/ws?protocol=v3&last_seq=7&epoch=e1&access_token={REDACTED}",
        ),
        (f"/ws?{TOKEN}", f"/ws?{REDACTED}"),
        (f"/ws?%74oken={TOKEN}", f"/ws?{REDACTED}"),
        ("/ws", "/ws"),
        ("/healthz?", "/healthz?"),
    ],
)
def test__redact_query__only_safe_values_kept(text: str, expected: str) -> None:
    assert redact_query(text) == expected


def test__uvicorn_handshake_record__formatted_without_the_token() -> None:
    # The exact call uvicorn's websockets-sansio protocol makes for every handshake.
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/ws?token={TOKEN}"),
        None,
    )
    assert RedactQueryFilter().filter(record)
    message = record.getMessage()
    assert TOKEN not in message
    assert message == f'127.0.0.1:5000 - "WebSocket /ws?token={REDACTED}" [accepted]'


def test__install__filters_uvicorn_loggers_once(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, RedactQueryFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info('%s - "WebSocket %s" 403', "peer", f"/ws?ticket={TOKEN}")
    assert TOKEN not in caplog.text
    assert f"ticket={REDACTED}" in caplog.text


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("authorization", f"Bearer {TOKEN}", f"Bearer {REDACTED}"),
        ("Authorization", TOKEN, REDACTED),
        ("cookie", f"session={TOKEN}", REDACTED),
        (
            "sec-websocket-protocol",
            f"agentsocket.v3, bearer.{TOKEN}",
            f"agentsocket.v3, bearer.{REDACTED}",
        ),
        ("sec-websocket-protocol", "agentsocket.v2", "agentsocket.v2"),
        ("user-agent", "Python/3.11", "Python/3.11"),
    ],
)
def test__redact_header__credentials_only(name: str, value: str, expected: str) -> None:
    assert redact_header(name, value) == expected


def test__websockets_debug_header_record__formatted_without_the_token() -> None:
    # At debug level the websockets protocol logs each request header this way.
    record = logging.LogRecord(
        "uvicorn.error",
        logging.DEBUG,
        __file__,
        1,
        "< %s: %s",
        ("authorization", f"Bearer {TOKEN}"),
        None,
    )
    assert RedactQueryFilter().filter(record)
    assert record.getMessage() == f"< authorization: Bearer {REDACTED}"


def test__peer_error_debug_record__one_line_without_traceback() -> None:
    try:
        raise ValueError(f"line too long: {TOKEN}")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "uvicorn.error",
            logging.DEBUG,
            __file__,
            1,
            "! %s",
            ("header fields too large",),
            sys.exc_info(),
        )
    assert RedactQueryFilter().filter(record)
    assert record.exc_info is None
    assert logging.Formatter().format(record) == "! header fields too large"
