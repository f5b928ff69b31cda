"""The changes that turned v2 (the seed's envelope) into v3 (head).

Each class converts between v3 frames (newer) and v2 frames (older).
"""

from __future__ import annotations

from typing import Any, ClassVar

from agentsocket.protocol.versions.change import (
    ISO_SCHEMA,
    Direction,
    Frame,
    NotInVersion,
    Schema,
    VersionChange,
    data_schema,
    drop_props,
    epoch,
    frame_schema_type,
    iso,
    map_schema_type,
    map_type,
    rename_props,
    title_for,
    with_props,
)
from agentsocket.protocol.versions.v2 import SYSTEM_EVENTS

_WELCOME = "connection_established"
_WELCOME_V3_ONLY = frozenset(
    {
        "protocol_version",
        "heartbeat_interval",
        "max_frame_size",
        "stream",
        # Added to the head later (additive); v2 never had them.
        "agents",
        "default_agent",
    }
)


class GiveSystemEventsTheirOwnTypes(VersionChange):
    """v2 sent the welcome, deprecation notices, shutdowns and stream gaps as
    ``system_message`` with the real name in ``data.event``; v3 gives each its own type."""

    description = (
        "connection_established, deprecation_notice, server_shutdown and stream_gap are "
        "message types of their own instead of `system_message` with `data.event`; the "
        "welcome also states the protocol version, heartbeat interval, maximum frame size "
        "and stream position, and its server_time is Unix seconds instead of ISO 8601."
    )
    mapped: ClassVar[dict[str, str]] = {
        _WELCOME: "v2's welcome carries exactly the seed's fields: event, connection_id, "
        "user_id, connection_ready, server_time (ISO 8601), environment. Read from v2, the "
        "v3-only fields are null and protocol_version is 'v2'.",
    }

    def server_down(self, frame: Frame) -> Frame:
        name = frame["type"]
        if name not in SYSTEM_EVENTS:
            return frame
        data: dict[str, Any] = {"event": name}
        for key, value in frame["data"].items():
            if name == _WELCOME and key in _WELCOME_V3_ONLY:
                continue
            data[key] = iso(value) if name == _WELCOME and key == "server_time" else value
        return {**frame, "type": "system_message", "data": data}

    def server_up(self, frame: Frame) -> Frame:
        if frame["type"] != "system_message":
            return frame
        data = dict(frame["data"])
        name = data.pop("event")
        if name == _WELCOME:
            data["server_time"] = epoch(data["server_time"])
            data.setdefault("protocol_version", "v2")
            data.update(heartbeat_interval=None, max_frame_size=None, stream=None)
        return {**frame, "type": name, "data": data}

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        name = frame_schema_type(schema)
        if direction == "client" or name not in SYSTEM_EVENTS:
            return schema
        data = data_schema(schema)
        if name == _WELCOME:
            data = drop_props(data, _WELCOME_V3_ONLY)
            data = {**data, "properties": {**data["properties"], "server_time": ISO_SCHEMA}}
        data = with_props(
            data,
            {"event": {"const": name}, **data["properties"]},
            ["event", *data.get("required", [])],
        )
        props = {**schema["properties"], "type": {"const": "system_message"}, "data": data}
        return {**schema, "properties": props, "title": title_for(name)}


#: Fields added to the head after v3's release that v2 frames leave out, per message type.
_V3_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "agent_completed": frozenset({"usage"}),
    "message_received": frozenset({"queued"}),
    "error": frozenset({"run_id"}),
}
#: The same for client messages: v2 clients cannot choose, they get the gateway's setting.
_V3_ONLY_CLIENT_FIELDS: dict[str, frozenset[str]] = {"user_message": frozenset({"double_texting"})}


