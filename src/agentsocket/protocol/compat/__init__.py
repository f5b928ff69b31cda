"""The breaking-change gate: today's protocol against the released snapshots.

Typical use (what ``agentsocket schema check`` does)::

    from agentsocket.protocol import compat

    report = compat.check(compat.load_snapshots())      # schemas/v*.json
    if not report.ok:
        print(report.to_text())                         # rule, path, fix per violation

Client → server messages must stay backward compatible, server → client
messages forward compatible (:class:`CompatConfig`); a released version's own
schema may not change at all. ``docs/compatibility.md`` explains the rules.
"""

from agentsocket.protocol.compat.config import DEFAULT_CONFIG, CompatConfig
from agentsocket.protocol.compat.diff import Change, diff_messages, diff_schema
from agentsocket.protocol.compat.gate import check
from agentsocket.protocol.compat.normalize import normalize
from agentsocket.protocol.compat.replay import Catalogue, catalogue, replay
from agentsocket.protocol.compat.report import Finding, Report
from agentsocket.protocol.compat.rules import (
    FIXED_BREAKS,
    RULES,
    Compat,
    Mode,
    Rule,
    RuleInfo,
    fix_for,
)
from agentsocket.protocol.compat.snapshots import (
    SNAPSHOT_DIR,
    SnapshotError,
    SnapshotStatus,
    load_snapshots,
    render,
    snapshot_status,
    write_snapshots,
)

__all__ = [
    "DEFAULT_CONFIG",
    "FIXED_BREAKS",
    "RULES",
    "SNAPSHOT_DIR",
    "Catalogue",
    "Change",
    "Compat",
    "CompatConfig",
    "Finding",
    "Mode",
    "Report",
    "Rule",
    "RuleInfo",
    "SnapshotError",
    "SnapshotStatus",
    "catalogue",
    "check",
    "diff_messages",
    "diff_schema",
    "fix_for",
    "load_snapshots",
    "normalize",
    "render",
    "replay",
    "snapshot_status",
    "write_snapshots",
]
