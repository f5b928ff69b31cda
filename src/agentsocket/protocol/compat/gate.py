"""The breaking-change gate: today's models against the released snapshots.

For every released version ``V`` (one with a snapshot) the gate compares
three schemas of V's frames:

1. the snapshot, as released;
2. the *replay*: the release of the latest version ``L`` sent down to V
   through today's version changes (:mod:`.replay`);
3. today's schema, built from today's head models.

1 → 2 differs only if a version change was edited: a released version
changed its meaning, always a violation (``released_version_changed``).
2 → 3 is how the head models evolved, as V's clients see it: judged by the
direction's mode. Non-transitive modes judge it for ``L`` only, transitive
modes for every released version. An unreleased head is free to differ
(that is what a new version is for) but may not reuse a retired name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from agentsocket.protocol.compat.config import DEFAULT_CONFIG, CompatConfig
from agentsocket.protocol.compat.diff import Change, diff_messages
from agentsocket.protocol.compat.normalize import normalize
from agentsocket.protocol.compat.replay import DIRECTIONS, Catalogue, catalogue, replay
from agentsocket.protocol.compat.report import Finding, Report
from agentsocket.protocol.compat.rules import Compat, Rule, fix_for
from agentsocket.protocol.schema import json_schema
from agentsocket.protocol.versions import HEAD, RESERVED, VERSIONS, Version
from agentsocket.protocol.versions.change import Direction, Schema

__all__ = ["check"]

_ALL = frozenset(Compat)


def check(snapshots: Mapping[str, Schema], config: CompatConfig = DEFAULT_CONFIG) -> Report:
    """Compare today's protocol with the released ``snapshots`` (version name → document).

    Returns:
        A :class:`Report`; ``report.ok`` is False if any change violates ``config``.
    """
    findings: list[Finding] = []
    notes: list[str] = []
    registered = {version.name for version in VERSIONS}
    for name in sorted(snapshots.keys() - registered):
        findings.append(
            _version_finding(name, Rule.RELEASED_VERSION_REMOVED, "no longer registered")
        )
    for version in VERSIONS[1:]:
        if version.name not in snapshots:
            findings.append(_version_finding(version.name, Rule.SNAPSHOT_MISSING, "no snapshot"))
    released = [version for version in VERSIONS if version.name in snapshots]
    if not released:
        notes.append("nothing is released yet: run `agentsocket schema snapshot --write`")
    else:
        latest = released[0]
        if latest is not HEAD:
            notes.append(f"{HEAD.name} is not released yet; it is compared with nothing")
        findings += _reserved_names(snapshots[latest.name])
        for version in released:
            findings += _judge(version, latest, snapshots, config, notes)
    ordered = sorted(findings, key=lambda f: (not f.blocking, -_number(f.version)))
    return Report(config, tuple(v.name for v in released), tuple(ordered), tuple(notes))


def _judge(
    version: Version,
    latest: Version,
    snapshots: Mapping[str, Schema],
    config: CompatConfig,
    notes: list[str],
) -> Iterator[Finding]:
    """Every finding about one released version: drift of its definition, then evolution."""
    released = catalogue(snapshots[version.name])
    if version is latest:
        yield from _evolution(version, released, True, config)
        return
    replayed = replay(snapshots[latest.name], latest, version)
    for direction, message in sorted(replayed.unreplayed):
        notes.append(
            f"{version.name} {message}: today's version changes cannot convert the "
            f"{latest.name} release; judged by the compatibility rules only"
        )
        fallback = released.frames(direction).get(message)
        if fallback is not None:  # else the release never had it for this version
            replayed.frames(direction)[message] = fallback
    yield from _drift(version, released, replayed)
    yield from _evolution(version, replayed, False, config)


def _number(name: str) -> int:
    digits = name.removeprefix("v")
    return int(digits) if digits.isdigit() else -1


def _version_finding(version: str, rule: Rule, detail: str) -> Finding:
    return Finding(
        version, None, "*", "$", rule, detail, _ALL, True, fix_for(rule, "server", version)
    )


def _normalized(frames: Catalogue, direction: Direction) -> dict[str, Schema]:
    return {name: normalize(s, frames.defs) for name, s in frames.frames(direction).items()}


def _drift(version: Version, released: Catalogue, replayed: Catalogue) -> Iterator[Finding]:
    """Changes of a released version's own definition: every one is a violation."""
    rule = Rule.RELEASED_VERSION_CHANGED
    for direction in DIRECTIONS:
        changes = diff_messages(
            _normalized(released, direction),
            _normalized(replayed, direction),
            direction,
            ignores_unknown_types=False,
        )
        for message, change in changes:
            detail = f"{change.rule.value}: {change.detail}"
            fix = fix_for(rule, direction, version.name)
            yield Finding(
                version.name, direction, message, change.path, rule, detail, _ALL, True, fix
            )


