"""Validate received frames against the gateway's served JSON Schema (``/schema/{version}.json``).

python docs/examples/client/validate_frames.py http://127.0.0.1:8765 v3 < frames.jsonl
"""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


def validator(document: dict[str, Any], definition: str = "ServerMessage") -> Draft202012Validator:
    """A validator for one definition of a served schema document.

    The document is ``{"anyOf": [ServerMessage, ClientMessage], "$defs": {...}}``: a
    frame you receive is a ``ServerMessage`` (one you send a ``ClientMessage``), so
    validate against that definition, not the whole document, which would also
    accept a client frame. ``date-time`` strings are only checked by a format checker
    that knows the format: jsonschema needs ``rfc3339-validator`` for it
    (``pip install "jsonschema[format]"``); without it they pass unchecked.
    """
    schema = {key: value for key, value in document.items() if key != "anyOf"}
    schema["$ref"] = f"#/$defs/{definition}"
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problem(document: dict[str, Any], frame: Any) -> str | None:
    """Why ``frame`` is not a valid server frame, or None.

    ``ServerMessage`` is a ``oneOf`` of every message, so its own error only says
    "not valid under any"; the message's own definition, ``server.<type>``, names
    the field.
    """
    errors = list(validator(document).iter_errors(frame))
    if not errors:
        return None
    data = frame.get("data") if isinstance(frame, dict) else None
    tag = (data or {}).get("event") or frame.get("type") or frame.get("event")
    if f"server.{tag}" in document["$defs"]:
        errors = list(validator(document, f"server.{tag}").iter_errors(frame)) or errors
    error = best_match(errors)
    return f"{'/'.join(map(str, error.absolute_path)) or '(frame)'}: {error.message}"


def main(base_url: str, version: str) -> int:
    """Check frames, one JSON object per line of stdin; exit 1 if any is invalid."""
    document = httpx.get(f"{base_url}/schema/{version}.json").json()
    invalid = 0
    for number, line in enumerate(sys.stdin, 1):
        found = problem(document, json.loads(line))
        if found is not None:
            print(f"line {number}: {found}")
            invalid += 1
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
