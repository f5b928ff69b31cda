"""The gate's vocabulary: compatibility modes, the rules, and the fix for each.

Compatibility is judged the schema-registry way, per direction of travel:

* **backward**: a *new reader* still accepts what *old writers* send. For
  client → server frames the server is the reader, so inbound messages must
  stay backward compatible (old clients keep being understood).
* **forward**: an *old reader* still accepts what a *new writer* sends. For
  server → client frames the old clients are the readers, so outbound messages
  must stay forward compatible.

Each :class:`Rule` names one kind of change; the diff decides, for every
change it finds, which of the two it breaks (some rules depend on context,
e.g. removing a field breaks backward compatibility only if the reader refuses
unknown fields). ``docs/compatibility.md`` has the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agentsocket.protocol.versions.change import Direction

__all__ = [
    "DIRECTION_LABELS",
    "FIXED_BREAKS",
    "RULES",
    "Compat",
    "Mode",
    "Rule",
    "RuleInfo",
    "fix_for",
]

DIRECTION_LABELS: dict[Direction, str] = {
    "client": "client→server",
    "server": "server→client",
}


class Compat(StrEnum):
    """One kind of compatibility a change can break."""

    BACKWARD = "backward"
    FORWARD = "forward"


class Mode(StrEnum):
    """What a direction's messages must stay: the schema registry's compatibility modes.

    The ``_transitive`` forms check every released version a client can still
    speak, not only the latest release.
    """

    BACKWARD = "backward"
    FORWARD = "forward"
    FULL = "full"
    BACKWARD_TRANSITIVE = "backward_transitive"
    FORWARD_TRANSITIVE = "forward_transitive"
    FULL_TRANSITIVE = "full_transitive"

    @property
    def requires(self) -> frozenset[Compat]:
        """The compatibilities this mode demands."""
        base = self.value.removesuffix("_transitive")
        if base == "full":
            return frozenset(Compat)
        return frozenset({Compat(base)})

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_transitive")


class Rule(StrEnum):
    """A kind of change the gate recognises; the value is the name in reports."""

    RELEASED_VERSION_CHANGED = "released_version_changed"
    RELEASED_VERSION_REMOVED = "released_version_removed"
    SNAPSHOT_MISSING = "snapshot_missing"
    RESERVED_NAME_REUSED = "reserved_name_reused"
    MESSAGE_TYPE_REMOVED = "message_type_removed"
    NEW_INBOUND_MESSAGE_TYPE = "new_inbound_message_type"
    NEW_OUTBOUND_MESSAGE_TYPE = "new_outbound_message_type"
    FIELD_REMOVED = "field_removed"
    FIELD_ADDED = "field_added"
    REQUIRED_FIELD_ADDED = "required_field_added"
    FIELD_RENAMED = "field_renamed"
    FIELD_MADE_REQUIRED = "field_made_required"
    FIELD_MADE_OPTIONAL = "field_made_optional"
    FIELD_TYPE_CHANGED = "field_type_changed"
    TYPE_NARROWED = "type_narrowed"
    TYPE_WIDENED = "type_widened"
    ENUM_VALUE_REMOVED = "enum_value_removed"
    ENUM_VALUE_ADDED = "enum_value_added"
    UNION_MEMBER_REMOVED = "union_member_removed"
    UNION_MEMBER_ADDED = "union_member_added"
    CONTENT_MODEL_CLOSED = "content_model_closed"
    CONTENT_MODEL_OPENED = "content_model_opened"
    CONSTRAINT_TIGHTENED = "constraint_tightened"
    CONSTRAINT_RELAXED = "constraint_relaxed"
    CONSTRAINT_CHANGED = "constraint_changed"


_B = frozenset({Compat.BACKWARD})
_F = frozenset({Compat.FORWARD})
_BF = frozenset(Compat)

#: What a rule breaks when that does not depend on where the change is.
FIXED_BREAKS: dict[Rule, frozenset[Compat]] = {
    Rule.FIELD_TYPE_CHANGED: _BF,
    Rule.TYPE_NARROWED: _B,
    Rule.TYPE_WIDENED: _F,
    Rule.ENUM_VALUE_REMOVED: _B,
    Rule.ENUM_VALUE_ADDED: _F,
    Rule.UNION_MEMBER_REMOVED: _B,
    Rule.UNION_MEMBER_ADDED: _F,
    Rule.CONTENT_MODEL_CLOSED: _B,
    Rule.CONTENT_MODEL_OPENED: _F,
    Rule.CONSTRAINT_TIGHTENED: _B,
    Rule.CONSTRAINT_RELAXED: _F,
    Rule.CONSTRAINT_CHANGED: _BF,
    Rule.FIELD_MADE_REQUIRED: _B,
    Rule.FIELD_MADE_OPTIONAL: _F,
}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule means.

    Attributes:
        summary: the change, in a few words.
        breaks: which compatibility it breaks, and when (for the docs table).
        always: a violation in every mode, whatever the direction.
    """

    summary: str
    breaks: str
    always: bool = False