def _evolution(
    version: Version, base: Catalogue, is_latest: bool, config: CompatConfig
) -> Iterator[Finding]:
    """How today's head models changed V's frames, judged by each direction's mode."""
    today = catalogue(json_schema(version))
    for direction in DIRECTIONS:
        mode = config.mode(direction)
        if not (is_latest or mode.transitive):
            continue
        changes = diff_messages(
            _normalized(base, direction),
            _normalized(today, direction),
            direction,
            ignores_unknown_types=config.clients_ignore_unknown_types(version.name),
        )
        for message, change in changes:
            yield _judged(version.name, direction, message, change, mode.requires)


def _judged(
    version: str, direction: Direction, message: str, change: Change, requires: frozenset[Compat]
) -> Finding:
    blocking = bool(change.breaks & requires)
    fix = fix_for(change.rule, direction, version)
    return Finding(
        version, direction, message, change.path, change.rule, change.detail, change.breaks,
        blocking, fix,
    )  # fmt: skip


# --- reserved names -----------------------------------------------------------


def _reserved_names(latest_snapshot: Schema) -> Iterator[Finding]:
    """Retired names used again in the head.

    A name in RESERVED may stay in the role the latest release still gives it
    (``message`` is a retired message type but a live field name); anywhere
    else it is a reuse.
    """
    live_types: set[str] = set()
    live_fields: set[str] = set()
    _collect_names(catalogue(latest_snapshot), live_types, live_fields)
    head = catalogue(json_schema(HEAD))
    rule = Rule.RESERVED_NAME_REUSED
    for direction in DIRECTIONS:
        for message, frame in _normalized(head, direction).items():
            fix = fix_for(rule, direction, HEAD.name)
            for name in {message, _tag(frame)} & RESERVED.keys() - live_types:
                detail = f"message type {name!r} is reserved: {RESERVED[name]}"
                yield Finding(HEAD.name, direction, message, "$", rule, detail, _ALL, True, fix)
            for path, name in _field_names(frame, "$"):
                if name in RESERVED and name not in live_fields:
                    detail = f"field name {name!r} is reserved: {RESERVED[name]}"
                    yield Finding(
                        HEAD.name, direction, message, path, rule, detail, _ALL, True, fix
                    )


def _collect_names(frames: Catalogue, types: set[str], fields: set[str]) -> None:
    for direction in DIRECTIONS:
        for message, frame in _normalized(frames, direction).items():
            types.update({message, _tag(frame)})
            fields.update(name for _, name in _field_names(frame, "$"))


def _tag(frame: Schema) -> str:
    """The wire tag of a normalized frame (its ``type`` or v1 ``event`` value)."""
    props = frame.get("properties", {})
    tag = props.get("type") or props.get("event") or {}
    values = tag.get("enum", [])
    return str(values[0]) if len(values) == 1 else ""


def _field_names(schema: Schema, path: str) -> Iterator[tuple[str, str]]:
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}.{name}", name
        yield from _field_names(sub, f"{path}.{name}")
    for key, suffix in (("items", "[*]"), ("additionalProperties", ".*")):
        if isinstance(schema.get(key), dict):
            yield from _field_names(schema[key], path + suffix)
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            yield from _field_names(member, path)