class AddRunDetails(VersionChange):
    """Token usage, queued runs and per-message double-texting are v3-only additions."""

    description = (
        "`agent_completed` carries the run's token `usage`, `message_received` says whether "
        "the run is `queued` behind the thread's running run, an `error` names the `run_id` "
        "it is about, and `user_message` may choose its `double_texting` policy; v2 frames "
        "leave them out and v2 clients get the gateway's policy."
    )

    def server_down(self, frame: Frame) -> Frame:
        names = _V3_ONLY_FIELDS.get(frame["type"])
        if not names:
            return frame
        data = {k: v for k, v in frame["data"].items() if k not in names}
        return {**frame, "data": data}

    def client_up(self, frame: Frame) -> Frame:
        names = _V3_ONLY_CLIENT_FIELDS.get(frame.get("type", ""))
        data = frame.get("data")
        if not names or not isinstance(data, dict):
            return frame
        return {**frame, "data": {k: v for k, v in data.items() if k not in names}}

    def client_down(self, frame: Frame) -> Frame:
        return self.client_up(frame)

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        table = _V3_ONLY_CLIENT_FIELDS if direction == "client" else _V3_ONLY_FIELDS
        names = table.get(frame_schema_type(schema))
        if not names:
            return schema
        data = drop_props(data_schema(schema), names)
        return {**schema, "properties": {**schema["properties"], "data": data}}


_ERROR_RENAMES = {"code": "error_code", "message": "error_message"}
_RECOVERY = {
    "invalid_json": "Send one JSON object per text frame.",
    "not_an_object": "Send a JSON object, not an array or a scalar.",
    "unknown_type": "Check the message type against the protocol reference.",
    "validation_failed": "Fix the fields listed in details.errors and resend.",
    "too_large": "Send a smaller frame; the limit is in the welcome (v3).",
    "rate_limited": "Wait details.retry_after seconds, then resend.",
    "too_many_runs": "Wait for a run to finish or stop one, then resend.",
    "not_found": "Check the id; list your threads to find it.",
}


class ReshapeErrors(VersionChange):
    """v2 errors were ``{error_code, error_message, details, recovery_suggestions}``."""

    description = (
        "Errors carry `code`, `message`, a list of field `errors` (JSON path and reason) and "
        "`retry_after` instead of v2's `error_code`, `error_message`, `details` and "
        "`recovery_suggestions`."
    )

    def server_down(self, frame: Frame) -> Frame:
        if frame["type"] != "error":
            return frame
        data = frame["data"]
        details: dict[str, Any] = {}
        if data.get("errors"):
            details["errors"] = data["errors"]
        if data.get("retry_after") is not None:
            details["retry_after"] = data["retry_after"]
        suggestion = _RECOVERY.get(data["code"])
        return {
            **frame,
            "data": {
                "error_code": data["code"],
                "error_message": data["message"],
                "details": details,
                "recovery_suggestions": [suggestion] if suggestion else [],
            },
        }

    def server_up(self, frame: Frame) -> Frame:
        if frame["type"] != "error":
            return frame
        data = frame["data"]
        details = data.get("details") or {}
        return {
            **frame,
            "data": {
                "code": data["error_code"],
                "message": data["error_message"],
                "errors": details.get("errors", []),
                "retry_after": details.get("retry_after"),
            },
        }

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        if direction == "client" or frame_schema_type(schema) != "error":
            return schema
        data = data_schema(schema)
        props = rename_props(drop_props(data, frozenset({"errors", "retry_after"})), _ERROR_RENAMES)
        details = {
            "type": "object",
            "properties": {
                "errors": data["properties"]["errors"],
                "retry_after": data["properties"]["retry_after"],
            },
        }
        new_data = with_props(
            props,
            {
                **props["properties"],
                "details": details,
                "recovery_suggestions": {"type": "array", "items": {"type": "string"}},
            },
            [*props["required"], "details", "recovery_suggestions"],
        )
        return {**schema, "properties": {**schema["properties"], "data": new_data}}


_TEXT_RENAMES = {"agent_message_delta": "partial_result", "agent_message": "final_report"}
_TEXT_RENAMES_UP = {old: new for new, old in _TEXT_RENAMES.items()}


