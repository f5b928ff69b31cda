"""docs/compatibility.md agrees with the code: its example runs, its tables match the rules."""

from __future__ import annotations

import re

import pytest

from agentsocket.protocol.compat import FIXED_BREAKS, RULES, Compat, Mode, Rule
from agentsocket.protocol.compat.config import IGNORES_UNKNOWN_TYPES
from tests.protocol.compat.edits import REPO

DOC = (REPO / "docs" / "compatibility.md").read_text()
FAILS = "**fails**"


def _rows(first_cell: str) -> dict[str, list[str]]:
    """Table rows whose first cell matches ``first_cell``, by that cell."""
    rows = {}
    for line in DOC.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(first_cell, cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = cells[1:]
    return rows


RULE_ROWS = _rows(r"`([a-z_]+)`")


def test__python_example__runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the example reads schemas/ relative to the project root
    [example] = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)
    exec(compile(example, "docs/compatibility.md", "exec"), {})


def test__rules_table__has_one_row_per_rule() -> None:
    rules = {name: cells for name, cells in RULE_ROWS.items() if name in Rule.__members__.values()}
    assert set(rules) == {rule.value for rule in Rule}


@pytest.mark.parametrize("rule", list(Rule), ids=lambda r: r.value)
def test__rules_table__verdicts_match_what_the_rule_breaks(rule: Rule) -> None:
    _, breaks, inbound, outbound = RULE_ROWS[rule.value]
    if RULES[rule].always:
        assert (breaks, inbound, outbound) == ("always", FAILS, FAILS)
    elif rule in FIXED_BREAKS:
        assert inbound.startswith(FAILS) == (Compat.BACKWARD in FIXED_BREAKS[rule])
        assert outbound.startswith(FAILS) == (Compat.FORWARD in FIXED_BREAKS[rule])


def test__modes_table__lists_every_mode() -> None:
    assert {mode.value for mode in Mode} <= set(RULE_ROWS)


def test__unknown_types_table__matches_the_config() -> None:
    rows = _rows(r"(v\d+)")
    assert {name: cells[0] == "yes" for name, cells in rows.items()} == dict(IGNORES_UNKNOWN_TYPES)
