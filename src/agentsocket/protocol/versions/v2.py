"""The changes that turned v1 (legacy flat) into v2 (the seed's envelope).

Each class converts between v2 frames (newer) and v1 frames (older).
"""

from __future__ import annotations

from typing import Any, ClassVar

from agentsocket.protocol.client_messages import CLIENT_MESSAGES
from agentsocket.protocol.server_messages import SERVER_MESSAGES
from agentsocket.protocol.versions.change import (
    ISO_SCHEMA,
    Direction,
    Frame,
    Schema,
    VersionChange,
    data_schema,
    drop_props,
    epoch,
    iso,
    title_for,
    with_props,
)

#: v2's `system_message` events (v3 gives each its own type).
SYSTEM_EVENTS = frozenset(
    {"connection_established", "deprecation_notice", "server_shutdown", "stream_gap"}
)
_WELCOME = "connection_established"


class WrapMessagesInEnvelope(VersionChange):
    """v1 frames were flat objects: the tag in ``event`` (server) or ``type`` (client),
    the fields beside it."""

    description = (
        "Every frame is an envelope `{type, data, timestamp, server_id, correlation_id}` "
        "instead of a flat object; server frames are tagged by `type` instead of `event`, and "
        "timestamps are Unix seconds instead of ISO 8601. System events (the welcome "
        "connection_established, deprecation_notice, server_shutdown, stream_gap) arrive as "
        '`{"type": "system_message", "data": {"event": "<name>", ...}}`. The welcome keeps the '
        "seed's v1 fields exactly, inside `data`: event, connection_ready, user_id, server_time, "
        "environment."
    )
    mapped: ClassVar[dict[str, str]] = {
        _WELCOME: "v1's welcome has no connection_id, timestamp or server_id; read from v1, "
        "connection_id is empty and the timestamp is the server_time.",
    }

    def server_down(self, frame: Frame) -> Frame:
        data: dict[str, Any] = frame["data"]
        name = data["event"] if frame["type"] == "system_message" else frame["type"]
        flat: dict[str, Any] = {"event": name}
        for key, value in data.items():
            if key != "event" and not (name == _WELCOME and key == "connection_id"):
                flat[key] = value
        if name != _WELCOME:
            flat["timestamp"] = iso(frame["timestamp"])
            if frame.get("correlation_id") is not None:
                flat["correlation_id"] = frame["correlation_id"]
        if frame.get("seq") is not None:
            flat["seq"] = frame["seq"]
        return flat

    def server_up(self, frame: Frame) -> Frame:
        name = frame["event"]
        data = {k: v for k, v in frame.items() if k not in {"event", "timestamp", "seq"}}
        data.pop("correlation_id", None)
        if name == _WELCOME:
            data = {"event": name, "connection_id": "", **data, "protocol_version": "v1"}
            stamp = epoch(frame["server_time"])
        else:
            stamp = epoch(frame["timestamp"])
            if name in SYSTEM_EVENTS:
                data = {"event": name, **data}
        up: Frame = {
            "type": "system_message" if name in SYSTEM_EVENTS else name,
            "data": data,
            "timestamp": stamp,
            "server_id": None,
            "correlation_id": frame.get("correlation_id"),
        }
        if "seq" in frame:
            up["seq"] = frame["seq"]
        return up

    def client_up(self, frame: Frame) -> Frame:
        fields = {k: v for k, v in frame.items() if k not in {"type", "correlation_id"}}
        up: Frame = {"type": frame.get("type"), "data": fields}
        if "correlation_id" in frame:
            up["correlation_id"] = frame["correlation_id"]
        return up

    def client_down(self, frame: Frame) -> Frame:
        flat: Frame = {"type": frame["type"], **frame.get("data", {})}
        if frame.get("correlation_id") is not None:
            flat["correlation_id"] = frame["correlation_id"]
        return flat

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        envelope = schema["properties"]
        data = data_schema(schema)
        is_system = envelope["type"]["const"] == "system_message"
        name = data["properties"]["event"]["const"] if is_system else envelope["type"]["const"]
        fields = drop_props(data, frozenset({"event"}))
        if name == _WELCOME:
            fields = drop_props(fields, frozenset({"connection_id"}))
        tag = "event" if direction == "server" else "type"
        props: dict[str, Schema] = {tag: {"const": name}, **fields["properties"]}
        required = [tag, *fields.get("required", [])]
        if direction == "server" and name != _WELCOME:
            props["timestamp"] = ISO_SCHEMA
            required.append("timestamp")
        if "correlation_id" in envelope and name != _WELCOME:
            props["correlation_id"] = {"type": ["string", "null"]}
        if "seq" in envelope:
            props["seq"] = envelope["seq"]
        flat = with_props(schema, props, required)
        flat.pop("additionalProperties", None)
        if fields.get("additionalProperties") is False:
            flat["additionalProperties"] = False
        return {**flat, "title": title_for(name)}


