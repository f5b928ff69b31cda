"""The protocol's versions, newest first, and the chains that convert between them.

A :class:`Version` lists the changes that produced it from the previous one.
To speak an older version the head frame goes *down* through every newer
version's changes; to read an older client it goes *up* in reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from agentsocket.protocol.errors import UnsupportedVersionError
from agentsocket.protocol.versions import v2, v3
from agentsocket.protocol.versions.change import (
    Direction,
    Frame,
    NotInVersion,
    Schema,
    VersionChange,
    frame_schema_type,
)

__all__ = [
    "DEFAULT_VERSION",
    "HEAD",
    "RESERVED",
    "VERSIONS",
    "Frame",
    "NotInVersion",
    "Schema",
    "Status",
    "Version",
    "VersionChange",
    "get_version",
    "supported_versions",
]


class Status(StrEnum):
    CURRENT = "current"
    SUPPORTED = "supported"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, eq=False)
class Version:
    """One protocol version.

    Attributes:
        name: the wire name (``v2``); subprotocol ``agentsocket.<name>``.
        summary: one line for the docs.
        changes: the changes that produced this version from the previous one.
        status: current, supported or deprecated.
        sunset: for a deprecated version, the date it will be refused.
        additions: compatible changes made to this version after its release
            (the gate allowed them: e.g. an optional outbound field), oldest
            first, one sentence each; the changelog lists them.
    """

    name: str
    summary: str
    changes: tuple[VersionChange, ...] = ()
    status: Status = Status.SUPPORTED
    sunset: date | None = None
    data_path: str = "$.data"
    additions: tuple[str, ...] = ()

    #: Server message types (as named here) the previous version cannot express.
    dropped: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        dropped = frozenset(name for change in self.changes for name in change.dropped)
        object.__setattr__(self, "dropped", dropped)

    @property
    def subprotocol(self) -> str:
        return f"agentsocket.{self.name}"

    @property
    def number(self) -> int:
        return int(self.name.removeprefix("v"))


VERSIONS: tuple[Version, ...] = (
    Version(
        "v3",
        "Head: a distinct type per message, envelope with seq on every frame.",
        v3.CHANGES,
        Status.CURRENT,
        additions=(
            "The welcome lists the agents served (`agents`: each one's `name` and "
            "`description`) and `default_agent`, the one a `user_message` without `agent` "
            "gets; v2 and v1 welcomes are unchanged.",
            "`thread_history` carries `runs`: each run's stored timeline (its events as sent "
            "live, without text deltas, size-capped with `truncated` naming cut fields), so a "
            "reload shows what the live view showed; a page may hold fewer messages when "
            "timelines are large. v2 and v1 history is unchanged.",
            "`agent_completed` carries the run's token `usage` (`input_tokens`, "
            "`output_tokens`, `total_tokens`) when its agent reported it; v2 and v1 leave it out.",
            "`user_message` may set `double_texting` (`reject`, `enqueue`, `interrupt`) for a "
            "thread whose run is still going; `message_received` says whether the run is "
            "`queued`, and the `conflict` error of a refused message names the running "
            "`run_id`. v2 and v1 clients get the gateway's policy and none of these fields.",
            "`user_message_accepted` (a stream message) shows an accepted user message on "
            "every connection of the user; `thread_history` carries the thread's runs in "
            "flight (`events`) and the stream seq it is cut at (`stream_seq`). v2 and v1 "
            "clients get neither.",
        ),
    ),
    Version(
        "v2",
        "The seed's envelope: {type, data, timestamp, server_id, correlation_id}.",
        v2.CHANGES,
    ),
    Version("v1", "Legacy flat frames keyed by `event`, ISO 8601 times.", data_path="$"),
)
HEAD = VERSIONS[0]
DEFAULT_VERSION = HEAD
_BY_NAME = {version.name: version for version in VERSIONS}

#: Retired names that may never be reused with another meaning (the gate enforces it).
RESERVED: dict[str, str] = {
    "system_message": "v2's wrapper type of system events (v3 gave each event its type)",
    "partial_result": "v2's name of agent_message_delta",
    "final_report": "v2's name of agent_message",
    "error_code": "v2's name of error.code",
    "error_message": "v2's name of error.message",
    "recovery_suggestions": "v2 error field, removed in v3",
    "chat": "v2 alias of user_message",
    "chat_message": "v2 alias of user_message",
    "message": "v2 alias of user_message",
    "execute_agent": "v2 alias of user_message",
    "start_agent": "v2 alias of user_message",
}


def supported_versions() -> tuple[str, ...]:
    """Names of every version the server speaks, newest first."""
    return tuple(version.name for version in VERSIONS)


def get_version(name: str) -> Version:
    """The version called ``name``.

    Raises:
        UnsupportedVersionError: no such version is registered.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnsupportedVersionError(name, supported_versions()) from None


