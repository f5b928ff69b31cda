"""Semantic diff of two normalized JSON Schemas: every change, with what it breaks.

Schemas are compared in the canonical form of :mod:`.normalize`. Each
:class:`Change` carries the :class:`~.rules.Rule` it falls under and the set
of compatibilities it breaks, computed with set semantics ("old ⊆ new" keeps
backward compatibility, "new ⊆ old" forward) softened the way JSON readers
really behave: a reader whose object schema is open ignores unknown fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from agentsocket.protocol.compat.normalize import json_type, value_key
from agentsocket.protocol.compat.rules import FIXED_BREAKS, Compat, Rule
from agentsocket.protocol.versions.change import Direction, Schema

__all__ = ["Change", "diff_messages", "diff_schema"]

_B = frozenset({Compat.BACKWARD})
_F = frozenset({Compat.FORWARD})
_BF = frozenset(Compat)
_NONE: frozenset[Compat] = frozenset()


# Keywords whose larger value is stricter, and those whose smaller value is.
_MIN_KEYWORDS = ("minLength", "minItems", "minProperties", "minContains")
_MAX_KEYWORDS = ("maxLength", "maxItems", "maxProperties", "maxContains")
# Keywords that restrict when present and are not ordered.
_PLAIN_CONSTRAINTS = ("pattern", "format", "multipleOf", "contentEncoding", "contentMediaType")
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "anyOf",
        "oneOf",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minimum",
        "exclusiveMinimum",
        "maximum",
        "exclusiveMaximum",
        "uniqueItems",
        *_MIN_KEYWORDS,
        *_MAX_KEYWORDS,
        *_PLAIN_CONSTRAINTS,
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between an old and a new schema.

    Attributes:
        rule: the kind of change.
        path: where, as a JSON path into the frame (``$.data.content``);
            ``[*]`` is any array item, ``.*`` any extra property.
        detail: what changed, old → new.
        breaks: the compatibilities this change breaks (empty: safe both ways).
    """

    rule: Rule
    path: str
    detail: str
    breaks: frozenset[Compat]


def diff_schema(old: Schema, new: Schema, path: str = "$") -> list[Change]:
    """Every change from ``old`` to ``new`` (both normalized), outermost first."""
    changes: list[Change] = []
    _diff(old, new, path, changes)
    return changes


def diff_messages(
    old: Mapping[str, Schema],
    new: Mapping[str, Schema],
    direction: Direction,
    *,
    ignores_unknown_types: bool,
) -> list[tuple[str, Change]]:
    """Changes between two catalogues of normalized frame schemas, keyed by message type."""
    found: list[tuple[str, Change]] = []
    for name in sorted(old.keys() - new.keys()):
        breaks = _B if direction == "client" else _BF
        found.append((name, Change(Rule.MESSAGE_TYPE_REMOVED, "$", "type removed", breaks)))
    for name in sorted(new.keys() - old.keys()):
        if direction == "client":
            change = Change(Rule.NEW_INBOUND_MESSAGE_TYPE, "$", "new type", _F)
        else:
            breaks = _NONE if ignores_unknown_types else _F
            contract = "ignore" if ignores_unknown_types else "do not ignore"
            detail = f"new type; this version's clients {contract} unknown types"
            change = Change(Rule.NEW_OUTBOUND_MESSAGE_TYPE, "$", detail, breaks)
        found.append((name, change))
    for name in sorted(old.keys() & new.keys()):
        found.extend((name, change) for change in diff_schema(old[name], new[name]))
    return found


# --- the walk -----------------------------------------------------------------


