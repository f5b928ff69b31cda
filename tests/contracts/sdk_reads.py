"""What the Python SDK reads of each server message, found by running its own decoder.

The SDK (``agentsocket.client``) reads every frame with
:func:`agentsocket.protocol.decode_server` into a head model, so what it needs
of a frame is what that decoder cannot do without. For each message of each
version this takes the golden example and drops one value at a time: every
value whose loss makes the decoder fail is a read. The kind is the example's;
a value the decoder also takes as ``null`` becomes a variant (``where``), as a
pact states one kind per read; the version's JSON Schema makes constants (the
tags) exact values and adds enums and ISO 8601 patterns. Besides the decoder,
the SDK reads two envelope fields itself: ``seq`` of stream messages (its
resume cursor) and ``correlation_id`` of the replies its request helpers wait
for (``client/requests.py``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

from agentsocket.protocol import SERVER_MESSAGES, ErrorCode, ProtocolError, decode_server
from agentsocket.protocol.contracts import Contract, Expectation, Read, join_path, kind_of
from agentsocket.protocol.schema import frame_schemas, server_types
from agentsocket.protocol.versions import VERSIONS
from tests.contracts.pacts import example

CONSUMER = "python-sdk"
ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$"

#: Replies the SDK's request helpers wait for by correlation id (Connection._call,
#: Requests.route: an ``error`` with the id refuses the request).
REPLIES = frozenset(
    {
        "pong",
        "error",
        "message_received",
        "thread_created",
        "thread_list",
        "thread_history",
        "thread_renamed",
        "thread_deleted",
    }
)
_NOTE = "agentsocket.client: decode_server validates it into the head model"

Segments = list[str | int | None]


def _decodes(frame: dict[str, Any], version: str, message: str) -> ProtocolError | None:
    """Why the SDK's decoder refuses ``frame`` as a ``message``, or ``None``."""
    try:
        decoded = decode_server(json.dumps(frame), version)
    except Exception as exc:  # a decoder bug on odd input still means "cannot read it"
        return ProtocolError(ErrorCode.VALIDATION_FAILED, f"decode_server raised {exc!r}")
    if isinstance(decoded, ProtocolError):
        return decoded
    if message != decoded.message.TYPE:
        return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"read as {decoded.message.TYPE}")
    return None


def _nodes(value: Any, at: Segments) -> Iterator[Segments]:
    """Paths of every value inside ``value``, outer first; of an array, the first element."""
    children: list[tuple[str | int | None, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list) and value:
        children = [(None, value[0])]
    for key, item in children:
        yield [*at, key]
        yield from _nodes(item, [*at, key])


def _parent(frame: Any, at: Segments) -> tuple[Any, str | int]:
    node = frame
    for segment in at[:-1]:
        node = node[0 if segment is None else segment]
    last = at[-1]
    return node, 0 if last is None else last


def without(frame: dict[str, Any], at: Segments) -> dict[str, Any]:
    """A copy of ``frame`` without the value at ``at`` (``[*]`` is the first element)."""
    changed = copy.deepcopy(frame)
    node, key = _parent(changed, at)
    del node[key]
    return changed


def _with(frame: dict[str, Any], at: Segments, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(frame)
    node, key = _parent(changed, at)
    node[key] = value
    return changed


def _value(frame: Any, at: Segments) -> Any:
    node, key = _parent(frame, at)
    return node[key]


def _schema_at(schema: dict[str, Any], defs: dict[str, Any], at: Segments) -> dict[str, Any]:
    """The JSON Schema of the value at ``at`` ({} when the schema says nothing)."""
    node = schema
    for segment in [*at, "<end>"]:
        while True:
            if "$ref" in node:
                node = defs[node["$ref"].rsplit("/", 1)[-1]]
            elif "anyOf" in node or "oneOf" in node:
                alternatives = node.get("anyOf") or node.get("oneOf") or []
                options = [o for o in alternatives if o != {"type": "null"}]
                node = options[0] if len(options) == 1 else {}
            else:
                break
        if segment == "<end>":
            return node
        if isinstance(segment, str):
            node = node.get("properties", {}).get(segment, {})
        else:
            node = node.get("items", {})
    return node


def _read(at: Segments, sample: Any, schema: dict[str, Any]) -> Read:
    path = join_path(at)
    if "const" in schema:  # the tags: type, v1's event, v2's data.event
        return Read(path, equals=schema["const"], note=_NOTE)
    if "enum" in schema and isinstance(sample, str):
        pattern = "^(?:" + "|".join(re.escape(value) for value in schema["enum"]) + ")$"
        return Read(path, pattern=pattern, note=_NOTE)
    if schema.get("format") == "date-time" and isinstance(sample, str):
        return Read(path, pattern=ISO_8601, note=_NOTE)
    return Read(path, frozenset({kind_of(sample)}), note=_NOTE)


def expectation(version: str, message: str) -> Expectation:
    """What the SDK reads of ``message`` in ``version``, derived from its decoder."""
    frame = example(version, message)
    problem = _decodes(frame, version, message)
    if problem is not None:
        raise AssertionError(f"the SDK cannot read the golden {version} {message}: {problem}")
    schema = frame_schemas(version)[0][message]
    defs = frame_schemas(version)[2]
    reads: list[Read] = []
    where: list[Read] = []
    needed = [at for at in _nodes(frame, []) if _decodes(without(frame, at), version, message)]
    for at in needed:
        sample = _value(frame, at)
        if sample is not None and _decodes(_with(frame, at, None), version, message) is None:
            where.append(Read(join_path(at), frozenset({kind_of(sample)})))  # the non-null variant
        if any(len(other) > len(at) and other[: len(at)] == at for other in needed):
            continue  # a structure: the reads inside it say more
        reads.append(_read(at, sample, _schema_at(schema, defs, at)))
        if None in at:  # each element is read: about frames with at least one
            first = at.index(None)
            where.append(Read(join_path([*at[:first], 0])))
    if SERVER_MESSAGES[message].STREAM:
        reads.append(
            Read("$.seq", frozenset({"integer"}), note="client/stream.py: the resume cursor")
        )
    if message in REPLIES:
        note = "client/requests.py: a reply is matched to its request by correlation id"
        reads.append(Read("$.correlation_id", frozenset({"string"}), note=note))
        where.append(Read("$.correlation_id", frozenset({"string"})))
    unique = [read for index, read in enumerate(where) if read not in where[:index]]
    return Expectation(message, tuple(reads), tuple(unique), note=_NOTE)


def contract(version: str) -> Contract:
    """The SDK's contract for ``version``: every message the version can carry."""
    return Contract(
        CONSUMER, version, tuple(expectation(version, message) for message in server_types(version))
    )


def contracts() -> list[Contract]:
    """One contract per version: the SDK speaks them all."""
    return [contract(version.name) for version in VERSIONS]
