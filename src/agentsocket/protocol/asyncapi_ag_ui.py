"""AsyncAPI 3.0.0 document of the AG-UI dialect: its WebSocket channel and ``POST /ag-ui``. Pure.

Like :mod:`agentsocket.protocol.asyncapi` it describes the *gateway*
(``send`` = the gateway sends). Two channels:

* ``ws``: ``/ws`` with the subprotocol ``agentsocket.ag-ui``: the gateway sends
  AG-UI events, the client sends ``RunAgentInput``;
* ``agUiHttp``: AG-UI's own HTTP transport, ``POST /ag-ui``: a ``RunAgentInput``
  in, the run's AG-UI events out as Server-Sent Events, expressed as a
  ``receive`` operation (HTTP binding ``POST``) whose ``reply`` is the events.

Payload schemas are those of ``schemas/ag-ui.json``
(:func:`agentsocket.protocol.ag_ui_schema.dialect_schema`), moved to
``components/schemas``. Needs the ``ag-ui`` extra.
"""

from __future__ import annotations

import inspect
from typing import Any

from agentsocket.protocol.ag_ui import PROTOCOL_VERSION
from agentsocket.protocol.ag_ui_schema import DIALECT, EMITTED, dialect_schema
from agentsocket.protocol.asyncapi import (
    ASYNCAPI_VERSION,
    CHANNEL,
    SERVER_URL,
    _rewrite_refs,
    markdown,
)
from agentsocket.protocol.versions import Schema

__all__ = [
    "AG_UI_ASYNCAPI_DOC",
    "AG_UI_PATH",
    "STOP",
    "SUBPROTOCOL",
    "ag_ui_asyncapi_document",
]

#: The file's name under ``docs/protocol/``.
AG_UI_ASYNCAPI_DOC = f"asyncapi-{DIALECT}.json"
#: The WebSocket subprotocol of the dialect.
SUBPROTOCOL = f"agentsocket.{DIALECT}"
#: The default path of AG-UI's HTTP transport (``Settings.ag_ui_path``).
AG_UI_PATH = "/ag-ui"
#: Component name of the client's input message.
INPUT = "ag-ui.RunAgentInput"
_INPUT_SCHEMA = "RunAgentInput"
#: Component name of the WebSocket's stop frame.
STOP = "ag-ui.StopFrame"
_STOP_SCHEMA = "StopFrame"
_HTTP_BINDING_VERSION = "0.3.0"
_WS_BINDING_VERSION = "0.1.0"
_DEFS_PREFIX = "#/$defs/"
_COMPONENTS_PREFIX = "#/components/schemas/"


def _without_discriminators(node: Any) -> Any:
    """A copy of a schema without pydantic's OpenAPI-style ``discriminator`` objects.

    AsyncAPI's schema format wants a property name there, and the parser rejects
    the object. In JSON Schema the keyword is only an annotation: the ``oneOf``
    members' ``const`` tags validate the same without it.
    """
    if isinstance(node, dict):
        return {
            key: _without_discriminators(value)
            for key, value in node.items()
            if not (key == "discriminator" and isinstance(value, dict))
        }
    if isinstance(node, list):
        return [_without_discriminators(item) for item in node]
    return node


def event_keys(document: Schema) -> dict[str, str]:
    """Each emitted event's type (``RUN_STARTED``) → its schema's key in ``$defs``.

    A named ``CUSTOM`` event of the WebSocket dialect is keyed
    ``CUSTOM.<name>`` (``CUSTOM.agentsocket.position``).
    """
    keys: dict[str, str] = {}
    for member in document["anyOf"]:
        key = member["$ref"].removeprefix(_DEFS_PREFIX)
        properties = document["$defs"][key]["properties"]
        tag = properties["type"]
        event_type = str(tag.get("const", tag.get("default")))
        name = properties.get("name", {}).get("const")
        keys[event_type if name is None else f"{event_type}.{name}"] = key
    return keys


def _event_message(event_type: str, schema_key: str, doc: str) -> Schema:
    return {
        "name": event_type,
        "title": event_type,
        "summary": " ".join(doc.split("\n\n")[0].split()) or event_type,
        "description": (
            f"{doc}\n\nOne AG-UI {PROTOCOL_VERSION} event (camelCase JSON, no null fields). "
            "Over the WebSocket: one text frame. Over `POST /ag-ui`: one SSE event, "
            "`id: <run id>/<epoch>:<start seq>:<seq>.<index>` (its place in the user's "
            "stream, for `Last-Event-ID`) and `data: <this JSON>`."
        ),
        "payload": {"$ref": _COMPONENTS_PREFIX + schema_key},
    }


