"""The AG-UI dialect's schema: the events it emits and the frames WebSocket clients send.

``schemas/ag-ui.json`` is its released snapshot. The dialect's shapes belong to
the ``ag-ui-protocol`` package, not to us, so what the gate guards here is an
upgrade of that package (or a change of :mod:`agentsocket.protocol.ag_ui`)
that would break the front ends reading our events: server → client, forward.
Needs the ``ag-ui`` extra.
"""

from __future__ import annotations

from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    SubagentErrorEvent,
    SubagentFinishedEvent,
    SubagentStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from agentsocket.protocol.ag_ui import CUSTOM_PREFIX
from agentsocket.protocol.ag_ui_dialect import (
    ERROR,
    POSITION,
    REPLY_CUSTOM,
    STREAM_CUSTOM,
    ErrorValue,
    PositionValue,
)
from agentsocket.protocol.ag_ui_input import StopFrame

#: The name of the dialect, and of its snapshot file (``schemas/ag-ui.json``).
DIALECT = "ag-ui"

#: Every event class :class:`~agentsocket.protocol.ag_ui.RunConverter` can emit.
EMITTED: tuple[type[BaseEvent], ...] = (
    RunStartedEvent,
    RunFinishedEvent,
    RunErrorEvent,
    TextMessageStartEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    ToolCallStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ReasoningStartEvent,
    ReasoningMessageStartEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningEndEvent,
    SubagentStartedEvent,
    SubagentFinishedEvent,
    SubagentErrorEvent,
    CustomEvent,
)


def custom_values() -> dict[str, type[BaseModel]]:
    """Each named ``CUSTOM`` event the dialect sends → the model of its ``value``."""
    values: dict[str, type[BaseModel]] = {
        CUSTOM_PREFIX + m.TYPE: m for m in (*STREAM_CUSTOM, *REPLY_CUSTOM)
    }
    values[POSITION] = PositionValue
    values[ERROR] = ErrorValue
    return dict(sorted(values.items()))


#: What a client sends on the WebSocket dialect.
CLIENT_FRAMES: tuple[type[BaseModel], ...] = (RunAgentInput, StopFrame)
#: The key of the client frames' list in the schema document.
CLIENT_KEY = "x-client-frames"


def dialect_schema() -> dict[str, Any]:
    """The JSON Schema document of the dialect (camelCase, as sent).

    ``anyOf``: every event type sent, and one member per named ``CUSTOM`` event
    (``CUSTOM agentsocket.position``: its ``name`` constant, its ``value`` schema);
    ``x-client-frames``: what a WebSocket client sends (``RunAgentInput``, the stop frame).
    """
    values = custom_values()
    models: list[tuple[type[BaseModel], Any]] = [(cls, "serialization") for cls in EMITTED]
    models += [(model, "serialization") for model in values.values()]
    models += [(model, "validation") for model in CLIENT_FRAMES]
    refs, document = models_json_schema(models, by_alias=True, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = document["$defs"]
    custom = defs[CustomEvent.__name__]
    members = [refs[(cls, "serialization")] for cls in EMITTED]
    for name, model in values.items():
        key = f"CustomEvent_{name}"
        properties = {
            **custom["properties"],
            "name": {"const": name, "type": "string"},
            "value": refs[(model, "serialization")],
        }
        about = (model.__doc__ or "").strip().split("\n\n")[0]
        defs[key] = {
            **custom,
            "title": f"CUSTOM {name}",
            "description": f"`CUSTOM` `{name}` (`docs/ag-ui.md`); its `value`: {about}",
            "properties": properties,
        }
        members.append({"$ref": f"#/$defs/{key}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://agentsocket.dev/schema/{DIALECT}.json",
        "title": "agentsocket AG-UI dialect (AG-UI 1.0 events)",
        "anyOf": members,
        CLIENT_KEY: [refs[(model, "validation")] for model in CLIENT_FRAMES],
        "$defs": dict(sorted(defs.items())),
    }


def event_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each event's schema in ``document`` by its ``type`` (``RUN_STARTED``), unresolved.

    A named ``CUSTOM`` event is keyed ``CUSTOM <name>``.
    """
    defs: dict[str, Any] = document["$defs"]
    events: dict[str, dict[str, Any]] = {}
    for member in document["anyOf"]:
        schema = defs[member["$ref"].rsplit("/", 1)[-1]]
        tag = schema["properties"]["type"]
        key = str(tag.get("const", tag.get("default")))
        name = schema["properties"].get("name", {}).get("const")
        events[key if name is None else f"{key} {name}"] = schema
    return events


def client_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each WebSocket client frame's schema in ``document`` by title (none in older ones)."""
    defs: dict[str, Any] = document["$defs"]
    frames: dict[str, dict[str, Any]] = {}
    for member in document.get(CLIENT_KEY, []):
        schema = defs[member["$ref"].rsplit("/", 1)[-1]]
        frames[str(schema.get("title"))] = schema
    return frames
