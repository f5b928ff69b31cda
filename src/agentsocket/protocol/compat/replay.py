"""Today's version changes applied to a released schema.

An older version's schema is the head's schema sent down through the version
changes, so it can change for two reasons: the head models changed (judged by
the compatibility rules), or a version change was edited (never allowed once
the version is released). :func:`replay` tells them apart: it sends the
*released* head schema down through *today's* changes. What it yields differs
from the older version's snapshot only if a change was edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentsocket.protocol.schema import inline_refs
from agentsocket.protocol.versions import (
    Version,
    extras_through,
    schema_through,
    steps_between,
)
from agentsocket.protocol.versions.change import Direction, Schema, frame_schema_type

__all__ = ["Catalogue", "catalogue", "replay"]

_PREFIXES: dict[Direction, str] = {"server": "server.", "client": "client."}
_UNIONS = frozenset({"ServerMessage", "ClientMessage"})
DIRECTIONS: tuple[Direction, ...] = ("server", "client")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The frames of one version's JSON Schema document.

    Attributes:
        server: server → client frame schemas, by head type.
        client: client → server frame schemas, by wire type (aliases included).
        defs: the shared model schemas the frames refer to (``#/$defs/...``).
        unreplayed: (direction, message) pairs today's changes could not convert.
    """

    server: dict[str, Schema]
    client: dict[str, Schema]
    defs: dict[str, Schema]
    unreplayed: frozenset[tuple[Direction, str]] = field(default=frozenset())

    def frames(self, direction: Direction) -> dict[str, Schema]:
        return self.server if direction == "server" else self.client


def catalogue(document: Schema) -> Catalogue:
    """Split a version's JSON Schema document (as :func:`json_schema` builds it)."""
    server: dict[str, Schema] = {}
    client: dict[str, Schema] = {}
    defs: dict[str, Schema] = {}
    for key, schema in document.get("$defs", {}).items():
        if key.startswith(_PREFIXES["server"]):
            server[key.removeprefix(_PREFIXES["server"])] = schema
        elif key.startswith(_PREFIXES["client"]):
            client[key.removeprefix(_PREFIXES["client"])] = schema
        elif key not in _UNIONS:
            defs[key] = schema
    return Catalogue(server, client, defs)


def replay(document: Schema, source: Version, target: Version) -> Catalogue:
    """``target``'s frames derived from ``source``'s document through today's changes.

    ``source`` must be ``target`` or newer. Mirrors
    :func:`agentsocket.protocol.versions.schema_down` and
    ``extra_client_schemas``, from ``source`` instead of the head. A frame a
    change fails to convert is left out and listed in ``unreplayed``.
    """
    chain = steps_between(source, target)
    released = catalogue(document)
    failed: set[tuple[Direction, str]] = set()
    frames: dict[Direction, dict[str, Schema]] = {"server": {}, "client": {}}
    for direction in DIRECTIONS:
        for name, schema in released.frames(direction).items():
            try:
                # As json_schema does for older versions: nested parts inline.
                inline = inline_refs(schema, released.defs) if chain else schema
                converted = schema_through(direction, inline, chain)
            except Exception:  # an edited change that no longer fits the release
                failed.add((direction, name))
                continue
            if converted is not None:
                frames[direction][name] = converted
    for alias in extras_through(chain):
        frames["client"][frame_schema_type(alias)] = alias
    return Catalogue(frames["server"], frames["client"], released.defs, frozenset(failed))
