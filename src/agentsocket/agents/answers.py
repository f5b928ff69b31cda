"""Checking a person's answer against the JSON Schema it was asked with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

#: Problems reported for one answer, at most (a huge wrong answer must not make a huge error).
MAX_PROBLEMS = 20


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``schema`` is a valid JSON Schema (draft 2020-12)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None


def schema_errors(schema: Mapping[str, Any], value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Where ``value`` fails ``schema``: (dotted path below ``prefix``, reason), first few only.

    Example: ``[("answer.count", "-1 is less than the minimum of 0")]`` with
    ``prefix="answer"``.
    """
    problems: list[tuple[str, str]] = []
    for error in Draft202012Validator(schema).iter_errors(value):
        path = ".".join(
            [prefix, *(str(part) for part in error.absolute_path)]
            if prefix
            else [str(part) for part in error.absolute_path]
        )
        problems.append((path or prefix, error.message))
        if len(problems) == MAX_PROBLEMS:
            break
    return sorted(problems)
