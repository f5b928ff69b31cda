"""The terminal chat's side of an agent's question: its fields in words, and typed answers.

A question (``agent_question``) comes with a JSON Schema for its answer. The
chat lists what the schema asks for (:func:`describe`) and reads what the
user types after ``/answer`` (:func:`parse_answer`): either the answer as
JSON, or, for an object, its fields one by one as ``name=value`` with
shell-like quoting (``comment="very neat"``, ``tags='["a", "b"]'``). A field
the schema types as a string takes the text as is; any other value is read as
JSON (``rating=4`` is the number 4), falling back to the text. The server
checks the answer against the schema; this only turns typing into JSON.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

_LIMITS = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
)


def describe(schema: Mapping[str, Any]) -> list[str]:
    """One line per field the answer has: name, type, limits, title, and whether required.

    A schema that is not an object with properties is one field, ``answer``.
    """
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, Mapping):
        return [_field("answer", schema, required=True)]
    required = set(schema.get("required") or ())
    return [
        _field(name, sub if isinstance(sub, Mapping) else {}, required=name in required)
        for name, sub in properties.items()
    ]


def _field(name: str, schema: Mapping[str, Any], *, required: bool) -> str:
    kind = _type(schema) or "JSON"
    if isinstance(schema.get("enum"), list):
        kind = "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    limits = [text.format(schema[key]) for key, text in _LIMITS if key in schema]
    details = ", ".join([kind, *limits, "required" if required else "optional"])
    title = schema.get("title")
    return f"{name} ({details})" + (f": {title}" if isinstance(title, str) else "")


def parse_answer(text: str, schema: Mapping[str, Any]) -> Any:
    """The answer typed after ``/answer``: JSON, or ``name=value`` pairs for an object.

    Raises:
        ValueError: nothing typed, unbalanced quotes, or a pair without ``=``.
    """
    text = text.strip()
    if not text:
        raise ValueError("type the answer after /answer: JSON, or name=value for each field")
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, Mapping):
        return _value(text, schema)
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
    answer: dict[str, Any] = {}
    for pair in shlex.split(text):
        name, equals, raw = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"{pair!r} is not name=value")
        sub = properties.get(name)
        answer[name] = _value(raw, sub if isinstance(sub, Mapping) else {})
    return answer


def _value(raw: str, schema: Mapping[str, Any]) -> Any:
    """``raw`` as the schema's type would have it: a string as is, anything else as JSON."""
    if _type(schema) == "string":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # the schema check says what is wrong with it


def _type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None