def expresses(version: Version, message_type: str) -> bool:
    """True if clients of ``version`` receive server messages of ``message_type`` (head name)."""
    for newer in VERSIONS:
        if newer is version:
            return True
        if message_type in newer.dropped:
            return False
    return False


def _steps_down(target: Version) -> list[tuple[VersionChange, ...]]:
    """The change sets between head and ``target``, newest first."""
    steps = []
    for version in VERSIONS:
        if version is target:
            break
        steps.append(version.changes)
    return steps


def server_step_down(frame: Frame, newer: Version) -> Frame | None:
    """Convert a server frame of ``newer`` to the version just before it."""
    if frame.get("type") in newer.dropped:
        return None
    frame = _nested_down(frame, newer)
    for change in newer.changes:
        frame = change.server_down(frame)
    return frame


def _nested_down(frame: Frame, newer: Version) -> Frame:
    """Stream frames carried inside a ``thread_history`` go down with it, each as it would
    have gone live (a frame the older version cannot express is left out)."""
    data = frame.get("data")
    if frame.get("type") != "thread_history" or not isinstance(data, dict):
        return frame
    events = data.get("events")
    if not events:
        return frame
    down = [e for e in (server_step_down(event, newer) for event in events) if e is not None]
    return {**frame, "data": {**data, "events": down}}


def server_up(frame: Frame, source: Version) -> Frame:
    """Convert a server frame of ``source`` to head."""
    for changes in reversed(_steps_down(source)):
        for change in reversed(changes):
            frame = change.server_up(frame)
    return frame


def client_up(frame: Frame, source: Version) -> Frame:
    """Convert a client frame of ``source`` to head.

    Raises:
        NotInVersion: the frame's type does not exist in ``source``.
    """
    for changes in reversed(_steps_down(source)):
        for change in reversed(changes):
            frame = change.client_up(frame)
    return frame


def client_down(frame: Frame, target: Version) -> Frame:
    """Convert a head client frame to ``target``.

    Raises:
        NotInVersion: ``target`` cannot express this message.
    """
    for changes in _steps_down(target):
        for change in changes:
            frame = change.client_down(frame)
    return frame


ChangeChain = Sequence[tuple[VersionChange, ...]]


def steps_between(source: Version, target: Version) -> list[tuple[VersionChange, ...]]:
    """The change sets that lead from ``source`` down to the older ``target``, newest first.

    Raises:
        ValueError: ``source`` is older than ``target``.
    """
    start, stop = VERSIONS.index(source), VERSIONS.index(target)
    if start > stop:
        raise ValueError(f"{source.name} is older than {target.name}")
    return [version.changes for version in VERSIONS[start:stop]]


def schema_down(direction: Direction, schema: Schema, target: Version) -> Schema | None:
    """Convert a head frame schema to ``target``; ``None`` if the message is not in it."""
    return schema_through(direction, schema, _steps_down(target))


def schema_through(direction: Direction, schema: Schema, chain: ChangeChain) -> Schema | None:
    """Convert a frame schema through ``chain``; ``None`` if the message drops out."""
    current: Schema | None = schema
    for changes in chain:
        assert current is not None
        if direction == "server" and any(
            frame_schema_type(current) in change.dropped for change in changes
        ):  # schemas are built once, so no precomputed set here
            return None
        for change in changes:
            current = change.schema_down(direction, current)
            if current is None:
                return None
    return current


def extra_client_schemas(target: Version) -> list[Schema]:
    """Schemas of inbound frames ``target`` accepts beyond the head catalogue (aliases)."""
    return extras_through(_steps_down(target))


def extras_through(chain: ChangeChain) -> list[Schema]:
    """Alias frame schemas the changes of ``chain`` add, converted down the rest of it."""
    extras: list[Schema] = []
    for changes in chain:
        converted: list[Schema] = []
        for schema in extras:
            result: Schema | None = schema
            for change in changes:
                result = change.schema_down("client", result) if result is not None else None
            if result is not None:
                converted.append(result)
        extras = converted + [s for change in changes for s in change.extra_client_schemas()]
    return extras
