"""What a client frame may hold beyond its schema, checked in one place.

The JSON Schema says which fields a message has; these limits say what no
value may be, whatever field it is in, because the layers below cannot take
it (each one was a real crash or a stuck run):

- nesting deeper than :data:`MAX_DEPTH` (objects and arrays; the frame itself
  is level 1): recursive code further down would overflow Python's stack;
- a string or object key holding U+0000 (NUL): PostgreSQL refuses it in text,
  after a run may already have started;
- an integer beyond ±:data:`MAX_SAFE_INTEGER` (2**53 - 1, what a JavaScript
  number holds exactly): a Redis stream id or a browser cannot represent it;
- a time (Unix seconds) outside :data:`MIN_EPOCH_SECONDS` ..
  :data:`MAX_EPOCH_SECONDS` (years 1 to 9999): it has no ISO 8601 form, which
  v1 clients read.

:func:`scan_frame` walks a decoded frame once, without recursion, and reports
every breach as a :class:`FieldIssue` with the path in the sender's shape; the
codec turns them into ``validation_failed`` before the frame reaches a version
change or a model. The models apply the same rules to what SDK callers build
(:func:`check_text`, :func:`check_epoch_seconds`, :func:`check_value`).
"""

from __future__ import annotations

from typing import Any

from agentsocket.protocol.errors import FieldIssue

#: Deepest nesting of objects and arrays in a client frame (the frame is level 1).
#: A guard for the code below, far above any valid frame (v3's ``data.metadata``
#: reaches level 2 + :data:`METADATA_MAX_DEPTH`), so a field's own tighter
#: limit still reports the field.
MAX_DEPTH = 32
#: Deepest nesting inside ``user_message.metadata`` (the metadata object is level 1).
METADATA_MAX_DEPTH = 8
#: Largest integer magnitude a client may send: 2**53 - 1 (JavaScript's safe integers).
MAX_SAFE_INTEGER = 2**53 - 1
#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z as Unix seconds: the range ISO 8601 can write.
MIN_EPOCH_SECONDS = -62_135_596_800.0
MAX_EPOCH_SECONDS = 253_402_300_799.0
#: At most this many issues are reported for one frame; the rest are implied.
MAX_ISSUES = 16

NUL_REASON = "must not contain U+0000 (NUL)"
DEPTH_REASON = f"nests deeper than {MAX_DEPTH} levels"
INTEGER_REASON = f"integer beyond ±{MAX_SAFE_INTEGER} (2**53 - 1)"
EPOCH_REASON = "time out of range: Unix seconds of years 1 to 9999"


def scan_frame(frame: Any) -> list[FieldIssue]:
    """Every breach of these limits in a decoded client frame, at most :data:`MAX_ISSUES`.

    Iterative: a frame nested 1,000 levels costs a loop, not a stack. Nothing
    below :data:`MAX_DEPTH` is visited.
    """
    issues: list[FieldIssue] = []
    stack: list[tuple[Any, str, int]] = [(frame, "$", 1)]
    while stack and len(issues) < MAX_ISSUES:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                issues.append(FieldIssue(path, NUL_REASON))
        elif isinstance(value, dict):
            if depth > MAX_DEPTH:
                issues.append(FieldIssue(path, DEPTH_REASON))
                continue
            for key, item in value.items():
                child = f"{path}.{key}"
                if "\x00" in key:
                    issues.append(FieldIssue(child, "field name " + NUL_REASON))
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                issues.append(FieldIssue(path, DEPTH_REASON))
                continue
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif _unsafe_integer(value):
            issues.append(FieldIssue(path, INTEGER_REASON))
    return issues


def check_text(value: str) -> str:
    """``value`` unchanged; a model validator for free text.

    Raises:
        ValueError: it holds U+0000.
    """
    if "\x00" in value:
        raise ValueError(NUL_REASON)
    return value


def check_epoch_seconds(value: float | None) -> float | None:
    """``value`` unchanged; a model validator for a client's Unix time.

    Raises:
        ValueError: outside years 1 to 9999.
    """
    if value is not None and not MIN_EPOCH_SECONDS <= value <= MAX_EPOCH_SECONDS:
        raise ValueError(EPOCH_REASON)
    return value


def check_value(value: Any, max_depth: int) -> Any:
    """``value`` unchanged; a model validator for free-form JSON such as metadata.

    ``value`` itself is level 1.

    Raises:
        ValueError: nested deeper than ``max_depth``, or a string, key or
            integer outside the limits above.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise ValueError(f"nests deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key in item:
                    check_text(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
        elif _unsafe_integer(item):
            raise ValueError(INTEGER_REASON)
    return value


def _unsafe_integer(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    )