_NARROW = "backward (old data may no longer be valid)"
_WIDEN = "forward (old readers may meet data they refuse)"
_BOTH = "backward and forward"

RULES: dict[Rule, RuleInfo] = {
    Rule.RELEASED_VERSION_CHANGED: RuleInfo(
        "a released version's own schema changed (its VersionChange was edited)",
        "always a violation: a released version is frozen",
        always=True,
    ),
    Rule.RELEASED_VERSION_REMOVED: RuleInfo(
        "a snapshot exists for a version the protocol no longer registers",
        "always a violation: its clients would be refused",
        always=True,
    ),
    Rule.SNAPSHOT_MISSING: RuleInfo(
        "a version other than the head has no snapshot",
        "always a violation: nothing protects it",
        always=True,
    ),
    Rule.RESERVED_NAME_REUSED: RuleInfo(
        "a retired name (RESERVED) is used again as a message type or field",
        "always a violation: old consumers would read it with its old meaning",
        always=True,
    ),
    Rule.MESSAGE_TYPE_REMOVED: RuleInfo(
        "a message type is gone",
        "inbound: backward. outbound: backward and forward (consumers wait for it)",
    ),
    Rule.NEW_INBOUND_MESSAGE_TYPE: RuleInfo(
        "a new client → server message type", "forward (older servers refuse it)"
    ),
    Rule.NEW_OUTBOUND_MESSAGE_TYPE: RuleInfo(
        "a new server → client message type",
        "forward, unless the version's contract says clients ignore unknown types",
    ),
    Rule.FIELD_REMOVED: RuleInfo(
        "a field is gone",
        "backward if the reader refuses unknown fields (closed model); "
        "forward if the field was required",
    ),
    Rule.FIELD_ADDED: RuleInfo(
        "an optional field is new", "forward if the old reader refuses unknown fields"
    ),
    Rule.REQUIRED_FIELD_ADDED: RuleInfo(
        "a required field (no default) is new",
        "backward; also forward if the old reader refuses unknown fields",
    ),
    Rule.FIELD_RENAMED: RuleInfo(
        "a field was removed and one of the same schema added (a rename)",
        "what removing the old and adding the new field break",
    ),
    Rule.FIELD_MADE_REQUIRED: RuleInfo("an optional field became required", _NARROW),
    Rule.FIELD_MADE_OPTIONAL: RuleInfo("a required field became optional", _WIDEN),
    Rule.FIELD_TYPE_CHANGED: RuleInfo("a value's type changed to an unrelated one", _BOTH),
    Rule.TYPE_NARROWED: RuleInfo(
        "fewer values allowed: string → enum, number → integer, null no longer allowed",
        _NARROW,
    ),
    Rule.TYPE_WIDENED: RuleInfo(
        "more values allowed: enum → string, integer → number, null now allowed", _WIDEN
    ),
    Rule.ENUM_VALUE_REMOVED: RuleInfo("an enum or const value is gone", _NARROW),
    Rule.ENUM_VALUE_ADDED: RuleInfo("an enum or const value is new", _WIDEN),
    Rule.UNION_MEMBER_REMOVED: RuleInfo("a oneOf/anyOf member is gone", _NARROW),
    Rule.UNION_MEMBER_ADDED: RuleInfo("a oneOf/anyOf member is new", _WIDEN),
    Rule.CONTENT_MODEL_CLOSED: RuleInfo(
        "unknown fields are now refused (additionalProperties: false)", _NARROW
    ),
    Rule.CONTENT_MODEL_OPENED: RuleInfo("unknown fields are now accepted", _WIDEN),
    Rule.CONSTRAINT_TIGHTENED: RuleInfo(
        "a constraint is stricter or new (minLength, maxLength, minimum, maximum, pattern, "
        "maxProperties, format, ...)",
        _NARROW,
    ),
    Rule.CONSTRAINT_RELAXED: RuleInfo("a constraint is looser or gone", _WIDEN),
    Rule.CONSTRAINT_CHANGED: RuleInfo(
        "a constraint changed in no comparable way (another pattern or format)", _BOTH
    ),
}

_NEW_VERSION = "declare a new protocol version with a VersionChange that converts this message"