class RenameTextEvents(VersionChange):
    """v2 called the streamed text ``partial_result`` and the whole answer ``final_report``."""

    description = (
        "Streamed answer text is `agent_message_delta` (v2: `partial_result`) and the whole "
        "answer is `agent_message` (v2: `final_report`)."
    )

    def server_down(self, frame: Frame) -> Frame:
        return map_type(frame, _TEXT_RENAMES)

    def server_up(self, frame: Frame) -> Frame:
        return map_type(frame, _TEXT_RENAMES_UP)

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        return schema if direction == "client" else map_schema_type(schema, _TEXT_RENAMES)


class AddToolApprovals(VersionChange):
    """Human-in-the-loop approvals are new in v3."""

    description = (
        "New: `tool_approval_required` asks the user to approve a tool call and "
        "`tool_approval` answers it. v2 clients never receive the request: a run a v2 client "
        "starts does not wait for one (the default, deny unless configured, applies at once "
        "and `agent_thinking` says so)."
    )
    dropped: ClassVar[dict[str, str]] = {
        "tool_approval_required": "v2 clients cannot answer it; a run they start applies the "
        "default at once and says so in agent_thinking."
    }

    def client_up(self, frame: Frame) -> Frame:
        if frame["type"] == "tool_approval":
            raise NotInVersion("tool_approval")
        return frame

    def client_down(self, frame: Frame) -> Frame:
        return self.client_up(frame)

    def schema_down(self, direction: Direction, schema: Schema) -> Schema | None:
        if direction == "client" and frame_schema_type(schema) == "tool_approval":
            return None
        return schema


class AddRunTimelines(VersionChange):
    """Stored run timelines in history are new in v3 (added after its release)."""

    description = (
        "New: `thread_history` carries `runs`, the stored timeline of each run of the page "
        "(thinking, tool calls, sub-agent runs, errors, the answer). v2 clients get the "
        "messages only."
    )

    def server_down(self, frame: Frame) -> Frame:
        if frame["type"] != "thread_history" or "runs" not in frame["data"]:
            return frame
        data = {k: v for k, v in frame["data"].items() if k != "runs"}
        return {**frame, "data": data}

    def server_up(self, frame: Frame) -> Frame:
        if frame["type"] != "thread_history":
            return frame
        return {**frame, "data": {**frame["data"], "runs": frame["data"].get("runs", [])}}

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        if direction == "client" or frame_schema_type(schema) != "thread_history":
            return schema
        data = drop_props(data_schema(schema), frozenset({"runs"}))
        return {**schema, "properties": {**schema["properties"], "data": data}}


class AddDurableInterrupts(VersionChange):
    """Questions with a schema, expiring approvals with edited arguments, and the
    announcement of their resolution are new in v3 (added after its release)."""

    description = (
        "New: `agent_question` asks the user a question whose answer must satisfy a JSON "
        "Schema and `question_answer` answers it; `interrupt_resolved` tells every connection "
        "of the user that an approval or question was answered, expired or skipped; "
        "`tool_approval_required` states when it expires and what applies then, and "
        "`tool_approval` may carry edited arguments. A run started from a v2 connection never "
        "waits for an answer: the default applies at once and an `agent_thinking` says so."
    )
    dropped: ClassVar[dict[str, str]] = {
        "agent_question": "v2 clients cannot answer it; a run they start applies the "
        "question's default at once and says so in agent_thinking.",
        "interrupt_resolved": "v2's closed set of events has no such message; a run they "
        "start says in agent_thinking what was applied.",
    }

    def client_up(self, frame: Frame) -> Frame:
        if frame["type"] == "question_answer":
            raise NotInVersion("question_answer")
        return frame

    def client_down(self, frame: Frame) -> Frame:
        return self.client_up(frame)

    def schema_down(self, direction: Direction, schema: Schema) -> Schema | None:
        if direction == "client" and frame_schema_type(schema) == "question_answer":
            return None
        return schema


_REJOIN_HISTORY_FIELDS = frozenset({"events", "stream_seq"})


