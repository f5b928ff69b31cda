"""Canonical form of a JSON Schema, so that only changes of meaning show up in a diff.

:func:`normalize` resolves ``$ref`` into ``$defs``, drops annotations (title,
description, default, examples), turns ``const`` into a one-value ``enum``,
sorts ``type``, ``required`` and ``enum``, drops ``additionalProperties: true``
(the default) and folds pydantic's ``anyOf: [X, {"type": "null"}]`` into X
with ``null`` allowed. Two schemas that validate the same instances for the
reasons the gate knows about normalize to equal dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from agentsocket.protocol.versions.change import Schema

__all__ = ["json_type", "normalize", "value_key"]

#: Keywords that never change which instances are valid (JSON Schema 2020-12 annotations).
ANNOTATIONS = frozenset(
    {
        "$anchor",
        "$comment",
        "$defs",
        "$id",
        "$schema",
        "default",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_VALUES = frozenset(
    {
        "additionalProperties",
        "contains",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_REF_PREFIX = "#/$defs/"


def normalize(schema: Any, defs: Mapping[str, Any]) -> Schema:
    """The canonical form of ``schema``, with ``#/$defs/...`` references resolved in ``defs``."""
    return _normalize(schema, defs, ())


def value_key(value: Any) -> bytes:
    """A hashable, type-exact key of a JSON value (``True`` and ``1`` differ)."""
    return json_type(value).encode() + b":" + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def json_type(value: Any) -> str:
    """The JSON Schema type name of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _normalize(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Schema:
    if node is True:
        return {}
    if node is False:
        return {"not": {}}
    out: Schema = {}
    for key, value in node.items():
        if key in ANNOTATIONS or key == "$ref":
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: _normalize(sub, defs, seen) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _normalize(value, defs, seen)
        elif key in _SCHEMA_LISTS:
            out[key] = [_normalize(sub, defs, seen) for sub in value]
        elif key == "const":
            out["enum"] = [value]
        elif key == "enum":
            out["enum"] = _sorted_values(value)
        elif key == "type":
            out["type"] = sorted({value} if isinstance(value, str) else set(value))
        elif key == "required":
            out["required"] = sorted(set(value))
        else:
            out[key] = value
    if "$ref" in node:
        out = _merge(_resolve(node["$ref"], defs, seen), out)
    if out.get("additionalProperties") == {}:
        del out["additionalProperties"]
    return _fold_nullable(out)


def _resolve(ref: str, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Schema:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"only local $defs references are supported, got {ref!r}")
    name = ref.removeprefix(_REF_PREFIX)
    if name in seen:  # a recursive model: compare the reference itself
        return {"$ref": name}
    return _normalize(defs[name], defs, (*seen, name))


def _merge(target: Schema, siblings: Schema) -> Schema:
    """``$ref`` beside other keywords means both apply (2020-12)."""
    if not siblings:
        return target
    if siblings.keys() & target.keys():
        return {"allOf": [target, siblings]}
    return {**target, **siblings}


def _fold_nullable(schema: Schema) -> Schema:
    for keyword in ("anyOf", "oneOf"):
        members = schema.get(keyword)
        if not members or len(members) != 2 or {"type": ["null"]} not in members:
            continue
        other = members[0] if members[1] == {"type": ["null"]} else members[1]
        rest = {k: v for k, v in schema.items() if k != keyword}
        if rest.keys() & other.keys():
            continue
        if not other:
            return rest
        if "type" in other:
            other = {**other, "type": sorted({*other["type"], "null"})}
            if "enum" in other:
                other["enum"] = _sorted_values([*other["enum"], None])
        elif "enum" in other:
            other = {**other, "enum": _sorted_values([*other["enum"], None])}
        else:
            continue
        return {**rest, **other}
    return schema


def _sorted_values(values: list[Any]) -> list[Any]:
    unique = {value_key(v): v for v in values}
    return [unique[k] for k in sorted(unique)]
