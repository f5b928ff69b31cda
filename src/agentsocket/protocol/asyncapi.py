"""AsyncAPI 3.0.0 document of every protocol version, derived from the models. Pure.

The document describes the *gateway* as the application. AsyncAPI 3 states
operations from the described application's point of view (spec 3.0.0,
"Operation Object": ``send`` = the application sends to the channel,
``receive`` = it expects to receive), as the spec's own WebSocket example
does (Gemini market data: the server's stream is ``action: send``). So:

* ``sendServerMessages`` (``send``): every server → client frame;
* ``receiveClientMessages`` (``receive``): every client → server frame.

Payloads are the frame schemas of :func:`agentsocket.protocol.schema.json_schema`:
its ``$defs`` become ``components/schemas`` and every ``#/$defs/X`` reference
is rewritten to ``#/components/schemas/X`` so the document is self-contained.
Examples are the golden frames of :func:`agentsocket.protocol.golden.golden_frames`.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson

from agentsocket.protocol.client_messages import CLIENT_MESSAGES
from agentsocket.protocol.golden import golden_frames
from agentsocket.protocol.negotiation import SUBPROTOCOL_PREFIX
from agentsocket.protocol.schema import frame_schemas, json_schema
from agentsocket.protocol.server_messages import SERVER_MESSAGES
from agentsocket.protocol.versions import Schema, Version, get_version, supported_versions
from agentsocket.protocol.versions.change import frame_schema_type

__all__ = [
    "ASYNCAPI_VERSION",
    "CHANNEL",
    "SERVER_URL",
    "MessageEntry",
    "asyncapi_document",
    "markdown",
    "message_entries",
]

ASYNCAPI_VERSION = "3.0.0"
SERVER_URL = "ws://localhost:8765"
CHANNEL = "/ws"
_BINDING_VERSION = "0.1.0"
_DEFS_PREFIX = "#/$defs/"
_COMPONENTS_PREFIX = "#/components/schemas/"

Direction = Literal["server", "client"]


@dataclass(frozen=True)
class MessageEntry:
    """One message as a client of one version sees it; shared by the docs generators.

    Attributes:
        direction: ``server`` (server → client) or ``client`` (client → server).
        key: the ``$defs`` key of its frame schema (``server.<head type>``,
            ``client.<wire type>``), also its AsyncAPI component name.
        name: what this version calls it: the wire tag, or ``data.event`` for
            v2's ``system_message`` events.
        head_type: the head (newest) type name; aliases keep their own name.
        wire_tag: the value of the frame's tag key (``type``, or v1's ``event``).
        schema: the frame schema in this version (``#/$defs`` references).
        description: the model's docstring (Markdown); for aliases the schema's.
        example_path: the golden frame's path under ``golden/``, if there is one.
        example: that golden frame's file content.
        stream: part of the user's stream (carries ``seq``, replayed on resume).
        alias: a legacy inbound alias of another message.
    """

    direction: Direction
    key: str
    name: str
    head_type: str
    wire_tag: str
    schema: Schema
    description: str
    example_path: str | None
    example: bytes | None
    stream: bool
    alias: bool

    @property
    def summary(self) -> str:
        """The description's first sentence-paragraph, on one line."""
        return " ".join(self.description.split("\n\n")[0].split())


def markdown(text: str) -> str:
    """Docstring text as Markdown: RST ````code```` becomes ```code```, paragraphs kept."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    joined = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    return re.sub(r"``(.+?)``", r"`\1`", joined)


def _name(version: Version | str) -> str:
    return version if isinstance(version, str) else version.name


@cache
def _golden() -> dict[str, bytes]:
    return golden_frames()


def message_entries(version: Version | str) -> list[MessageEntry]:
    """Every message of ``version``: server → client first, in catalogue order, then client.

    Raises:
        UnsupportedVersionError: no such version.
    """
    name = get_version(_name(version)).name
    server, client, _ = frame_schemas(name)
    golden = _golden()
    entries: list[MessageEntry] = []
    for head, schema in server.items():
        model = SERVER_MESSAGES[head]
        entries.append(
            MessageEntry(
                direction="server",
                key=f"server.{head}",
                name=_seen_name(schema, name),
                head_type=head,
                wire_tag=frame_schema_type(schema),
                schema=schema,
                description=markdown(model.__doc__ or ""),
                **_example(golden, f"{name}/server/{head}.json"),
                stream=model.STREAM,
                alias=False,
            )
        )
    for wire, schema in client.items():
        client_model = CLIENT_MESSAGES.get(wire)
        doc = client_model.__doc__ if client_model else schema.get("description", "")
        folder = "client" if client_model else "client-aliases"
        entries.append(
            MessageEntry(
                direction="client",
                key=f"client.{wire}",
                name=wire,
                head_type=wire,
                wire_tag=wire,
                schema=schema,
                description=markdown(doc or ""),
                **_example(golden, f"{name}/{folder}/{wire}.json"),
                stream=False,
                alias=client_model is None,
            )
        )
    return entries


def _example(golden: dict[str, bytes], path: str) -> dict[str, Any]:
    content = golden.get(path)
    return {"example_path": path if content is not None else None, "example": content}


def _seen_name(schema: Schema, version: str) -> str:
    """The wire tag, or the ``data.event`` constant of an event wrapped in a shared tag."""
    data = schema["properties"].get("data") if version != "v1" else None
    event = (data or {}).get("properties", {}).get("event", {}).get("const")
    return str(event) if event is not None else frame_schema_type(schema)


def _rewrite_refs(node: Any) -> Any:
    """A copy of a JSON Schema with ``#/$defs/X`` references pointing into components."""
    if isinstance(node, dict):
        return {
            key: (
                _COMPONENTS_PREFIX + value.removeprefix(_DEFS_PREFIX)
                if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_PREFIX)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _message(entry: MessageEntry) -> Schema:
    message: Schema = {
        "name": entry.name,
        "title": entry.name,
        "summary": entry.summary,
        "description": _message_description(entry),
        "payload": {"$ref": f"{_COMPONENTS_PREFIX}{entry.key}"},
        "correlationId": {"$ref": "#/components/correlationIds/correlation_id"},
    }
    if entry.example is not None:
        message["examples"] = [
            {
                "name": entry.name,
                "summary": f"The golden frame golden/{entry.example_path}.",
                "payload": orjson.loads(entry.example),
            }
        ]
    return message


def _message_description(entry: MessageEntry) -> str:
    lines = [entry.description]
    if entry.name != entry.wire_tag:
        lines.append(f"Sent as `{entry.wire_tag}` with `data.event` = `{entry.name}`.")
    elif entry.name != entry.head_type:
        lines.append(f"Called `{entry.head_type}` in the newest version.")
    if entry.stream:
        lines.append(
            "Part of the user's stream: carries `seq`, reaches every connection of the "
            "user and is replayed on resume."
        )
    return "\n\n".join(lines)


def _handshake_query(version: str) -> Schema:
    return {
        "type": "object",
        "description": "Query parameters of the WebSocket handshake (`GET /ws?...`).",
        "properties": {
            "protocol": {
                "type": "string",
                "enum": list(supported_versions()),
                "description": (
                    f"Protocol version for clients that cannot offer a subprotocol, e.g. "
                    f"`?protocol={version}`. Ignored when an `{SUBPROTOCOL_PREFIX}<version>` "
                    "subprotocol is offered; never echoed. Neither given: the server's "
                    "default version."
                ),
            },
            "ticket": {
                "type": "string",
                "description": (
                    "Single-use, short-lived ticket from `POST /auth/ticket` (itself "
                    "authenticated with `Authorization: Bearer <jwt>`), for browsers."
                ),
            },
            "last_seq": {
                "type": "integer",
                "minimum": 0,
                "description": (
                    "Resume: the last stream `seq` this client saw; every stream message "
                    "after it is replayed before live ones."
                ),
            },
            "epoch": {
                "type": "string",
                "description": "Resume: the stream epoch `last_seq` belongs to; default: current.",
            },
        },
    }


def _handshake_headers() -> Schema:
    return {
        "type": "object",
        "description": "Headers of the WebSocket handshake.",
        "properties": {
            "Authorization": {
                "type": "string",
                "pattern": "^[Bb]earer .+$",
                "description": "`Bearer <jwt>`: the user's token, for programs.",
            },
            "Sec-WebSocket-Protocol": {
                "type": "string",
                "description": (
                    f"Comma-separated entries: `{SUBPROTOCOL_PREFIX}<version>` names a protocol "
                    "version (the newest supported one offered is chosen and echoed), and "
                    "`bearer.<jwt>` carries the token for browsers (never echoed). A browser "
                    "offering `bearer.<jwt>` must also offer a version entry."
                ),
            },
        },
    }


def _security_schemes() -> Schema:
    return {
        "bearerHeader": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "`Authorization: Bearer <jwt>` on the handshake.",
        },
        "bearerSubprotocol": {
            "type": "httpApiKey",
            "name": "Sec-WebSocket-Protocol",
            "in": "header",
            "description": (
                "A `bearer.<jwt>` entry among the offered subprotocols; the server never echoes it."
            ),
        },
        "ticket": {
            "type": "httpApiKey",
            "name": "ticket",
            "in": "query",
            "description": "`?ticket=<ticket>` from `POST /auth/ticket`; single use.",
        },
    }


def _info(version: Version) -> Schema:
    status = f"Status: **{version.status.value}**."
    if version.sunset is not None:
        status += f" Refused after {version.sunset.isoformat()}."
    description = "\n\n".join(
        [
            version.summary,
            status,
            f"Select it with the subprotocol `{version.subprotocol}` or the query "
            f"`?protocol={version.name}`. Authenticate with exactly one of: the "
            "`Authorization: Bearer <jwt>` header, a `bearer.<jwt>` subprotocol entry, or a "
            "`?ticket=` from `POST /auth/ticket`. Resume with `?last_seq=N&epoch=E`.",
            "This document describes the gateway: `send` operations are the frames it sends "
            "to clients, `receive` operations the frames it accepts from them.",
        ]
    )
    return {
        "title": f"agentsocket protocol {version.name}",
        "version": version.name,
        "description": description,
        "license": {"name": "MIT"},
    }


def asyncapi_document(version: Version | str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of one protocol version.

    Raises:
        UnsupportedVersionError: no such version.
    """
    resolved = get_version(_name(version))
    entries = message_entries(resolved)
    defs = json_schema(resolved)["$defs"]
    messages = {entry.key: _message(entry) for entry in entries}

    def refs(direction: Direction) -> list[Schema]:
        return [
            {"$ref": f"#/channels/ws/messages/{entry.key}"}
            for entry in entries
            if entry.direction == direction
        ]

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(resolved),
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": SERVER_URL.removeprefix("ws://"),
                "protocol": "ws",
                "description": "The embedded default of `agentsocket serve`.",
                "security": [
                    {"$ref": f"#/components/securitySchemes/{scheme}"}
                    for scheme in _security_schemes()
                ],
            }
        },
        "channels": {
            "ws": {
                "address": CHANNEL,
                "title": "The WebSocket",
                "description": (
                    "One WebSocket per client connection; every frame is one JSON object "
                    "in a text frame."
                ),
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": _handshake_query(resolved.name),
                        "headers": _handshake_headers(),
                        "bindingVersion": _BINDING_VERSION,
                    }
                },
            }
        },
        "operations": {
            "sendServerMessages": {
                "action": "send",
                "channel": {"$ref": "#/channels/ws"},
                "title": "Server → client frames",
                "summary": "Frames the gateway sends to a connected client.",
                "messages": refs("server"),
            },
            "receiveClientMessages": {
                "action": "receive",
                "channel": {"$ref": "#/channels/ws"},
                "title": "Client → server frames",
                "summary": "Frames the gateway accepts from a connected client.",
                "messages": refs("client"),
            },
        },
        "components": {
            "schemas": _rewrite_refs(defs),
            "messages": messages,
            "securitySchemes": _security_schemes(),
            "correlationIds": {
                "correlation_id": {
                    "description": (
                        "The client's `correlation_id`, echoed by the server's answer to it."
                    ),
                    "location": "$message.payload#/correlation_id",
                }
            },
        },
    }