class AnnounceUserMessages(VersionChange):
    """Accepted user messages become stream messages, and a thread's history carries its runs
    in flight, so any connection of the user can show a run from its question on."""

    description = (
        "New: `user_message_accepted` puts an accepted user message into the user's stream, "
        "so every connection of the user shows the question; `thread_history` carries the "
        "thread's runs in flight (`events`) and the stream seq it is cut at (`stream_seq`). "
        "v2 clients get neither: they see the question in the thread's history."
    )
    dropped: ClassVar[dict[str, str]] = {
        "user_message_accepted": "v2's closed set of events has no such message; the "
        "question is in the thread's history."
    }

    def server_down(self, frame: Frame) -> Frame:
        if frame["type"] != "thread_history":
            return frame
        data = {k: v for k, v in frame["data"].items() if k not in _REJOIN_HISTORY_FIELDS}
        return {**frame, "data": data}

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        if direction == "client" or frame_schema_type(schema) != "thread_history":
            return schema
        data = drop_props(data_schema(schema), _REJOIN_HISTORY_FIELDS)
        return {**schema, "properties": {**schema["properties"], "data": data}}


#: The reference system's inbound names for a chat message.
USER_MESSAGE_ALIASES = ("chat", "chat_message", "message", "execute_agent", "start_agent")


class RemoveInboundAliases(VersionChange):
    """v2 accepted five other names for ``user_message``, ``payload`` for ``data`` and
    ``text`` for ``content``; v3 accepts exactly one name for each."""

    description = (
        "`user_message` is the only name for a chat message: v2's aliases `chat`, "
        "`chat_message`, `message`, `execute_agent` and `start_agent`, the `payload` key "
        "and the `text` field are refused with `unknown_type` or `validation_failed`."
    )
    mapped: ClassVar[dict[str, str]] = {
        alias: "accepted as user_message" for alias in USER_MESSAGE_ALIASES
    }

    def client_up(self, frame: Frame) -> Frame:
        if "payload" in frame and "data" not in frame:
            frame = {k: v for k, v in frame.items() if k != "payload"} | {"data": frame["payload"]}
        if frame.get("type") in USER_MESSAGE_ALIASES:
            frame = {**frame, "type": "user_message"}
        if frame.get("type") == "user_message":
            data = frame.get("data")
            if isinstance(data, dict) and "text" in data and "content" not in data:
                data = {("content" if k == "text" else k): v for k, v in data.items()}
                frame = {**frame, "data": data}
        return frame

    def extra_client_schemas(self) -> list[Schema]:
        return [_alias_schema(alias) for alias in USER_MESSAGE_ALIASES]


def _alias_schema(alias: str) -> Schema:
    return {
        "type": "object",
        "title": title_for(alias),
        "description": f"Legacy alias of user_message (v2 and older): {alias!r}.",
        "properties": {
            "type": {"const": alias},
            "data": {"type": "object", "properties": {}},
            "payload": {"type": "object"},
            "correlation_id": {"type": ["string", "null"]},
        },
        "required": ["type"],
    }


class AlwaysCarrySeq(VersionChange):
    """v2 frames carry ``seq`` only when they belong to the user's stream."""

    description = (
        "Every server frame carries `seq` (null outside the user's stream); v2 omitted "
        "the key when there was no sequence number."
    )

    def server_down(self, frame: Frame) -> Frame:
        if frame.get("seq") is None:
            return {k: v for k, v in frame.items() if k != "seq"}
        return frame

    def server_up(self, frame: Frame) -> Frame:
        return frame if "seq" in frame else {**frame, "seq": None}

    def schema_down(self, direction: Direction, schema: Schema) -> Schema:
        if direction == "client":
            return schema
        required = [k for k in schema["required"] if k != "seq"]
        seq = {"type": "integer", "minimum": 1}
        return {**schema, "required": required, "properties": {**schema["properties"], "seq": seq}}


CHANGES: tuple[VersionChange, ...] = (
    # First down (last up): it sees head-shaped frames.
    AddRunDetails(),
    GiveSystemEventsTheirOwnTypes(),
    ReshapeErrors(),
    RenameTextEvents(),
    AddToolApprovals(),
    AddRunTimelines(),
    AnnounceUserMessages(),
    AddDurableInterrupts(),
    RemoveInboundAliases(),
    AlwaysCarrySeq(),
)
