"""The terminal chat's questions: a schema's fields in words, and what the user types as JSON."""

from __future__ import annotations

from typing import Any

import pytest

from agentsocket.agents.demo import SURVEY_SCHEMA
from agentsocket.chat_answers import describe, parse_answer

CHOICE = {
    "type": "object",
    "properties": {
        "size": {"enum": ["S", "M", "L"]},
        "count": {"type": "number", "minimum": 0},
        "gift": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
    },
    "required": ["size"],
}


def test__describe__the_surveys_fields_with_types_limits_titles_and_required() -> None:
    assert describe(SURVEY_SCHEMA) == [
        "rating (integer, ≥ 1, ≤ 5, required): Rating (1-5)",
        "comment (string, at most 200 characters, optional): Comment",
    ]


def test__describe__enum_and_untyped_fields__and_a_schema_that_is_not_an_object() -> None:
    assert describe(CHOICE) == [
        'size (one of "S", "M", "L", required)',
        "count (number, ≥ 0, optional)",
        "gift (boolean, optional)",
        "tags (array, optional)",
        "note (string, optional)",
    ]
    assert describe({"type": "integer", "maximum": 10, "title": "How many?"}) == [
        "answer (integer, ≤ 10, required): How many?"
    ]


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("rating=4", {"rating": 4}),
        ('rating=4 comment="very neat"', {"rating": 4, "comment": "very neat"}),
        # A string field keeps the text as typed, even when it reads as JSON.
        ("comment=42 rating=5", {"comment": "42", "rating": 5}),
        ('{"rating": 3}', {"rating": 3}),
        # Not a number: sent as text, for the server's schema check to name.
        ("rating=four", {"rating": "four"}),
    ],
)
def test__parse_answer__fields_by_name_or_json(typed: str, answer: dict[str, Any]) -> None:
    assert parse_answer(typed, SURVEY_SCHEMA) == answer


def test__parse_answer__typed_by_the_schema_beyond_the_survey() -> None:
    # Shell-like quoting: a JSON value with quotes inside goes in single quotes.
    assert parse_answer("""size=M count=2.5 gift=true tags='["a","b"]' note=hi""", CHOICE) == {
        "size": "M",
        "count": 2.5,
        "gift": True,
        "tags": ["a", "b"],
        "note": "hi",
    }
    assert parse_answer("7", {"type": "integer"}) == 7
    assert parse_answer("seven days", {"type": "string"}) == "seven days"
    assert parse_answer('["x"]', {"type": "array"}) == ["x"]


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "type the answer after /answer"),
        ("rating", "'rating' is not name=value"),
        ('comment="unclosed', "No closing quotation"),
        ('{"rating": ', "not valid JSON"),
    ],
)
def test__parse_answer__what_cannot_be_sent(typed: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_answer(typed, SURVEY_SCHEMA)
