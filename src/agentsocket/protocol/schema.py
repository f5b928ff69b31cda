"""JSON Schema (draft 2020-12) of every protocol version, derived from the head models.

The head (v3) frame schema of each message is built from its pydantic model;
each older version's schema is the head schema sent down through the version
changes (:func:`agentsocket.protocol.versions.schema_down`), so models,
converters and schemas cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from agentsocket.protocol.client_messages import CLIENT_MESSAGES
from agentsocket.protocol.server_messages import SERVER_MESSAGES
from agentsocket.protocol.versions import (
    HEAD,
    Schema,
    Version,
    extra_client_schemas,
    schema_down,
)
from agentsocket.protocol.versions.change import frame_schema_type, title_for

META_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _model_schema(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Schema:
    schema = model.model_json_schema(ref_template=_REF, mode=mode)
    schema.pop("title", None)
    return schema


def _head_frame_schema(
    direction: Literal["server", "client"], model: type[BaseModel], type_name: str
) -> tuple[Schema, dict[str, Schema]]:
    mode: Literal["validation", "serialization"] = (
        "validation" if direction == "client" else "serialization"
    )
    data = _model_schema(model, mode)
    defs = data.pop("$defs", {})
    description = (model.__doc__ or "").strip().split("\n\n")[0]
    props: dict[str, Schema]
    if direction == "server":
        props = {
            "type": {"const": type_name},
            "data": data,
            "timestamp": {"type": "number", "description": "Unix time in seconds."},
            "server_id": _NULLABLE_STRING,
            "correlation_id": _NULLABLE_STRING,
            "seq": {"type": ["integer", "null"], "minimum": 1},
        }
        required = list(props)
        extra: Schema = {}
    else:
        props = {
            "type": {"const": type_name},
            "data": data,
            "correlation_id": {"type": "string", "minLength": 1, "maxLength": 128},
        }
        required = ["type"] if not data.get("required") else ["type", "data"]
        extra = {"additionalProperties": False}
    schema = {
        "type": "object",
        "title": title_for(type_name),
        "description": description,
        "properties": props,
        "required": required,
        **extra,
    }
    return schema, defs


@cache
def frame_schemas(version_name: str) -> tuple[dict[str, Schema], dict[str, Schema], Schema]:
    """Frame schemas of one version: (server by head type, client by wire type, $defs).

    Several head types can share one wire tag in older versions (v2's
    ``system_message``), so server frames are keyed by their head type.
    """
    from agentsocket.protocol.versions import get_version

    version = get_version(version_name)
    defs: dict[str, Schema] = {}
    server: dict[str, Schema] = {}
    client: dict[str, Schema] = {}
    for direction, catalogue, into in (
        ("server", SERVER_MESSAGES, server),
        ("client", CLIENT_MESSAGES, client),
    ):
        for type_name, model in catalogue.items():
            head, model_defs = _head_frame_schema(direction, model, type_name)  # type: ignore[arg-type]
            defs.update(model_defs)
            if version is HEAD:
                converted: Schema | None = head
            else:
                # Older versions may reshape nested parts too, so they get them inline.
                inline = inline_refs(head, model_defs)
                converted = schema_down(direction, inline, version)  # type: ignore[arg-type]
            if converted is not None:
                into[type_name] = converted
    for alias in extra_client_schemas(version):
        client[frame_schema_type(alias)] = alias
    return server, client, defs


def inline_refs(node: Any, defs: dict[str, Schema]) -> Any:
    """``node`` with every ``#/$defs/X`` reference replaced by a copy of ``X``."""
    if isinstance(node, list):
        return [inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: inline_refs(value, defs) for key, value in node.items()}


def json_schema(version: Version | str) -> Schema:
    """The JSON Schema document of one version.

    ``$defs`` holds one schema per frame (``server.<type>``, ``client.<type>``)
    plus ``ServerMessage`` and ``ClientMessage`` unions; the document itself
    accepts any frame of the version in either direction.
    """
    name = version if isinstance(version, str) else version.name
    server, client, parts = frame_schemas(name)
    defs: dict[str, Any] = dict(sorted(parts.items()))
    for prefix, frames in (("server", server), ("client", client)):
        for type_name, frame in frames.items():
            defs[f"{prefix}.{type_name}"] = frame
    defs["ServerMessage"] = {
        "description": f"Any server → client frame of protocol {name}.",
        "oneOf": [{"$ref": f"#/$defs/server.{t}"} for t in server],
    }
    defs["ClientMessage"] = {
        "description": f"Any client → server frame of protocol {name}.",
        "oneOf": [{"$ref": f"#/$defs/client.{t}"} for t in client],
    }
    return {
        "$schema": META_SCHEMA,
        "$id": f"https://agentsocket.dev/schema/{name}.json",
        "title": f"agentsocket protocol {name}",
        "anyOf": [{"$ref": "#/$defs/ServerMessage"}, {"$ref": "#/$defs/ClientMessage"}],
        "$defs": defs,
    }


def server_types(version: Version | str) -> dict[str, str]:
    """Every server message ``version`` can express: head type → its wire tag there."""
    name = version if isinstance(version, str) else version.name
    return {head: frame_schema_type(schema) for head, schema in frame_schemas(name)[0].items()}


def client_types(version: Version | str) -> list[str]:
    """Wire tags of every client message ``version`` accepts (aliases included)."""
    name = version if isinstance(version, str) else version.name
    return list(frame_schemas(name)[1])
