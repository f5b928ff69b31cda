"""The gate on the AG-UI dialect: ``schemas/ag-ui.json`` against today's emitted events."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentsocket.protocol.ag_ui_schema import dialect_schema
from agentsocket.protocol.compat.commands import run_check, run_snapshot
from agentsocket.protocol.compat.dialects import AG_UI, check_dialects, dialect_status
from agentsocket.protocol.compat.snapshots import SnapshotError, SnapshotStatus

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def released(tmp_path: Path, edit: Any = None) -> Path:
    """A copy of the committed snapshots, the AG-UI one edited by ``edit(document)``."""
    directory = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, directory)
    if edit is not None:
        path = directory / f"{AG_UI}.json"
        document = orjson.loads(path.read_bytes())
        edit(document)
        path.write_bytes(orjson.dumps(document))
    return directory


def test__committed_snapshot__todays_events__up_to_date_no_findings() -> None:
    findings, notes = check_dialects(SCHEMAS)

    assert findings == []
    assert notes == []
    assert dialect_status(SCHEMAS) == {AG_UI: SnapshotStatus.UP_TO_DATE}


def test__released_required_field_now_optional__forward_break_blocks(tmp_path: Path) -> None:
    def require_result(document: dict[str, Any]) -> None:
        document["$defs"]["RunFinishedEvent"]["required"].append("result")

    findings, _ = check_dialects(released(tmp_path, require_result))

    (finding,) = findings
    assert (finding.version, finding.direction, finding.message) == (
        AG_UI,
        "server",
        "RUN_FINISHED",
    )
    assert finding.blocking
    code, text = run_check(released(tmp_path / "again", require_result))
    assert code == 1
    assert "RUN_FINISHED" in text


def test__event_type_new_since_release__blocks_front_ends_do_not_ignore_it(
    tmp_path: Path,
) -> None:
    def drop_custom(document: dict[str, Any]) -> None:
        document["anyOf"] = [m for m in document["anyOf"] if m["$ref"] != "#/$defs/CustomEvent"]

    findings, _ = check_dialects(released(tmp_path, drop_custom))

    assert [(f.message, f.rule.value, f.blocking) for f in findings] == [
        ("CUSTOM", "new_outbound_message_type", True)
    ]


def test__unreadable_snapshot__snapshot_error(tmp_path: Path) -> None:
    directory = released(tmp_path)
    (directory / f"{AG_UI}.json").write_text('{"anyOf": 1}')

    with pytest.raises(SnapshotError):
        check_dialects(directory)


def test__no_snapshot__noted_and_written_on_release(tmp_path: Path) -> None:
    directory = released(tmp_path)
    (directory / f"{AG_UI}.json").unlink()

    assert check_dialects(directory) == (
        [],
        ["ag-ui is not released yet; it is compared with nothing"],
    )
    code, text = run_snapshot(directory, write=True)
    assert code == 0
    assert "ag-ui.json" in text
    written = orjson.loads((directory / f"{AG_UI}.json").read_bytes())
    assert written == orjson.loads(orjson.dumps(dialect_schema()))


def test__custom_name_new_since_release__compatible_front_ends_pass_custom_on(
    tmp_path: Path,
) -> None:
    def drop_position(document: dict[str, Any]) -> None:
        named = "#/$defs/CustomEvent_agentsocket.position"
        document["anyOf"] = [m for m in document["anyOf"] if m["$ref"] != named]

    findings, _ = check_dialects(released(tmp_path, drop_position))

    assert [(f.message, f.rule.value, f.blocking) for f in findings] == [
        ("CUSTOM agentsocket.position", "new_outbound_message_type", False)
    ]


def test__released_custom_value_field_removed__forward_break_blocks(tmp_path: Path) -> None:
    def add_required(document: dict[str, Any]) -> None:
        # The release promised `epoch` and `seq` and a `node` field today's value lacks.
        value = document["$defs"]["PositionValue"]
        value["properties"]["node"] = {"type": "string"}
        value["required"].append("node")

    findings, _ = check_dialects(released(tmp_path, add_required))

    assert [(f.message, f.direction, f.blocking) for f in findings] == [
        ("CUSTOM agentsocket.position", "server", True)
    ]


def test__client_frame_accepts_less_than_released__backward_break_blocks(
    tmp_path: Path,
) -> None:
    def optional_value(document: dict[str, Any]) -> None:
        # Released: the stop frame's `value` was optional; today it is required.
        document["$defs"]["StopFrame"]["required"].remove("value")

    findings, _ = check_dialects(released(tmp_path, optional_value))

    assert [(f.message, f.direction, f.blocking) for f in findings] == [
        ("StopFrame", "client", True)
    ]
