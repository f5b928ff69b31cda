"""The AG-UI dialect's schema: every event type it emits, as the front end reads it.

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
from pydantic.json_schema import models_json_schema

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


def dialect_schema() -> dict[str, Any]:
    """The JSON Schema document of the dialect's events (camelCase, as sent)."""
    refs, document = models_json_schema(
        [(cls, "serialization") for cls in EMITTED],
        by_alias=True,
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://agentsocket.dev/schema/{DIALECT}.json",
        "title": "agentsocket AG-UI dialect (AG-UI 1.0 events)",
        "anyOf": [refs[(cls, "serialization")] for cls in EMITTED],
        "$defs": document["$defs"],
    }


def event_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each event's schema in ``document`` by its ``type`` (``RUN_STARTED``), unresolved."""
    defs: dict[str, Any] = document["$defs"]
    events: dict[str, dict[str, Any]] = {}
    for member in document["anyOf"]:
        schema = defs[member["$ref"].rsplit("/", 1)[-1]]
        tag = schema["properties"]["type"]
        events[str(tag.get("const", tag.get("default")))] = schema
    return events
