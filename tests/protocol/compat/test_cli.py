"""``agentsocket schema check`` and ``agentsocket schema snapshot``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentsocket.cli import app
from tests.protocol.compat.edits import SNAPSHOTS

runner = CliRunner()


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A copy of the committed snapshots."""
    return Path(shutil.copytree(SNAPSHOTS, tmp_path / "schemas"))


def test__check__committed_snapshots__exit_0() -> None:
    result = runner.invoke(app, ["schema", "check", "--snapshots", str(SNAPSHOTS)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("compatible\n")


def test__check__json_format__every_mode(released: Path) -> None:
    for mode in ("backward", "forward", "full", "full_transitive"):
        args = ["schema", "check", "--snapshots", str(released), "--format", "json"]
        result = runner.invoke(app, [*args, "--mode", mode])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert (report["ok"], report["inbound"], report["outbound"]) == (True, mode, mode)


def test__check__released_snapshot_differs__exit_1_with_report(released: Path) -> None:
    v1 = released / "v1.json"
    v1.write_text(v1.read_text().replace('"connection_ready"', '"connection_is_ready"'))
    result = runner.invoke(app, ["schema", "check", "--snapshots", str(released)])
    assert result.exit_code == 1
    assert "FAIL v1 connection_established (server→client) at $.connection_ready" in result.output
    assert "rule:   released_version_changed" in result.output


def test__check__bad_mode_bad_snapshot_or_no_directory__exit_2(released: Path) -> None:
    result = runner.invoke(app, ["schema", "check", "--mode", "sideways"])
    assert result.exit_code == 2
    (released / "v2.json").write_text("{")
    result = runner.invoke(app, ["schema", "check", "--snapshots", str(released)])
    assert result.exit_code == 2
    assert "v2.json: not JSON" in result.output
    result = runner.invoke(app, ["schema", "check", "--snapshots", str(released / "nowhere")])
    assert result.exit_code == 2
    assert "no snapshot directory" in result.output


def test__snapshot__without_write__shows_status_and_writes_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "snapshot", "--snapshots", str(SNAPSHOTS)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "v3: up to date",
        "v2: up to date",
        "v1: up to date",
        "ag-ui: up to date",
        "nothing to write",
    ]
    empty = tmp_path / "none"
    result = runner.invoke(app, ["schema", "snapshot", "--snapshots", str(empty)])
    assert "v1: not released" in result.output
    assert not empty.exists()


def test__snapshot_write__fresh_directory__equals_the_committed_snapshots(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    result = runner.invoke(app, ["schema", "snapshot", "--write", "--snapshots", str(target)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in target.iterdir())
    assert names == ["ag-ui.json", "v1.json", "v2.json", "v3.json"]
    for path in target.iterdir():
        assert path.read_bytes() == (SNAPSHOTS / path.name).read_bytes()


def test__snapshot_write__refuses_to_launder_a_violation_unless_forced(released: Path) -> None:
    v2 = released / "v2.json"
    v2.write_text(v2.read_text().replace('"error_message"', '"error_text"'))
    args = ["schema", "snapshot", "--write", "--snapshots", str(released)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert "refusing to write snapshots" in refused.output
    assert '"error_text"' in v2.read_text()
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert f"wrote v2.json in {released}" in forced.output
    assert v2.read_bytes() == (SNAPSHOTS / "v2.json").read_bytes()
