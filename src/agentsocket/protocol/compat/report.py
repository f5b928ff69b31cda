"""What the gate found: one :class:`Finding` per change, gathered in a :class:`Report`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentsocket.protocol.compat.config import CompatConfig
from agentsocket.protocol.compat.rules import DIRECTION_LABELS, RULES, Compat, Rule
from agentsocket.protocol.versions.change import Direction

__all__ = ["Finding", "Report"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One change the gate saw, and its verdict.

    Attributes:
        version: the protocol version whose clients are affected (``v1``).
        direction: ``client`` (client → server) or ``server`` (server → client);
            None for a finding about a whole version.
        message: the message type (head type for server messages, wire type for
            client messages); ``*`` for a whole version.
        path: JSON path into the frame (``$.data.content``).
        rule: the kind of change.
        detail: what changed, old → new.
        breaks: the compatibilities the change breaks.
        blocking: True if the policy refuses it (a violation).
        fix: how to resolve it (only meaningful when blocking).
    """

    version: str
    direction: Direction | None
    message: str
    path: str
    rule: Rule
    detail: str
    breaks: frozenset[Compat]
    blocking: bool
    fix: str

    @property
    def direction_label(self) -> str:
        return "whole version" if self.direction is None else DIRECTION_LABELS[self.direction]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "direction": self.direction_label,
            "message": self.message,
            "path": self.path,
            "rule": self.rule.value,
            "detail": self.detail,
            "breaks": sorted(compat.value for compat in self.breaks),
            "fix": self.fix,
        }

    def headline(self) -> str:
        return f"{self.version} {self.message} ({self.direction_label}) at {self.path}"


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of :func:`~agentsocket.protocol.compat.check`.

    Attributes:
        config: the policy applied.
        snapshots: the released versions compared, newest first.
        findings: every change seen; the blocking ones are violations.
        notes: remarks that are not findings (e.g. a change that could not be replayed).
    """

    config: CompatConfig
    snapshots: tuple[str, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def allowed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.blocking)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "inbound": self.config.inbound.value,
            "outbound": self.config.outbound.value,
            "snapshots": list(self.snapshots),
            "violations": [f.to_dict() for f in self.violations],
            "allowed": [f.to_dict() for f in self.allowed],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        released = ", ".join(self.snapshots) or "none"
        lines = [
            f"protocol compatibility: client→server {self.config.inbound.value}, "
            f"server→client {self.config.outbound.value}; released: {released}"
        ]
        for finding in self.violations:
            lines += [
                "",
                f"FAIL {finding.headline()}",
                f"  rule:   {finding.rule.value}",
                f"  change: {finding.detail}",
                f"  breaks: {_breaks(finding)}",
                f"  fix:    {finding.fix}",
            ]
        if self.allowed:
            lines += ["", f"{len(self.allowed)} compatible change(s) allowed:"]
            lines += [f"  ok {f.headline()}: {f.rule.value} ({f.detail})" for f in self.allowed]
        lines += [f"note: {note}" for note in self.notes]
        if self.ok:
            return "\n".join([*lines, "", "compatible"]) + "\n"
        lines += ["", f"{len(self.violations)} violation(s): not compatible"]
        lines += [f"  {where}: {rules}" for where, rules in _summary(self.violations).items()]
        return "\n".join(lines) + "\n"


def _breaks(finding: Finding) -> str:
    if RULES[finding.rule].always:
        return RULES[finding.rule].breaks
    return " and ".join(sorted(compat.value for compat in finding.breaks)) + " compatibility"


def _summary(violations: tuple[Finding, ...]) -> dict[str, str]:
    """Violations counted by rule, per version and message."""
    counts: dict[str, dict[str, int]] = {}
    for finding in violations:
        where = f"{finding.version} {finding.message} ({finding.direction_label})"
        per_rule = counts.setdefault(where, {})
        per_rule[finding.rule.value] = per_rule.get(finding.rule.value, 0) + 1
    return {
        where: ", ".join(f"{rule} x{count}" if count > 1 else rule for rule, count in rules.items())
        for where, rules in counts.items()
    }
