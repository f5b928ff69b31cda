"""``agentsocket generate``: every generated file, written or checked by one command."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from agentsocket.cli import app
from agentsocket.generate import OTHERS, TARGETS, generated_md
from agentsocket.server.configuration_doc import configuration_markdown, env_name
from agentsocket.server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _copy_generated(into: Path) -> None:
    for target in TARGETS:
        source = ROOT / target.path
        if target.names is None:
            shutil.copytree(source, into / target.path)
        else:
            for name in target.names:
                (into / target.path).mkdir(parents=True, exist_ok=True)
                shutil.copy(source / name, into / target.path / name)


def test__committed_files__are_up_to_date() -> None:
    result = runner.invoke(app, ["generate", "--check", "--no-web", "--root", str(ROOT)])

    assert result.exit_code == 0, result.output


def test__check__lists_stale_missing_and_stray_files_then_write_fixes_them(
    tmp_path: Path,
) -> None:
    _copy_generated(tmp_path)
    (tmp_path / "docs" / "configuration.md").write_text("old\n")
    (tmp_path / "GENERATED.md").unlink()
    (tmp_path / "golden" / "v3" / "server" / "stray.json").write_text("{}\n")
    (tmp_path / "docs" / "by-hand.md").write_text("not generated, not ours\n")
    check = ["generate", "--check", "--no-web", "--root", str(tmp_path)]

    result = runner.invoke(app, check)

    assert result.exit_code == 1
    assert f"stale: {tmp_path / 'docs' / 'configuration.md'}" in result.output
    assert f"missing: {tmp_path / 'GENERATED.md'}" in result.output
    assert f"not generated: {tmp_path / 'golden' / 'v3' / 'server' / 'stray.json'}" in (
        result.output
    )
    assert "by-hand.md" not in result.output
    assert runner.invoke(app, ["generate", "--no-web", "--root", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, check).exit_code == 0
    assert (tmp_path / "docs" / "by-hand.md").exists()


def test__generated_md__names_every_target_and_its_command() -> None:
    text = generated_md()
    for target in TARGETS:
        assert f"`{target.command}`" in text
    for other in OTHERS:
        assert other.paths in text
        assert f"`{other.command}`" in text


def test__test_script__checks_generated_files_with_the_one_command() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()

    assert ".venv/bin/agentsocket generate --check" in script


def test__configuration_doc__lists_every_setting_with_env_default_and_description() -> None:
    text = configuration_markdown()
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines()}
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        row = rows[name]
        assert f"`{env_name(name)}`" in row
        assert field.description.replace("|", "\\|") in row
    assert "| `port` | `AGENTSOCKET_PORT` | integer | `8765` |" in text
    assert "| `broker` | `AGENTSOCKET_BROKER` | `memory` or `redis` | `memory` |" in text


def test__settings_docstring__points_at_the_generated_page() -> None:
    assert "docs/configuration.md" in (Settings.__doc__ or "")
    assert (ROOT / "docs" / "configuration.md").exists()