# Fixes for one direction (inbound: "client", outbound: "server"); None: the same for both.
_FIXES: dict[Rule, dict[Direction | None, str]] = {
    Rule.RELEASED_VERSION_CHANGED: {
        None: "{version} is released and frozen: undo the edit that changed it (usually in "
        "protocol/versions/); to change the wire shape, " + _NEW_VERSION + " and leave "
        "{version} as it was"
    },
    Rule.RELEASED_VERSION_REMOVED: {
        None: "keep {version} registered until its sunset; to retire it, delete its "
        "snapshot in the same change and add its retired names to RESERVED"
    },
    Rule.SNAPSHOT_MISSING: {
        None: "release {version}: run `agentsocket schema snapshot --write` and commit it"
    },
    Rule.RESERVED_NAME_REUSED: {None: "choose another name; this one is retired for good"},
    Rule.MESSAGE_TYPE_REMOVED: {
        "client": "keep accepting it (convert it in a VersionChange.client_up), or " + _NEW_VERSION,
        "server": "keep sending it, or " + _NEW_VERSION,
    },
    Rule.NEW_INBOUND_MESSAGE_TYPE: {
        None: "older servers answer unknown_type; if new clients must send it to old "
        "servers, " + _NEW_VERSION
    },
    Rule.NEW_OUTBOUND_MESSAGE_TYPE: {
        None: "keep it from {version} clients: list it in the `dropped` of the VersionChange "
        "that introduced it (as AddToolApprovals does), or " + _NEW_VERSION
    },
    Rule.FIELD_REMOVED: {
        "client": "keep accepting the field (and ignore it), or " + _NEW_VERSION,
        "server": "keep sending the field (deprecate it in the docs), or " + _NEW_VERSION,
    },
    Rule.FIELD_ADDED: {
        None: "readers of {version} refuse unknown fields; make it reach them only "
        "through a new version: " + _NEW_VERSION
    },
    Rule.REQUIRED_FIELD_ADDED: {
        "client": "make the new inbound field optional with a default, or "
        + _NEW_VERSION
        + " (its client_up fills the field in for older clients)",
        "server": "give the field a default, or " + _NEW_VERSION,
    },
    Rule.FIELD_RENAMED: {
        None: "keep the old name (add the new one beside it), or "
        + _NEW_VERSION
        + " (it renames the field back for older clients)"
    },
    Rule.FIELD_MADE_REQUIRED: {None: "keep the field optional with a default, or " + _NEW_VERSION},
    Rule.FIELD_MADE_OPTIONAL: {
        None: "keep the field always present (give it a value), or " + _NEW_VERSION
    },
    Rule.FIELD_TYPE_CHANGED: {
        None: "add a new field with the new type and keep the old one, or " + _NEW_VERSION
    },
    Rule.TYPE_NARROWED: {
        "client": "keep accepting the old type (a union), or " + _NEW_VERSION,
        "server": "keep the old type, or " + _NEW_VERSION,
    },
    Rule.TYPE_WIDENED: {
        "client": "keep the old type, or " + _NEW_VERSION,
        "server": "keep sending only values of the old type, or "
        + _NEW_VERSION
        + " (its server_down maps the new values for older clients)",
    },
    Rule.ENUM_VALUE_REMOVED: {
        "client": "keep accepting the value (map it in a VersionChange.client_up), or "
        + _NEW_VERSION,
        "server": "keep the value, or " + _NEW_VERSION,
    },
    Rule.ENUM_VALUE_ADDED: {
        "client": "keep the value set, or " + _NEW_VERSION,
        "server": "never send the new value to {version} clients: "
        + _NEW_VERSION
        + " (its server_down maps it to an old value)",
    },
    Rule.UNION_MEMBER_REMOVED: {None: "keep the member, or " + _NEW_VERSION},
    Rule.UNION_MEMBER_ADDED: {None: "keep the union as it was, or " + _NEW_VERSION},
    Rule.CONTENT_MODEL_CLOSED: {
        None: "keep ignoring unknown fields (extra='ignore'), or " + _NEW_VERSION
    },
    Rule.CONTENT_MODEL_OPENED: {
        None: "keep refusing unknown fields (extra='forbid'), or " + _NEW_VERSION
    },
    Rule.CONSTRAINT_TIGHTENED: {
        "client": "keep the old limit on inbound frames, or " + _NEW_VERSION,
        "server": "keep the old limit, or " + _NEW_VERSION,
    },
    Rule.CONSTRAINT_RELAXED: {
        "client": "keep the old limit, or " + _NEW_VERSION,
        "server": "keep what the server sends within the old limit, or " + _NEW_VERSION,
    },
    Rule.CONSTRAINT_CHANGED: {None: "keep the old constraint, or " + _NEW_VERSION},
}


def fix_for(rule: Rule, direction: Direction, version: str) -> str:
    """How to resolve a violation of ``rule`` by a ``direction`` message of ``version``."""
    fixes = _FIXES[rule]
    return (fixes.get(direction) or fixes[None]).format(version=version)
