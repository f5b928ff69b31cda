"""The gate's commands, for ``agentsocket schema`` and ``python -m agentsocket.protocol.compat``.

Each returns ``(exit code, text)``: 0 compatible or written, 1 violations,
2 unreadable snapshots.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from agentsocket.protocol.compat.config import DEFAULT_CONFIG, CompatConfig
from agentsocket.protocol.compat.dialects import (
    check_dialects,
    dialect_status,
    write_dialect_snapshots,
)
from agentsocket.protocol.compat.gate import check
from agentsocket.protocol.compat.report import Report
from agentsocket.protocol.compat.rules import Mode, Rule
from agentsocket.protocol.compat.snapshots import (
    SnapshotError,
    SnapshotStatus,
    load_snapshots,
    snapshot_status,
    write_snapshots,
)

__all__ = ["run_check", "run_snapshot"]

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2


def _config(mode: Mode | None) -> CompatConfig:
    return DEFAULT_CONFIG if mode is None else CompatConfig.for_mode(mode)


def _report(directory: Path, mode: Mode | None) -> Report:
    report = check(load_snapshots(directory), _config(mode))
    findings, notes = check_dialects(directory)
    return replace(
        report,
        findings=(*report.findings, *findings),
        notes=(*report.notes, *notes),
    )


def run_check(directory: Path, mode: Mode | None = None, as_json: bool = False) -> tuple[int, str]:
    """Compare today's models with the snapshots in ``directory``.

    Args:
        directory: where ``v<N>.json`` snapshots live.
        mode: one mode for both directions; None: backward_transitive for
            client → server, forward_transitive for server → client.
        as_json: a JSON report instead of text.
    """
    if not directory.is_dir():
        hint = "run from the project root, or pass --snapshots"
        return EXIT_ERROR, f"error: no snapshot directory {directory} ({hint})\n"
    try:
        report = _report(directory, mode)
    except SnapshotError as exc:
        return EXIT_ERROR, f"error: {exc}\n"
    text = (
        orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
        if as_json
        else report.to_text()
    )
    return (EXIT_OK if report.ok else EXIT_VIOLATIONS), text


def run_snapshot(directory: Path, write: bool = False, force: bool = False) -> tuple[int, str]:
    """Show (or, with ``write``, store) today's schema of every version as its snapshot.

    Writing releases every version as it is today, so it refuses while the
    gate reports violations, unless ``force``: that would launder a breaking
    change into the release.
    """
    try:
        status = snapshot_status(directory) | dialect_status(directory)
        if not write:
            lines = [f"{name}: {state.value}" for name, state in status.items()]
            pending = sum(
                s in (SnapshotStatus.CHANGED, SnapshotStatus.NEW) for s in status.values()
            )
            hint = "run with --write to store them" if pending else "nothing to write"
            return EXIT_OK, "\n".join([*lines, hint]) + "\n"
        report = _report(directory, None)
    except SnapshotError as exc:
        return EXIT_ERROR, f"error: {exc}\n"
    # A missing snapshot is what writing fixes; anything else would be laundered.
    blocking = [v for v in report.violations if v.rule is not Rule.SNAPSHOT_MISSING]
    if blocking and not force:
        refusal = "refusing to write snapshots: the gate reports violations (--force overrides)"
        return EXIT_VIOLATIONS, report.to_text() + refusal + "\n"
    written = write_snapshots(directory) + write_dialect_snapshots(directory)
    names = ", ".join(path.name for path in written) or "nothing (all up to date)"
    return EXIT_OK, f"wrote {names} in {directory}\n"
