"""Model edits applied to a temporary copy of the protocol package, and the gate run on them.

Each :class:`Edit` is a textual change of one or more files of
``agentsocket/protocol``, the way a developer would make it. :func:`run_gate`
copies the package into a fresh directory, applies the edit, and runs
``python -m agentsocket.protocol.compat check`` there in a subprocess (so the
edited models are the ones imported) against the repository's real snapshots.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
PROTOCOL = REPO / "src" / "agentsocket" / "protocol"
SNAPSHOTS = REPO / "schemas"


@dataclass(frozen=True)
class Expected:
    """A violation the gate must report (``message`` None: any message)."""

    rule: str
    version: str
    direction: str
    message: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Edit:
    """One change: (file under protocol/, old text, new text) replacements.

    Attributes:
        violations: what the gate must report; empty: the edit is safe and passes.
        seen: for a safe edit, a rule the gate must list as allowed (proof it saw the edit).
    """

    name: str
    replacements: tuple[tuple[str, str, str], ...]
    violations: tuple[Expected, ...] = ()
    seen: str | None = None

    @property
    def breaking(self) -> bool:
        return bool(self.violations)


def copy_protocol(root: Path) -> Path:
    """A copy of the protocol package under ``root/agentsocket``; returns ``root``."""
    shutil.copytree(
        PROTOCOL, root / "agentsocket" / "protocol", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "agentsocket" / "__init__.py").write_text("")
    return root


def apply(root: Path, edit: Edit) -> None:
    for relative, old, new in edit.replacements:
        path = root / "agentsocket" / "protocol" / relative
        text = path.read_text()
        assert text.count(old) == 1, f"{edit.name}: anchor not found once in {relative}: {old!r}"
        path.write_text(text.replace(old, new))


def run_gate(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the gate on the package under ``root``; (exit code, JSON report)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "agentsocket.protocol.compat", "check", "--format", "json",
         "--snapshots", str(SNAPSHOTS), *args],
        capture_output=True, text=True, env=env, cwd=root, timeout=90,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report
