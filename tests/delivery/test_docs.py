"""The examples in ``docs/delivery.md`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test__docs__have_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("code", EXAMPLES)
def test__docs__example__runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
