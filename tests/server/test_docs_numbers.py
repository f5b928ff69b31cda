"""Every promise with a number in docs/gateway.md and docs/close-codes.md matches the code.

The limits table's defaults are ``Settings``' defaults, its reactions name real
codes, every close code the pages mention exists, and "over 4 times the limit the
transport closes with 1009" is what the uvicorn configuration does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.applications import Starlette

from agentsocket.protocol.codes import AgentErrorCode, CloseCode, ErrorCode
from agentsocket.server.serve import uvicorn_config
from agentsocket.server.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
GATEWAY = (DOCS / "gateway.md").read_text()
CLOSE_CODES = (DOCS / "close-codes.md").read_text()
PAGES = {"gateway.md": GATEWAY, "close-codes.md": CLOSE_CODES}
UNITS = {"KiB": 1024, "MiB": 1024 * 1024}
#: Numbers in the close-code range that the pages name but the gateway never sends.
# 4100 is reserved; 1006 is what a client sees when a connection drops without a close
# frame (RFC 6455 7.1.5): named in the docs, never sent.
RESERVED = {4100, 1006}
TIMES = "\N{MULTIPLICATION SIGN}"  # as in "4 (times) the limit"


def _limits_rows() -> list[list[str]]:
    start = GATEWAY.index("## Limits")
    table = GATEWAY[start : GATEWAY.index("\n## ", start + 1)]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # without the header


def _numbers(text: str) -> list[float]:
    """The numbers of a default cell, with units applied: ``64 KiB`` → 65536."""
    found = re.findall(r"(\d+(?:\.\d+)?)\s*(KiB|MiB)?", text)
    return [float(value) * UNITS.get(unit, 1) for value, unit in found]


@pytest.mark.parametrize("row", _limits_rows(), ids=lambda row: row[0])
def test__limits_table__defaults_are_the_settings_defaults(row: list[str]) -> None:
    _, setting, default, _ = row
    fields = [name.lower() for name in re.findall(r"`([A-Z_]+)`", setting)]
    assert fields, f"no setting named in {setting!r}"
    expected = [float(Settings.model_fields[name].default) for name in fields]

    assert _numbers(default) == expected


@pytest.mark.parametrize("row", _limits_rows(), ids=lambda row: row[0])
def test__limits_table__reactions_name_real_codes(row: list[str]) -> None:
    reaction = row[3]
    for code in re.findall(r"close (\d{4})", reaction):
        assert int(code) in {int(c) for c in CloseCode}
    for kind, value in re.findall(r"`(error|agent_error)` `(\w+)`", reaction):
        known = ErrorCode if kind == "error" else AgentErrorCode
        assert value in {c.value for c in known}, value


@pytest.mark.parametrize("page", PAGES)
def test__every_close_code_mentioned__exists(page: str) -> None:
    # Four-digit numbers that are not counts ("1000 frames") are close codes.
    mentioned = {
        int(n) for n in re.findall(rf"(?<![\w.{TIMES}])([14]\d{{3}})(?![\w.]| frames)", PAGES[page])
    }
    assert mentioned
    assert mentioned - RESERVED <= {int(code) for code in CloseCode}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("max_frame_size", [Settings().max_frame_size, 1000, 8 << 20])
def test__frame_size_promise__transport_closes_above_the_documented_multiple(
    page: str, max_frame_size: int
) -> None:
    promise = rf"(\d+){TIMES} (?:`max_frame_size`|the limit)"
    factors = {int(f) for f in re.findall(promise, PAGES[page])}
    assert len(factors) == 1, f"{page} states one multiple of max_frame_size"
    assert "1009" in PAGES[page]
    settings = Settings(max_frame_size=max_frame_size)

    config = uvicorn_config(Starlette(), settings)

    assert config.ws_max_size == factors.pop() * max_frame_size
