"""The language of version changes.

A :class:`VersionChange` describes one difference between two adjacent
protocol versions and converts in both directions:

* server → client frames **down** (the server speaks an older version) and
  **up** (a client SDK reads an older version into head models);
* client → server frames **up** (the server reads an older client) and
  **down** (a client SDK writes an older version);
* each frame's JSON Schema **down**, so every version's schema, catalogue and
  docs derive from the head models plus the changes.

Converters take and return *wire frames* (plain dicts) and never mutate
their input: one head frame is converted once and the result shared by every
connection of that version. A message an older version cannot express is
dropped (``server_down`` returns ``None``); the caller counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

Frame = dict[str, Any]
Schema = dict[str, Any]
Direction = Literal["server", "client"]


class NotInVersion(Exception):  # noqa: N818 - control flow inside the codec, never escapes
    """A client frame names a type that does not exist in its version."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


class VersionChange:
    """One change between adjacent versions; subclass it once per change.

    Class attributes:
        description: one sentence for users, the changelog line (required).
        dropped: server message types (newer names) the older version cannot
            express, with the reason; they are not sent to its clients.
        mapped: human notes on messages converted with a loss, for the docs.
    """

    description: ClassVar[str]
    dropped: ClassVar[Mapping[str, str]] = {}
    mapped: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "description", "").strip():
            raise TypeError(f"{cls.__name__} needs a one-sentence description")
        if cls.__doc__ is None:
            raise TypeError(f"{cls.__name__} needs a docstring")

    # The identity is a valid change in any direction a subclass leaves alone.

    def server_down(self, frame: Frame) -> Frame:
        """Convert a server frame of the newer version (not in ``dropped``) to the older one."""
        return frame

    def server_up(self, frame: Frame) -> Frame:
        """Convert a server frame of the older version to the newer one."""
        return frame

    def client_up(self, frame: Frame) -> Frame:
        """Convert a client frame of the older version to the newer one.

        Raises:
            NotInVersion: the frame's type does not exist in the older version.
        """
        return frame

    def client_down(self, frame: Frame) -> Frame:
        """Convert a client frame of the newer version to the older one.

        Raises:
            NotInVersion: the older version cannot express this message.
        """
        return frame

    def schema_down(self, direction: Direction, schema: Schema) -> Schema | None:
        """Convert one frame schema of the newer version; ``None``: not in the older one."""
        return schema

    def extra_client_schemas(self) -> list[Schema]:
        """Frame schemas the older version accepts beyond the converted ones (aliases)."""
        return []


# --- helpers shared by the changes -------------------------------------------


def frame_schema_type(schema: Schema) -> str:
    """The ``type`` (or v1 ``event``) constant of a frame schema."""
    props = schema["properties"]
    tag = props.get("type") or props.get("event")
    assert tag is not None, "frame schema without a type tag"
    return str(tag["const"])


def data_schema(schema: Schema) -> Schema:
    """The schema of a frame's ``data`` object."""
    data: Schema = schema["properties"]["data"]
    return data


def with_props(schema: Schema, props: Mapping[str, Schema], required: list[str]) -> Schema:
    """A copy of an object schema with new properties and required list."""
    return {**schema, "properties": dict(props), "required": required}


def rename_props(schema: Schema, renames: Mapping[str, str]) -> Schema:
    """Rename object properties (new name → old name) in a schema copy."""
    props = {renames.get(k, k): v for k, v in schema["properties"].items()}
    required = [renames.get(k, k) for k in schema.get("required", [])]
    return with_props(schema, props, required)


def drop_props(schema: Schema, names: frozenset[str]) -> Schema:
    props = {k: v for k, v in schema["properties"].items() if k not in names}
    required = [k for k in schema.get("required", []) if k not in names]
    return with_props(schema, props, required)


def rename_keys(data: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    return {renames.get(k, k): v for k, v in data.items()}


def map_type(frame: Frame, renames: Mapping[str, str]) -> Frame:
    """A copy of ``frame`` with its ``type`` renamed, if it is in ``renames``."""
    new = renames.get(frame["type"])
    return frame if new is None else {**frame, "type": new}


def map_schema_type(schema: Schema, renames: Mapping[str, str]) -> Schema:
    new = renames.get(frame_schema_type(schema))
    if new is None:
        return schema
    props = {**schema["properties"], "type": {"const": new}}
    return {**schema, "properties": props, "title": _title(new)}


def on_data(frame: Frame, convert: Callable[[dict[str, Any]], dict[str, Any]]) -> Frame:
    return {**frame, "data": convert(frame["data"])}


def iso(epoch_seconds: float) -> str:
    """Unix seconds as the ISO 8601 UTC string older versions use."""
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()


def epoch(iso_string: str) -> float:
    """An ISO 8601 string from an older version as Unix seconds."""
    return datetime.fromisoformat(iso_string).timestamp()


ISO_SCHEMA: Schema = {"type": "string", "format": "date-time"}


def _title(type_name: str) -> str:
    return "".join(part.title() for part in type_name.split("_")) + "Frame"


title_for = _title
