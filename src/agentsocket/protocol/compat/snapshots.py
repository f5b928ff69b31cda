"""Committed snapshots of released versions' JSON Schemas: ``schemas/v<N>.json``.

A snapshot is exactly what ``agentsocket schema export --version vN`` prints.
Writing snapshots is how a version is released; the gate compares today's
models against them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from agentsocket.protocol.errors import AgentSocketError
from agentsocket.protocol.schema import json_schema
from agentsocket.protocol.versions import VERSIONS
from agentsocket.protocol.versions.change import Schema

__all__ = [
    "SNAPSHOT_DIR",
    "SnapshotError",
    "SnapshotStatus",
    "load_snapshots",
    "render",
    "snapshot_status",
    "write_snapshots",
]

#: Where snapshots live, relative to the project root.
SNAPSHOT_DIR = Path("schemas")
_FILE = re.compile(r"^(v\d+)\.json$")


class SnapshotError(AgentSocketError):
    """A snapshot file cannot be read as a JSON Schema document.

    Attributes:
        path: the file.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


class SnapshotStatus(StrEnum):
    """How a version's snapshot compares with today's schema."""

    UP_TO_DATE = "up to date"
    CHANGED = "changed"
    NEW = "not released"
    RETIRED = "no longer registered"


def render(document: Schema) -> bytes:
    """The bytes of a snapshot file (indented JSON, as ``schema export`` writes)."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def load_snapshots(directory: Path = SNAPSHOT_DIR) -> dict[str, Schema]:
    """Every ``v<N>.json`` in ``directory``, by version name; empty if it does not exist.

    Raises:
        SnapshotError: a file is not a JSON object.
    """
    snapshots: dict[str, Schema] = {}
    if not directory.is_dir():
        return snapshots
    for path in sorted(directory.iterdir()):
        match = _FILE.match(path.name)
        if match is None:
            continue
        try:
            document: Any = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise SnapshotError(path, f"not JSON: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("$defs"), dict):
            raise SnapshotError(path, "not a protocol JSON Schema document (no $defs)")
        snapshots[match.group(1)] = document
    return snapshots


def _today() -> dict[str, bytes]:
    return {version.name: render(json_schema(version)) for version in VERSIONS}


def snapshot_status(directory: Path = SNAPSHOT_DIR) -> dict[str, SnapshotStatus]:
    """Each version's snapshot file against today's schema, newest first."""
    status: dict[str, SnapshotStatus] = {}
    for name, content in _today().items():
        path = directory / f"{name}.json"
        if not path.exists():
            status[name] = SnapshotStatus.NEW
        elif path.read_bytes() == content:
            status[name] = SnapshotStatus.UP_TO_DATE
        else:
            status[name] = SnapshotStatus.CHANGED
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            match = _FILE.match(path.name)
            if match is not None and match.group(1) not in status:
                status[match.group(1)] = SnapshotStatus.RETIRED
    return status


def write_snapshots(directory: Path = SNAPSHOT_DIR) -> list[Path]:
    """Store today's schema of every registered version; returns the files rewritten.

    Files of versions no longer registered are left alone (the gate reports
    them until they are deleted on purpose).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in _today().items():
        path = directory / f"{name}.json"
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            written.append(path)
    return written
