"""Every close code is documented, in the right group."""

from __future__ import annotations

import re
from pathlib import Path

from agentsocket.protocol import CloseCode

DOC = (Path(__file__).parents[2] / "docs" / "close-codes.md").read_text()


def _documented(section: str) -> set[int]:
    start = DOC.index(section)
    end = DOC.find("\n## ", start + 1)
    return {int(m) for m in re.findall(r"^\| (\d{4}) \|", DOC[start:end], re.MULTILINE)}


def test__every_close_code__is_documented_in_its_group() -> None:
    reconnect = _documented("## Reconnect")
    final = _documented("## Do not reconnect")
    assert reconnect == {int(c) for c in CloseCode if c.reconnect}
    assert final == {int(c) for c in CloseCode if not c.reconnect}


def test__close_codes__use_the_private_range_for_our_own() -> None:
    ours = [c for c in CloseCode if c >= 4000]
    assert all(4000 <= c <= 4999 for c in ours)
    assert all((c < 4100) != c.reconnect for c in ours)
