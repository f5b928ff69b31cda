"""Frames ⇄ head models, for any supported version. Pure: no I/O.

Server side: :func:`decode_client` reads what a client sent (bad input comes
back as a :class:`ProtocolError`, never raised) and :func:`encode_server`
writes a message in the client's version. Client side (the SDK):
:func:`encode_client` and :func:`decode_server`.

:func:`encode_server_many` converts one outbound message for several
versions, reusing each step: the head frame is built once and each older
version is derived from the next newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import orjson
from pydantic import ValidationError

from agentsocket.protocol import versions as _versions
from agentsocket.protocol.client_messages import CLIENT_MESSAGES
from agentsocket.protocol.codes import ErrorCode
from agentsocket.protocol.envelope import ClientEnvelope, ServerEnvelope
from agentsocket.protocol.errors import FieldIssue, ProtocolError, UnsupportedVersionError
from agentsocket.protocol.limits import scan_frame
from agentsocket.protocol.server_messages import SERVER_MESSAGES
from agentsocket.protocol.versions import VERSIONS, Frame, NotInVersion, Version, get_version

#: Default largest inbound frame, in bytes (the reference system allowed 8 KiB).
DEFAULT_MAX_FRAME_SIZE = 64 * 1024
_CLIENT_ENVELOPE_KEYS = frozenset({"type", "data", "correlation_id"})
_MAX_CORRELATION_ID = 128


def resolve(version: Version | str) -> Version:
    """A :class:`Version` from itself or its name.

    Raises:
        UnsupportedVersionError: unknown name.
    """
    return version if isinstance(version, Version) else get_version(version)


# --- server side ------------------------------------------------------------


def decode_client(
    frame: bytes | str,
    version: Version | str,
    max_size: int = DEFAULT_MAX_FRAME_SIZE,
) -> ClientEnvelope | ProtocolError:
    """Read one client frame of ``version`` into a head message.

    Returns:
        The decoded envelope, or a :class:`ProtocolError` whose ``code`` is
        ``too_large``, ``invalid_json``, ``not_an_object``, ``unknown_type``,
        ``validation_failed`` or ``unsupported_version``; validation errors
        list each bad field's JSON path (in the client's wire shape) and reason.
    """
    try:
        target = resolve(version)
    except UnsupportedVersionError as exc:
        return ProtocolError(ErrorCode.UNSUPPORTED_VERSION, str(exc))
    if _size(frame, max_size) > max_size:
        return ProtocolError(ErrorCode.TOO_LARGE, f"frame exceeds {max_size} bytes")
    try:
        raw = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return ProtocolError(ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}")
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "null"
        return ProtocolError(ErrorCode.NOT_AN_OBJECT, f"frame must be a JSON object, got {kind}")
    correlation_id, issues = _correlation_id(raw)
    # Before anything recursive (version changes, models) sees the frame.
    breaches = scan_frame(raw)
    if breaches:
        known = {issue.path for issue in issues}
        issues.extend(issue for issue in breaches if issue.path not in known)
        return _invalid(issues, correlation_id)
    tag = raw.get("type")
    if not isinstance(tag, str):
        reason = "required" if tag is None else "must be a string"
        issues.append(FieldIssue("$.type", reason))
        return _invalid(issues, correlation_id)
    try:
        head = _versions.client_up(raw, target)
    except NotInVersion:
        return _unknown(tag, target, correlation_id)
    model = CLIENT_MESSAGES.get(head["type"])
    if model is None:
        return _unknown(tag, target, correlation_id)
    if not head.keys() <= _CLIENT_ENVELOPE_KEYS:
        issues.extend(
            FieldIssue(f"$.{key}", "unexpected field")
            for key in sorted(head.keys() - _CLIENT_ENVELOPE_KEYS)
        )
    data = head.get("data", {})
    if not isinstance(data, dict):
        issues.append(FieldIssue(target.data_path, "must be an object"))
        return _invalid(issues, correlation_id)
    try:
        message = model.model_validate(data)
    except ValidationError as exc:
        issues.extend(_field_issues(exc, target.data_path))
        return _invalid(issues, correlation_id)
    if issues:
        return _invalid(issues, correlation_id)
    return ClientEnvelope(message, correlation_id)


def head_frame(envelope: ServerEnvelope) -> Frame:
    """The head (v3) wire frame of an outbound envelope."""
    message = envelope.message
    return {
        "type": message.TYPE,
        # model_dump's own serializer, without model_dump's argument handling.
        "data": message.__pydantic_serializer__.to_python(message, mode="json"),
        "timestamp": envelope.timestamp,
        "server_id": envelope.server_id,
        "correlation_id": envelope.correlation_id,
        "seq": envelope.seq,
    }


def encode_server(envelope: ServerEnvelope, version: Version | str) -> bytes | None:
    """Encode an outbound message for ``version``.

    Returns:
        The frame's bytes, or ``None`` when ``version`` cannot express the
        message (a declared drop: count it, do not send it).
    """
    target = resolve(version)
    frame: Frame | None = head_frame(envelope)
    for newer in _STEPS[target.name]:
        frame = _versions.server_step_down(frame, newer)  # type: ignore[arg-type]
        if frame is None:
            return None
    return orjson.dumps(frame)


def encode_server_many(
    envelope: ServerEnvelope, targets: Iterable[Version]
) -> dict[str, bytes | None]:
    """Encode one outbound message once for each of ``targets`` (by version name)."""
    return encode_frame_many(head_frame(envelope), targets)


def encode_frame_many(frame: Frame, targets: Iterable[Version]) -> dict[str, bytes | None]:
    """Encode a head server frame for each of ``targets``, converting each step once.

    ``None`` for a version that cannot express the message (a declared drop).
    """
    wanted = {version.name for version in targets}
    encoded: dict[str, bytes | None] = {}
    current: Frame | None = frame
    for version in VERSIONS:
        if not wanted:
            break
        if version is not _versions.HEAD and current is not None:
            current = _versions.server_step_down(current, _NEWER[version.name])
        if version.name in wanted:
            encoded[version.name] = None if current is None else orjson.dumps(current)
            wanted.discard(version.name)
    return encoded


# --- client side (SDK) --------------------------------------------------------


def encode_client(envelope: ClientEnvelope, version: Version | str) -> bytes:
    """Encode a client message for a server speaking ``version``.

    Raises:
        NotInVersion: ``version`` has no such message (e.g. ``tool_approval`` in v2).
    """
    frame: Frame = {"type": envelope.message.TYPE, "data": envelope.message.model_dump(mode="json")}
    if envelope.correlation_id is not None:
        frame["correlation_id"] = envelope.correlation_id
    return orjson.dumps(_versions.client_down(frame, resolve(version)))


def decode_server(frame: bytes | str, version: Version | str) -> ServerEnvelope | ProtocolError:
    """Read one server frame of ``version`` into a head envelope (what the SDK yields)."""
    target = resolve(version)
    try:
        raw = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return ProtocolError(ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}")
    if not isinstance(raw, dict):
        return ProtocolError(ErrorCode.NOT_AN_OBJECT, "frame must be a JSON object")
    try:
        head = _versions.server_up(raw, target)
        model = SERVER_MESSAGES.get(head["type"])
        if model is None:
            return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {head['type']!r}")
        message = model.model_validate(head["data"])
        return ServerEnvelope(
            message=message,
            timestamp=float(head["timestamp"]),
            server_id=head.get("server_id"),
            correlation_id=head.get("correlation_id"),
            seq=head.get("seq"),
        )
    except ValidationError as exc:
        issues = tuple(_field_issues(exc, target.data_path))
        return ProtocolError(ErrorCode.VALIDATION_FAILED, "invalid server frame", issues)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # The version changes read frames by shape; a peer's malformed shape lands here.
        return ProtocolError(ErrorCode.VALIDATION_FAILED, f"malformed server frame: {exc!r}")


# --- helpers ----------------------------------------------------------------------


#: For each version, the one just newer; and the versions to step down through from head.
_NEWER = {older.name: newer for newer, older in pairwise(VERSIONS)}
_STEPS = {version.name: VERSIONS[:index] for index, version in enumerate(VERSIONS)}


def _size(frame: bytes | str, limit: int) -> int:
    if isinstance(frame, bytes) or len(frame) > limit or len(frame) * 4 <= limit:
        return len(frame)
    return len(frame.encode("utf-8", "surrogatepass"))


def _correlation_id(raw: dict[str, Any]) -> tuple[str | None, list[FieldIssue]]:
    value = raw.get("correlation_id")
    if value is None:
        return None, []
    if isinstance(value, str) and 0 < len(value) <= _MAX_CORRELATION_ID and "\x00" not in value:
        return value, []
    reason = f"must be a string of 1 to {_MAX_CORRELATION_ID} characters, without U+0000"
    return None, [FieldIssue("$.correlation_id", reason)]


def _field_issues(exc: ValidationError, prefix: str) -> list[FieldIssue]:
    issues = []
    for error in exc.errors(include_url=False, include_input=False):
        path = prefix + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        )
        issues.append(FieldIssue(path, error["msg"]))
    return issues


def _invalid(issues: list[FieldIssue], correlation_id: str | None) -> ProtocolError:
    paths = ", ".join(issue.path for issue in issues)
    return ProtocolError(
        ErrorCode.VALIDATION_FAILED, f"invalid fields: {paths}", tuple(issues), correlation_id
    )


def _unknown(tag: str, version: Version, correlation_id: str | None) -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNKNOWN_TYPE,
        f"unknown message type {tag!r} in protocol {version.name}",
        (FieldIssue("$.type", "unknown message type"),),
        correlation_id,
    )
