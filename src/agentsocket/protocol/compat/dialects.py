"""The gate for dialects whose shapes others define: today the AG-UI dialect.

``schemas/ag-ui.json`` is the released schema of the AG-UI events the gateway
emits (:mod:`agentsocket.protocol.ag_ui_schema`). Every change since is
judged as a server → client change of a version whose clients do not ignore
unknown types: anything that breaks forward compatibility (an old AG-UI front
end can no longer read what we send) blocks. The models come with the
``ag-ui`` extra; without it the dialect is noted as not checked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import orjson

from agentsocket.protocol.compat.diff import Change, diff_messages
from agentsocket.protocol.compat.normalize import normalize
from agentsocket.protocol.compat.report import Finding
from agentsocket.protocol.compat.rules import Compat
from agentsocket.protocol.compat.snapshots import SnapshotError, SnapshotStatus, render
from agentsocket.protocol.versions.change import Direction

__all__ = ["AG_UI", "check_dialects", "dialect_status", "write_dialect_snapshots"]

#: The AG-UI dialect's name, as in findings and its snapshot's file name.
AG_UI = "ag-ui"
_FIX = (
    "the events AG-UI front ends read would change: pin ag-ui-protocol to the release "
    "schemas/ag-ui.json was taken with, or undo the edit of protocol/ag_ui.py; if the "
    "change is meant and front ends are ready, write the snapshot again"
)


def _available() -> bool:
    return importlib.util.find_spec("ag_ui") is not None


def _today() -> dict[str, Any]:
    from agentsocket.protocol.ag_ui_schema import dialect_schema  # needs the ag-ui extra

    return dialect_schema()


def _events(document: dict[str, Any]) -> dict[str, Any]:
    from agentsocket.protocol.ag_ui_schema import event_schemas  # needs the ag-ui extra

    defs = document["$defs"]
    return {name: normalize(s, defs) for name, s in event_schemas(document).items()}


def _client_frames(document: dict[str, Any]) -> dict[str, Any]:
    from agentsocket.protocol.ag_ui_schema import client_schemas  # needs the ag-ui extra

    defs = document["$defs"]
    return {name: normalize(s, defs) for name, s in client_schemas(document).items()}


def check_dialects(directory: Path) -> tuple[list[Finding], list[str]]:
    """Findings and notes for the dialects' snapshots in ``directory``.

    Raises:
        SnapshotError: a dialect snapshot is not a schema document.
    """
    path = directory / f"{AG_UI}.json"
    if not _available():
        return [], [f"{AG_UI}: not checked (install agentsocket[ag-ui])"]
    if not path.exists():
        return [], [f"{AG_UI} is not released yet; it is compared with nothing"]
    try:
        released: Any = orjson.loads(path.read_bytes())
        old = _events(released)
        old_frames = _client_frames(released)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise SnapshotError(path, f"not an AG-UI dialect schema: {exc!r}") from None
    today = _today()
    new = _events(today)
    changes = diff_messages(_typed(old), _typed(new), "server", ignores_unknown_types=False)
    # Front ends pass on CUSTOM events of any name: a new name breaks none of them,
    # but the value of a released name is judged like any event.
    changes += diff_messages(_named(old), _named(new), "server", ignores_unknown_types=True)
    findings = [_finding("server", event, change) for event, change in changes]
    # Client frames (WebSocket): a released client's frames must still be accepted.
    frames = _client_frames(today)
    inbound = diff_messages(old_frames, frames, "client", ignores_unknown_types=False)
    findings += [_finding("client", frame, change) for frame, change in inbound]
    return findings, []


def _named(events: dict[str, Any]) -> dict[str, Any]:
    """The named CUSTOM events (``CUSTOM agentsocket.position``)."""
    return {key: schema for key, schema in events.items() if key.startswith("CUSTOM ")}


def _typed(events: dict[str, Any]) -> dict[str, Any]:
    """The events by type (``RUN_STARTED``, ``CUSTOM`` of any name)."""
    return {key: schema for key, schema in events.items() if not key.startswith("CUSTOM ")}


def _finding(direction: Direction, event: str, change: Change) -> Finding:
    # Server events must stay readable by old front ends (forward); client frames of
    # old front ends must stay accepted (backward).
    blocking = (Compat.FORWARD if direction == "server" else Compat.BACKWARD) in change.breaks
    return Finding(
        AG_UI, direction, event, change.path, change.rule, change.detail, change.breaks,
        blocking, _FIX,
    )  # fmt: skip


def dialect_status(directory: Path) -> dict[str, SnapshotStatus]:
    """Each dialect's snapshot against today's schema (none without the extra)."""
    if not _available():
        return {}
    path = directory / f"{AG_UI}.json"
    if not path.exists():
        return {AG_UI: SnapshotStatus.NEW}
    same = path.read_bytes() == render(_today())
    return {AG_UI: SnapshotStatus.UP_TO_DATE if same else SnapshotStatus.CHANGED}


def write_dialect_snapshots(directory: Path) -> list[Path]:
    """Store today's dialect schemas (when the extra is installed); returns the files rewritten."""
    if not _available():
        return []
    path = directory / f"{AG_UI}.json"
    content = render(_today())
    if path.exists() and path.read_bytes() == content:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return [path]