def _stop_message() -> Schema:
    return {
        "name": "StopFrame",
        "title": "Stop frame",
        "summary": "Stop a run (WebSocket only; AG-UI has no cancellation of its own).",
        "description": (
            '`{"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": ...}}` '
            "with our run id (`agentsocket.message_received`'s `run_id`); the run ends with "
            "`RUN_FINISHED` outcome `cancelled`."
        ),
        "payload": {"$ref": _COMPONENTS_PREFIX + _STOP_SCHEMA},
    }


def _input_message() -> Schema:
    return {
        "name": "RunAgentInput",
        "title": "RunAgentInput",
        "summary": "Start (or resume, or answer the interrupts of) a run.",
        "description": (
            "AG-UI's `RunAgentInput` (camelCase JSON). The prompt is the text of the last "
            "user message; `threadId` of one of the caller's threads continues it, any other "
            "starts a new one; `runId` is echoed in `RUN_STARTED` and is the idempotency key; "
            "`resume` entries answer approval interrupts; `forwardedProps.agent` picks an "
            "agent. What is not used: `docs/protocol/ag-ui-mapping.md`."
        ),
        "payload": {"$ref": _COMPONENTS_PREFIX + _INPUT_SCHEMA},
        "bindings": {
            "http": {
                "headers": {
                    "type": "object",
                    "properties": {
                        "Authorization": {
                            "type": "string",
                            "pattern": "^[Bb]earer .+$",
                            "description": "`Bearer <jwt>`: the user's token.",
                        },
                        "Last-Event-ID": {
                            "type": "string",
                            "description": (
                                "Resume: the `id` of the last SSE event received; the answer "
                                "holds exactly the events after it, on any node sharing the "
                                "Redis log (404 for another user's run, 410 `stream_lost` "
                                "when that stream history is gone)."
                            ),
                        },
                    },
                    "required": ["Authorization"],
                },
                "bindingVersion": _HTTP_BINDING_VERSION,
            }
        },
    }


def _ws_binding() -> Schema:
    return {
        "method": "GET",
        "headers": {
            "type": "object",
            "properties": {
                "Sec-WebSocket-Protocol": {
                    "type": "string",
                    "description": (f"Offer `{SUBPROTOCOL}` to speak AG-UI on this connection."),
                },
                "Authorization": {
                    "type": "string",
                    "pattern": "^[Bb]earer .+$",
                    "description": "`Bearer <jwt>`: the user's token, for programs.",
                },
            },
        },
        "query": {
            "type": "object",
            "properties": {
                "ticket": {
                    "type": "string",
                    "description": "Single-use ticket from `POST /auth/ticket`, for browsers.",
                }
            },
        },
        "bindingVersion": _WS_BINDING_VERSION,
    }


def _info() -> Schema:
    return {
        "title": "agentsocket AG-UI dialect",
        "version": f"ag-ui-{PROTOCOL_VERSION}",
        "description": "\n\n".join(
            [
                f"[AG-UI](https://docs.ag-ui.com) {PROTOCOL_VERSION} events of agentsocket's "
                "runs, converted from the newest protocol version's messages "
                "(`docs/ag-ui.md`; the mapping: `docs/protocol/ag-ui-mapping.md`).",
                f"Two transports: the WebSocket `{CHANNEL}` with the subprotocol "
                f"`{SUBPROTOCOL}` (the server sends AG-UI events, the client sends "
                f"`RunAgentInput`), and `POST {AG_UI_PATH}` (a `RunAgentInput` in, the run's "
                "events out as `text/event-stream`, resumable with `Last-Event-ID`).",
                "This document describes the gateway: `send` operations are what it sends to "
                "clients, `receive` operations what it accepts from them.",
            ]
        ),
        "license": {"name": "MIT"},
    }