def _diff(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    if old == new:
        return
    if _members(old) is not None or _members(new) is not None:
        _diff_union(old, new, path, out)
        return
    if not _diff_types(old, new, path, out):
        return
    _diff_enum(old, new, path, out)
    _diff_bounds(old, new, path, out)
    _diff_constraints(old, new, path, out)
    _diff_object(old, new, path, out)
    _diff_array(old, new, path, out)
    for key in sorted((old.keys() | new.keys()) - _HANDLED):
        if old.get(key) != new.get(key):
            detail = f"{key}: {_show(old.get(key))} → {_show(new.get(key))}"
            out.append(_change(Rule.CONSTRAINT_CHANGED, path, detail))


def _change(rule: Rule, path: str, detail: str) -> Change:
    return Change(rule, path, detail, FIXED_BREAKS[rule])


# --- unions -------------------------------------------------------------------


def _members(schema: Schema) -> list[Schema] | None:
    """The members of a union, each with the schema's other keywords distributed in."""
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            rest = {k: v for k, v in schema.items() if k != keyword}
            return [_merge_member(rest, member) for member in schema[keyword]]
    return None


def _merge_member(rest: Schema, member: Schema) -> Schema:
    if rest.keys() & member.keys():
        return {"allOf": [rest, member]}
    return {**rest, **member}


def _diff_union(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    old_members = _members(old) or [old]
    new_members = _members(new) or [new]
    removed = [m for m in old_members if m not in new_members]
    added = [m for m in new_members if m not in old_members]
    # Pair a changed member with its successor when their kinds match one to one.
    for before in list(removed):
        twins = [m for m in added if _kind(m) == _kind(before)]
        if len(twins) == 1 and sum(_kind(m) == _kind(before) for m in removed) == 1:
            removed.remove(before)
            added.remove(twins[0])
            _diff(before, twins[0], path, out)
    for member in removed:
        out.append(_change(Rule.UNION_MEMBER_REMOVED, path, f"member {_brief(member)} removed"))
    for member in added:
        out.append(_change(Rule.UNION_MEMBER_ADDED, path, f"member {_brief(member)} added"))


def _kind(schema: Schema) -> tuple[str, ...]:
    return tuple(_types(schema) or ("any",))


# --- types and values -----------------------------------------------------------


def _types(schema: Schema) -> list[str] | None:
    """The JSON types a schema allows; None: any type."""
    if "type" in schema:
        return list(schema["type"])
    if "enum" in schema:
        return sorted({json_type(v) for v in schema["enum"]})
    return None


def _covered(type_name: str, types: Iterable[str]) -> bool:
    allowed = set(types)
    return type_name in allowed or (type_name == "integer" and "number" in allowed)


def _diff_types(old: Schema, new: Schema, path: str, out: list[Change]) -> bool:
    """Report a type change; False when the types are unrelated (nothing more to compare)."""
    before, after = _types(old), _types(new)
    if before == after:
        return True
    shown = f"{_show_types(before)} → {_show_types(after)}"
    if before is None or after is None:
        rule = Rule.TYPE_NARROWED if before is None else Rule.TYPE_WIDENED
        out.append(_change(rule, path, f"type {shown}"))
        return True
    widened = all(_covered(t, after) for t in before)
    narrowed = all(_covered(t, before) for t in after)
    if widened and narrowed:
        return True
    if not (widened or narrowed):
        out.append(_change(Rule.FIELD_TYPE_CHANGED, path, f"type {shown}"))
        return False
    rule = Rule.TYPE_WIDENED if widened else Rule.TYPE_NARROWED
    note = ""
    if ("null" in before) != ("null" in after):
        note = " (null now allowed)" if widened else " (null no longer allowed)"
    out.append(_change(rule, path, f"type {shown}{note}"))
    return True


def _diff_enum(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    before, after = old.get("enum"), new.get("enum")
    if before == after:
        return
    if before is None or after is None:
        if before is None:
            out.append(_change(Rule.TYPE_NARROWED, path, f"now restricted to {_show(after)}"))
        else:
            out.append(_change(Rule.TYPE_WIDENED, path, f"no longer restricted to {_show(before)}"))
        return
    old_keys = {value_key(v): v for v in before}
    new_keys = {value_key(v): v for v in after}
    gone = [old_keys[k] for k in old_keys if k not in new_keys]
    fresh = [new_keys[k] for k in new_keys if k not in old_keys]
    if gone:
        out.append(_change(Rule.ENUM_VALUE_REMOVED, path, f"values removed: {_show(gone)}"))
    if fresh:
        out.append(_change(Rule.ENUM_VALUE_ADDED, path, f"values added: {_show(fresh)}"))


# --- constraints ----------------------------------------------------------------


def _bound(schema: Schema, inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """The tighter of an inclusive and an exclusive bound: (value, is_exclusive)."""
    options = []
    if inclusive in schema:
        options.append((float(schema[inclusive]), False))
    if exclusive in schema:
        options.append((float(schema[exclusive]), True))
    if not options:
        return None
    if inclusive == "minimum":
        return max(options, key=lambda b: (b[0], b[1]))
    return min(options, key=lambda b: (b[0], not b[1]))


def _diff_bounds(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    for inclusive, exclusive, lower in (
        ("minimum", "exclusiveMinimum", True),
        ("maximum", "exclusiveMaximum", False),
    ):
        before = _bound(old, inclusive, exclusive)
        after = _bound(new, inclusive, exclusive)
        if before == after:
            continue
        if before is None or after is None:
            tighter = before is None
        else:
            sign = 1 if lower else -1
            # An exclusive bound excludes its value: stricter at the same number.
            tighter = (sign * after[0], after[1]) > (sign * before[0], before[1])
        rule = Rule.CONSTRAINT_TIGHTENED if tighter else Rule.CONSTRAINT_RELAXED
        detail = f"{'lower' if lower else 'upper'} bound {_show_bound(before, lower)} → "
        out.append(_change(rule, path, detail + _show_bound(after, lower)))


def _diff_constraints(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    for key in (*_MIN_KEYWORDS, *_MAX_KEYWORDS):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        is_min = key in _MIN_KEYWORDS
        unset = 0 if is_min else math.inf
        b = unset if before is None else before
        a = unset if after is None else after
        tighter = a > b if is_min else a < b
        rule = Rule.CONSTRAINT_TIGHTENED if tighter else Rule.CONSTRAINT_RELAXED
        out.append(_change(rule, path, f"{key}: {_show(before)} → {_show(after)}"))
    for key in _PLAIN_CONSTRAINTS:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            rule = Rule.CONSTRAINT_TIGHTENED
        elif after is None:
            rule = Rule.CONSTRAINT_RELAXED
        else:
            rule = Rule.CONSTRAINT_CHANGED
        out.append(_change(rule, path, f"{key}: {_show(before)} → {_show(after)}"))
    before_unique, after_unique = bool(old.get("uniqueItems")), bool(new.get("uniqueItems"))
    if before_unique != after_unique:
        rule = Rule.CONSTRAINT_TIGHTENED if after_unique else Rule.CONSTRAINT_RELAXED
        out.append(_change(rule, path, f"uniqueItems: {before_unique} → {after_unique}"))


# --- objects --------------------------------------------------------------------

_OPEN, _CLOSED, _PARTIAL = "open", "closed", "partial"


def _content_model(schema: Schema) -> str:
    extra = schema.get("additionalProperties")
    if extra is None:
        return _OPEN
    return _CLOSED if extra == {"not": {}} else _PARTIAL


def _diff_object(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    keys = ("properties", "required", "additionalProperties")
    if not any(k in old or k in new for k in keys):
        return
    old_props: dict[str, Schema] = old.get("properties", {})
    new_props: dict[str, Schema] = new.get("properties", {})
    old_required = set(old.get("required", ()))
    new_required = set(new.get("required", ()))
    old_model, new_model = _content_model(old), _content_model(new)
    _diff_content_model(old, new, old_model, new_model, path, out)

    removed = sorted(old_props.keys() - new_props.keys())
    added = sorted(new_props.keys() - old_props.keys())
    renames = _renames(removed, added, old_props, new_props)
    for before, after in renames.items():
        breaks = _removal_breaks(before, old_required, new_model) | _addition_breaks(
            after, new_required, old_model
        )
        detail = f"renamed {before!r} → {after!r}"
        out.append(Change(Rule.FIELD_RENAMED, _join(path, after), detail, breaks))
    for name in removed:
        if name not in renames:
            breaks = _removal_breaks(name, old_required, new_model)
            required = "required" if name in old_required else "optional"
            detail = f"{required} field {name!r} removed"
            out.append(Change(Rule.FIELD_REMOVED, _join(path, name), detail, breaks))
    for name in added:
        if name in renames.values():
            continue
        breaks = _addition_breaks(name, new_required, old_model)
        rule = Rule.REQUIRED_FIELD_ADDED if name in new_required else Rule.FIELD_ADDED
        detail = f"{'required' if name in new_required else 'optional'} field {name!r} added"
        out.append(Change(rule, _join(path, name), detail, breaks))
    for name in sorted((old_required ^ new_required) - (old_props.keys() ^ new_props.keys())):
        if name in new_required:
            out.append(_change(Rule.FIELD_MADE_REQUIRED, _join(path, name), "now required"))
        else:
            out.append(_change(Rule.FIELD_MADE_OPTIONAL, _join(path, name), "now optional"))
    for name in sorted(old_props.keys() & new_props.keys()):
        _diff(old_props[name], new_props[name], _join(path, name), out)


def _diff_content_model(
    old: Schema, new: Schema, before: str, after: str, path: str, out: list[Change]
) -> None:
    if before == after == _PARTIAL:
        _diff(old["additionalProperties"], new["additionalProperties"], path + ".*", out)
        return
    if before == after:
        return
    order = {_CLOSED: 0, _PARTIAL: 1, _OPEN: 2}
    rule = Rule.CONTENT_MODEL_OPENED if order[after] > order[before] else Rule.CONTENT_MODEL_CLOSED
    out.append(_change(rule, path, f"unknown fields: {before} → {after}"))


def _renames(
    removed: list[str], added: list[str], old_props: Schema, new_props: Schema
) -> dict[str, str]:
    """Removed → added field pairs confidently a rename: the same schema, a unique match."""
    pairs: dict[str, str] = {}
    for before in removed:
        twins = [after for after in added if new_props[after] == old_props[before]]
        if len(twins) != 1:
            continue
        rivals = [other for other in removed if old_props[other] == new_props[twins[0]]]
        if len(rivals) == 1:
            pairs[before] = twins[0]
    return pairs


def _removal_breaks(name: str, old_required: set[str], new_model: str) -> frozenset[Compat]:
    breaks = set()
    if new_model != _OPEN:  # the new reader refuses the field old writers still send
        breaks.add(Compat.BACKWARD)
    if name in old_required:  # old readers expect it
        breaks.add(Compat.FORWARD)
    return frozenset(breaks)


def _addition_breaks(name: str, new_required: set[str], old_model: str) -> frozenset[Compat]:
    breaks = set()
    if name in new_required:  # old writers never send it
        breaks.add(Compat.BACKWARD)
    if old_model != _OPEN:  # old readers refuse an unknown field
        breaks.add(Compat.FORWARD)
    return frozenset(breaks)


# --- arrays ---------------------------------------------------------------------


def _diff_array(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    if "items" in old or "items" in new:
        _diff(old.get("items", {}), new.get("items", {}), path + "[*]", out)
    before: list[Schema] = old.get("prefixItems", [])
    after: list[Schema] = new.get("prefixItems", [])
    for index in range(max(len(before), len(after))):
        item_path = f"{path}[{index}]"
        if index >= len(before):
            out.append(_change(Rule.CONSTRAINT_TIGHTENED, item_path, "new positional item"))
        elif index >= len(after):
            out.append(_change(Rule.CONSTRAINT_RELAXED, item_path, "positional item removed"))
        else:
            _diff(before[index], after[index], item_path, out)


# --- rendering ------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}[{_show(name)}]"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    return orjson.dumps(value).decode()


def _show_types(types: list[str] | None) -> str:
    return "any" if types is None else "|".join(types)


def _show_bound(bound: tuple[float, bool] | None, lower: bool) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    number = int(value) if value.is_integer() else value
    if lower:
        return f"{'>' if exclusive else '>='} {number}"
    return f"{'<' if exclusive else '<='} {number}"


def _brief(schema: Schema) -> str:
    if "enum" in schema:
        return _show(schema["enum"])
    return _show_types(_types(schema))
