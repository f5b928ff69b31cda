"""The diff on literal schemas: each rule, and what it breaks in each direction."""

from __future__ import annotations

from typing import Any

import pytest

from agentsocket.protocol.compat import Compat, Rule, diff_messages, diff_schema, normalize
from agentsocket.protocol.versions.change import Direction

B, F = Compat.BACKWARD, Compat.FORWARD
STRING: dict[str, Any] = {"type": "string"}


def _obj(
    props: dict[str, Any], required: tuple[str, ...] | list[str] = (), closed: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _changes(old: dict[str, Any], new: dict[str, Any]) -> set[tuple[Rule, str, frozenset[Compat]]]:
    return {(c.rule, c.path, c.breaks) for c in diff_schema(normalize(old, {}), normalize(new, {}))}


CASES = [
    pytest.param(
        _obj({"a": STRING}, ["a"]),
        _obj({}),
        {(Rule.FIELD_REMOVED, "$.a", frozenset({F}))},
        id="required field removed from an open object: old readers miss it",
    ),
    pytest.param(
        _obj({"a": STRING}, closed=True),
        _obj({}, closed=True),
        {(Rule.FIELD_REMOVED, "$.a", frozenset({B}))},
        id="optional field removed from a closed object: the new reader refuses it",
    ),
    pytest.param(
        _obj({}),
        _obj({"a": STRING}),
        {(Rule.FIELD_ADDED, "$.a", frozenset())},
        id="optional field added to an open object: safe both ways",
    ),
    pytest.param(
        _obj({}, closed=True),
        _obj({"a": STRING}, closed=True),
        {(Rule.FIELD_ADDED, "$.a", frozenset({F}))},
        id="optional field added to a closed object: old readers refuse it",
    ),
    pytest.param(
        _obj({}),
        _obj({"a": STRING}, ["a"]),
        {(Rule.REQUIRED_FIELD_ADDED, "$.a", frozenset({B}))},
        id="required field added: old writers never send it",
    ),
    pytest.param(
        _obj({"a": {"type": "integer"}}, ["a"]),
        _obj({"b": {"type": "integer"}}, ["b"]),
        {(Rule.FIELD_RENAMED, "$.b", frozenset({B, F}))},
        id="rename: one removed and one added field of the same schema",
    ),
    pytest.param(
        _obj({"a": STRING, "b": STRING}),
        _obj({"c": STRING, "d": STRING}),
        {
            (Rule.FIELD_REMOVED, "$.a", frozenset()),
            (Rule.FIELD_REMOVED, "$.b", frozenset()),
            (Rule.FIELD_ADDED, "$.c", frozenset()),
            (Rule.FIELD_ADDED, "$.d", frozenset()),
        },
        id="ambiguous rename is reported as removals and additions",
    ),
    pytest.param(
        _obj({"a": STRING}),
        _obj({"a": STRING}, ["a"]),
        {(Rule.FIELD_MADE_REQUIRED, "$.a", frozenset({B}))},
        id="optional to required",
    ),
    pytest.param(
        _obj({"a": STRING}, ["a"]),
        _obj({"a": STRING}),
        {(Rule.FIELD_MADE_OPTIONAL, "$.a", frozenset({F}))},
        id="required to optional",
    ),
    pytest.param(
        STRING,
        {"type": "boolean"},
        {(Rule.FIELD_TYPE_CHANGED, "$", frozenset({B, F}))},
        id="unrelated type",
    ),
    pytest.param(
        {"type": "integer"},
        {"type": "number"},
        {(Rule.TYPE_WIDENED, "$", frozenset({F}))},
        id="integer to number",
    ),
    pytest.param(
        {"type": "number"},
        {"type": "integer"},
        {(Rule.TYPE_NARROWED, "$", frozenset({B}))},
        id="number to integer",
    ),
    pytest.param(
        STRING,
        {"anyOf": [STRING, {"type": "null"}]},
        {(Rule.TYPE_WIDENED, "$", frozenset({F}))},
        id="nullable added (pydantic's anyOf with null)",
    ),
    pytest.param(
        {"type": ["string", "null"]},
        STRING,
        {(Rule.TYPE_NARROWED, "$", frozenset({B}))},
        id="nullable removed",
    ),
    pytest.param(
        STRING,
        {"type": "string", "enum": ["a", "b"]},
        {(Rule.TYPE_NARROWED, "$", frozenset({B}))},
        id="string to enum",
    ),
    pytest.param(
        {"enum": ["a", "b"]},
        {"enum": ["a"]},
        {(Rule.ENUM_VALUE_REMOVED, "$", frozenset({B}))},
        id="enum value removed",
    ),
    pytest.param(
        {"const": "a"},
        {"enum": ["a", "b"]},
        {(Rule.ENUM_VALUE_ADDED, "$", frozenset({F}))},
        id="const widened to an enum",
    ),
    pytest.param(
        {"oneOf": [STRING, {"type": "integer"}]},
        STRING,
        {(Rule.UNION_MEMBER_REMOVED, "$", frozenset({B}))},
        id="union member removed",
    ),
    pytest.param(
        {"anyOf": [STRING, {"type": "boolean"}]},
        {"anyOf": [STRING, {"type": "boolean"}, {"type": "array"}]},
        {(Rule.UNION_MEMBER_ADDED, "$", frozenset({F}))},
        id="union member added",
    ),
    pytest.param(
        _obj({}),
        _obj({}, closed=True),
        {(Rule.CONTENT_MODEL_CLOSED, "$", frozenset({B}))},
        id="content model closed",
    ),
    pytest.param(
        _obj({}, closed=True),
        _obj({}),
        {(Rule.CONTENT_MODEL_OPENED, "$", frozenset({F}))},
        id="content model opened",
    ),
    pytest.param(
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        {(Rule.CONSTRAINT_TIGHTENED, "$", frozenset({B}))},
        id="maxLength lowered",
    ),
    pytest.param(
        {"type": "string", "minLength": 1},
        STRING,
        {(Rule.CONSTRAINT_RELAXED, "$", frozenset({F}))},
        id="minLength removed",
    ),
    pytest.param(
        {"type": "integer", "minimum": 0},
        {"type": "integer", "exclusiveMinimum": 0},
        {(Rule.CONSTRAINT_TIGHTENED, "$", frozenset({B}))},
        id="ge 0 to gt 0 is one tightening",
    ),
    pytest.param(
        {"type": "number", "maximum": 5},
        {"type": "number", "maximum": 9},
        {(Rule.CONSTRAINT_RELAXED, "$", frozenset({F}))},
        id="maximum raised",
    ),
    pytest.param(
        STRING,
        {"type": "string", "pattern": "^a"},
        {(Rule.CONSTRAINT_TIGHTENED, "$", frozenset({B}))},
        id="pattern added",
    ),
    pytest.param(
        {"type": "string", "pattern": "^a"},
        {"type": "string", "pattern": "^b"},
        {(Rule.CONSTRAINT_CHANGED, "$", frozenset({B, F}))},
        id="pattern replaced",
    ),
    pytest.param(
        {"type": "object", "maxProperties": 32},
        {"type": "object", "maxProperties": 8},
        {(Rule.CONSTRAINT_TIGHTENED, "$", frozenset({B}))},
        id="maxProperties lowered",
    ),
    pytest.param(
        {"type": "array", "items": {"type": "integer"}},
        {"type": "array", "items": {"type": "number"}},
        {(Rule.TYPE_WIDENED, "$[*]", frozenset({F}))},
        id="array items widened",
    ),
    pytest.param(
        STRING,
        {"type": "string", "not": {"const": "x"}},
        {(Rule.CONSTRAINT_CHANGED, "$", frozenset({B, F}))},
        id="unknown keyword is a change of both kinds",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test__diff__rule_and_breaks(
    old: dict[str, Any], new: dict[str, Any], expected: set[tuple[Rule, str, frozenset[Compat]]]
) -> None:
    assert _changes(old, new) == expected


def test__diff__annotations_and_order__are_not_changes() -> None:
    old = {"type": ["null", "string"], "title": "A", "description": "x", "required": ["b", "a"]}
    new = {"type": ["string", "null"], "title": "B", "default": None, "required": ["a", "b"]}
    assert diff_schema(normalize(old, {}), normalize(new, {})) == []


def test__diff__refs_are_resolved_before_diffing() -> None:
    defs = {"Part": _obj({"x": {"type": "integer"}}, ["x"])}
    old = _obj({"part": {"$ref": "#/$defs/Part"}}, ["part"])
    new = _obj({"part": _obj({"x": {"type": "number"}}, ["x"])}, ["part"])
    changes = diff_schema(normalize(old, defs), normalize(new, {}))
    assert [(c.rule, c.path) for c in changes] == [(Rule.TYPE_WIDENED, "$.part.x")]


def test__diff__changed_union_member__is_diffed_inside() -> None:
    old = {"anyOf": [STRING, _obj({"n": {"type": "integer"}})]}
    new = {"anyOf": [STRING, _obj({"n": {"type": "integer"}, "m": STRING})]}
    changes = diff_schema(normalize(old, {}), normalize(new, {}))
    assert [(c.rule, c.path) for c in changes] == [(Rule.FIELD_ADDED, "$.m")]


@pytest.mark.parametrize(
    ("direction", "ignores", "rule", "breaks"),
    [
        ("client", False, Rule.NEW_INBOUND_MESSAGE_TYPE, frozenset({F})),
        ("server", False, Rule.NEW_OUTBOUND_MESSAGE_TYPE, frozenset({F})),
        ("server", True, Rule.NEW_OUTBOUND_MESSAGE_TYPE, frozenset()),
    ],
)
def test__diff_messages__new_type(
    direction: Direction, ignores: bool, rule: Rule, breaks: frozenset[Compat]
) -> None:
    found = diff_messages({}, {"x": {}}, direction, ignores_unknown_types=ignores)
    assert [(name, c.rule, c.breaks) for name, c in found] == [("x", rule, breaks)]


@pytest.mark.parametrize(
    ("direction", "breaks"), [("client", frozenset({B})), ("server", frozenset({B, F}))]
)
def test__diff_messages__type_removed(direction: Direction, breaks: frozenset[Compat]) -> None:
    found = diff_messages({"x": {}}, {}, direction, ignores_unknown_types=True)
    assert [(name, c.rule, c.breaks) for name, c in found] == [
        ("x", Rule.MESSAGE_TYPE_REMOVED, breaks)
    ]