#: Fields that hold a point in time, wherever they appear in a message.
TIME_FIELDS = frozenset({"server_time", "client_time", "created_at", "updated_at"})


class UseUnixSecondsForTimes(VersionChange):
    """v1 wrote every time as an ISO 8601 string."""

    description = (
        "Times inside messages (`server_time`, `client_time`, `created_at`, `updated_at`) "
        "are Unix seconds instead of v1's ISO 8601 strings; only the welcome's `server_time` "
        "stays ISO 8601, exactly as the seed sent it."
    )

    def server_down(self, frame: Frame) -> Frame:
        if frame["type"] not in _TIMED:
            return frame  # the hot path: most messages carry no time field
        return {**frame, "data": _times(frame["data"], iso_of)}

    def server_up(self, frame: Frame) -> Frame:
        if frame["type"] not in _TIMED:
            return frame  # also v2's welcome (system_message), which keeps its ISO time
        return {**frame, "data": _times(frame["data"], epoch_of)}

    def client_up(self, frame: Frame) -> Frame:
        data = frame.get("data")
        if frame.get("type") not in _TIMED or not isinstance(data, dict):
            return frame
        return {**frame, "data": _times(data, epoch_of)}

    def client_down(self, frame: Frame) -> Frame:
        if frame["type"] not in _TIMED:
            return frame
        return {**frame, "data": _times(frame.get("data", {}), iso_of)}

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        props = schema["properties"]
        return {**schema, "properties": {**props, "data": _time_schemas(props["data"])}}


def _schema_has_times(node: Any) -> bool:
    if isinstance(node, list):
        return any(_schema_has_times(item) for item in node)
    if not isinstance(node, dict):
        return False
    props = node.get("properties")
    if isinstance(props, dict) and TIME_FIELDS & props.keys():
        return True
    return any(_schema_has_times(value) for value in node.values())


#: Message types (head names; the same in v2) that carry a time field somewhere.
#: Derived once from the models, so a new timed field is converted without a list to keep.
_TIMED = frozenset(
    name
    for catalogue in (SERVER_MESSAGES, CLIENT_MESSAGES)
    for name, model in catalogue.items()
    if _schema_has_times(model.model_json_schema())
)


def iso_of(value: Any) -> Any:
    return iso(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def epoch_of(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return epoch(value)
    except ValueError:
        return value  # left as is: validation reports the bad field


def _is_welcome(frame: Frame) -> bool:
    data = frame.get("data")
    return (
        frame.get("type") == "system_message"
        and isinstance(data, dict)
        and (data.get("event") == _WELCOME)
    )


def _times(value: Any, convert: Any) -> Any:
    """``value`` with every time field converted, at any depth."""
    if isinstance(value, dict):
        return {k: convert(v) if k in TIME_FIELDS else _times(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(item, convert) for item in value]
    return value


def _time_schemas(schema: Any) -> Any:
    """A schema copy whose numeric time properties are ISO 8601 strings, at any depth."""
    if isinstance(schema, list):
        return [_time_schemas(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _time_schemas(v) for k, v in schema.items()}
    props = out.get("properties")
    if isinstance(props, dict):
        out["properties"] = {k: _as_iso(v) if k in TIME_FIELDS else v for k, v in props.items()}
    return out


def _as_iso(schema: Schema) -> Schema:
    if schema.get("type") in ("number", "integer"):
        # Not the head's description: it says "Unix time in seconds", which this is not.
        kept = {k: v for k, v in schema.items() if k in ("title", "default")}
        return {**kept, **ISO_SCHEMA, "description": "ISO 8601 date and time (UTC)."}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_as_iso(option) for option in schema["anyOf"]]}
    return schema


class StreamAnswerText(VersionChange):
    """v1 clients received only the final report, never streamed pieces."""

    description = "The answer's text is streamed as `partial_result` pieces before `final_report`."
    dropped: ClassVar[dict[str, str]] = {
        "partial_result": "v1 clients only read final_report; streamed pieces are not sent."
    }


CHANGES: tuple[VersionChange, ...] = (
    UseUnixSecondsForTimes(),
    WrapMessagesInEnvelope(),
    StreamAnswerText(),
)