def ag_ui_asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the AG-UI dialect."""
    dialect = dialect_schema()
    keys = event_keys(dialect)
    docs = {cls.model_fields["type"].default.value: cls.__doc__ or "" for cls in EMITTED}
    for event_type, key in keys.items():
        if event_type not in docs:  # a named CUSTOM event: its schema says what it is
            docs[event_type] = dialect["$defs"][key].get("description", "")
    messages: dict[str, Schema] = {
        f"ag-ui.{event_type}": _event_message(
            event_type, key, markdown(inspect.cleandoc(docs.get(event_type, "")))
        )
        for event_type, key in keys.items()
    }
    messages[INPUT] = _input_message()
    messages[STOP] = _stop_message()
    events = [key for key in messages if key not in (INPUT, STOP)]
    # Over SSE the named CUSTOM events are the generic CUSTOM (only stream gaps and
    # thread events are sent there); the WebSocket sends every one.
    sse_events = [key for key in events if not key.startswith("ag-ui.CUSTOM.")]

    def refs(channel: str, names: list[str]) -> list[Schema]:
        return [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names]

    channel_messages = {key: {"$ref": f"#/components/messages/{key}"} for key in messages}
    http_messages = {key: channel_messages[key] for key in (INPUT, *sse_events)}
    host = SERVER_URL.removeprefix("ws://")
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": host,
                "protocol": "ws",
                "description": "The embedded default of `agentsocket serve`: the WebSocket.",
                "security": [
                    {"$ref": "#/components/securitySchemes/bearerHeader"},
                    {"$ref": "#/components/securitySchemes/ticket"},
                ],
            },
            "localHttp": {
                "host": host,
                "protocol": "http",
                "description": "The same gateway's HTTP routes.",
                "security": [{"$ref": "#/components/securitySchemes/bearerHeader"}],
            },
        },
        "channels": {
            "ws": {
                "address": CHANNEL,
                "title": f"The WebSocket, subprotocol {SUBPROTOCOL}",
                "description": (
                    f"A WebSocket that negotiated `{SUBPROTOCOL}`: every frame is one JSON "
                    "object in a text frame. The server sends AG-UI events (named `CUSTOM` "
                    "events for what AG-UI has no event for), the client sends "
                    "`RunAgentInput` or the stop frame (`docs/ag-ui.md`)."
                ),
                "servers": [{"$ref": "#/servers/local"}],
                "messages": channel_messages,
                "bindings": {"ws": _ws_binding()},
            },
            "agUiHttp": {
                "address": AG_UI_PATH,
                "title": f"POST {AG_UI_PATH} (Server-Sent Events)",
                "description": (
                    "AG-UI's HTTP transport; the path is the `ag_ui_path` setting. The answer "
                    "is `200 text/event-stream` with one SSE event per AG-UI event, ending "
                    "after `RUN_FINISHED` / `RUN_ERROR`; closing the request does not cancel "
                    "the run. A refusal is a 4xx/5xx status with a JSON body "
                    "`{error, message, errors}` (each case: `docs/ag-ui.md`, Refusals)."
                ),
                "servers": [{"$ref": "#/servers/localHttp"}],
                "messages": http_messages,
            },
        },
        "operations": {
            "sendAgUiEvents": {
                "action": "send",
                "channel": {"$ref": "#/channels/ws"},
                "title": "AG-UI events over the WebSocket",
                "summary": "The events of the user's runs, as AG-UI events.",
                "messages": refs("ws", events),
            },
            "receiveRunAgentInput": {
                "action": "receive",
                "channel": {"$ref": "#/channels/ws"},
                "title": "RunAgentInput over the WebSocket",
                "summary": "Starts a run, as AG-UI's RunAgentInput; or stops one.",
                "messages": refs("ws", [INPUT, STOP]),
            },
            "receiveAgUiRun": {
                "action": "receive",
                "channel": {"$ref": "#/channels/agUiHttp"},
                "title": f"POST {AG_UI_PATH}",
                "summary": "A RunAgentInput in; the run's AG-UI events out as SSE.",
                "messages": refs("agUiHttp", [INPUT]),
                "bindings": {"http": {"method": "POST", "bindingVersion": _HTTP_BINDING_VERSION}},
                "reply": {
                    "channel": {"$ref": "#/channels/agUiHttp"},
                    "messages": refs("agUiHttp", sse_events),
                },
            },
        },
        "components": {
            "schemas": _without_discriminators(_rewrite_refs(dialect["$defs"])),
            "messages": messages,
            "securitySchemes": {
                "bearerHeader": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "`Authorization: Bearer <jwt>`.",
                },
                "ticket": {
                    "type": "httpApiKey",
                    "name": "ticket",
                    "in": "query",
                    "description": "`?ticket=<ticket>` from `POST /auth/ticket`; single use.",
                },
            },
        },
    }
