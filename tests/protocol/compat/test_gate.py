"""The gate in process: the real repository, and released snapshots tampered with in memory."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agentsocket.protocol.compat import (
    CompatConfig,
    Mode,
    Rule,
    catalogue,
    check,
    load_snapshots,
    replay,
)
from agentsocket.protocol.schema import json_schema
from agentsocket.protocol.versions import HEAD, RESERVED, VERSIONS, Version
from tests.protocol.compat.edits import SNAPSHOTS

Snapshots = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def released() -> Snapshots:
    return load_snapshots(SNAPSHOTS)


@pytest.fixture
def snapshots(released: Snapshots) -> Snapshots:
    """A private copy of the committed snapshots, free to tamper with."""
    return copy.deepcopy(released)


def _rules(snapshots: Snapshots, config: CompatConfig | None = None) -> set[tuple[str, str, str]]:
    report = check(snapshots, config or CompatConfig())
    return {(v.rule.value, v.version, v.message) for v in report.violations}


def test__real_repository__models_match_the_committed_snapshots(released: Snapshots) -> None:
    report = check(released)
    assert report.ok, report.to_text()
    assert report.snapshots == ("v3", "v2", "v1")
    assert report.notes == ()


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__replay_from_head__reproduces_every_version(version: Version) -> None:
    replayed = replay(json_schema(HEAD), HEAD, version)
    today = catalogue(json_schema(version))
    assert (replayed.server, replayed.client, replayed.defs) == (
        today.server,
        today.client,
        today.defs,
    )
    assert replayed.unreplayed == frozenset()


def test__replay__refuses_to_go_up() -> None:
    with pytest.raises(ValueError, match="older"):
        replay(json_schema("v1"), VERSIONS[-1], HEAD)


def test__released_snapshot_differs__released_version_changed(snapshots: Snapshots) -> None:
    error = snapshots["v2"]["$defs"]["server.error"]["properties"]["data"]
    error["properties"]["recovery_suggestions"]["items"] = {"type": "integer"}
    report = check(snapshots)
    [violation] = report.violations
    assert (violation.rule, violation.version, violation.message, violation.path) == (
        Rule.RELEASED_VERSION_CHANGED,
        "v2",
        "error",
        "$.data.recovery_suggestions[*]",
    )
    assert violation.direction_label == "server→client"
    assert violation.detail.startswith("field_type_changed:")


def test__snapshot_of_unregistered_version__released_version_removed(
    snapshots: Snapshots,
) -> None:
    snapshots["v0"] = snapshots["v1"]
    assert _rules(snapshots) == {("released_version_removed", "v0", "*")}


def test__older_version_without_snapshot__snapshot_missing(snapshots: Snapshots) -> None:
    del snapshots["v2"]
    assert _rules(snapshots) == {("snapshot_missing", "v2", "*")}


def test__nothing_released__only_missing_snapshots() -> None:
    report = check({})
    assert {(v.rule, v.version) for v in report.violations} == {
        (Rule.SNAPSHOT_MISSING, "v2"),
        (Rule.SNAPSHOT_MISSING, "v1"),
    }
    assert "nothing is released" in report.notes[0]


def _pretend_new_in_head(snapshots: Snapshots, message: str) -> None:
    """Make ``message`` look added to the head since the release (absent from every snapshot)."""
    for document in snapshots.values():
        del document["$defs"][f"server.{message}"]


def test__new_outbound_type__transitive_checks_older_versions(snapshots: Snapshots) -> None:
    _pretend_new_in_head(snapshots, "agent_thinking")
    assert _rules(snapshots) == {
        ("new_outbound_message_type", "v2", "agent_thinking"),
        ("new_outbound_message_type", "v1", "agent_thinking"),
    }
    assert _rules(snapshots, CompatConfig.for_mode(Mode.FORWARD)) == set()


def test__new_outbound_type__allowed_where_clients_ignore_unknown_types(
    snapshots: Snapshots,
) -> None:
    _pretend_new_in_head(snapshots, "agent_thinking")
    lenient = CompatConfig(ignores_unknown_types={"v1": True, "v2": True, "v3": True})
    report = check(snapshots, lenient)
    assert report.ok
    assert {f.version for f in report.allowed} == {"v3", "v2", "v1"}


def test__reserved_message_type__reused_in_head(
    snapshots: Snapshots, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pretend_new_in_head(snapshots, "agent_thinking")
    monkeypatch.setitem(RESERVED, "agent_thinking", "retired for the test")
    report = check(snapshots, CompatConfig.for_mode(Mode.FORWARD))
    [violation] = report.violations
    assert (violation.rule, violation.version, violation.message, violation.path) == (
        Rule.RESERVED_NAME_REUSED,
        "v3",
        "agent_thinking",
        "$",
    )
    assert "retired for the test" in violation.detail


def test__reserved_name__still_live_in_the_release__is_not_a_reuse(
    released: Snapshots, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RESERVED, "pong", "a live type")
    monkeypatch.setitem(RESERVED, "reason", "a live field")
    assert check(released).ok


def test__full_mode__outbound_field_added_breaks_backward(snapshots: Snapshots) -> None:
    for version, document in snapshots.items():  # as if client_time were new in head
        pong = document["$defs"]["server.pong"]
        data = pong if version == "v1" else pong["properties"]["data"]
        del data["properties"]["client_time"]
        data["required"].remove("client_time")
    assert check(snapshots, CompatConfig.for_mode(Mode.FORWARD)).ok
    assert _rules(snapshots, CompatConfig.for_mode(Mode.FULL)) == {
        ("required_field_added", "v3", "pong")
    }


def test__release_the_changes_cannot_replay__judged_by_rules_with_a_note(
    snapshots: Snapshots,
) -> None:
    error = snapshots["v3"]["$defs"]["server.error"]["properties"]["data"]
    del error["properties"]["errors"]  # ReshapeErrors reads it when converting to v2
    report = check(snapshots)
    assert report.ok, report.to_text()
    assert any("v2 error" in note and "cannot convert" in note for note in report.notes)


def test__report_text__names_version_message_direction_path_rule_and_fix(
    snapshots: Snapshots,
) -> None:
    del snapshots["v3"]["$defs"]["client.delete_thread"]
    snapshots["v3"]["$defs"]["server.pong"]["properties"]["data"]["required"] = []
    text = check(snapshots, CompatConfig.for_mode(Mode.FULL)).to_text()
    assert "FAIL v3 delete_thread (client→server) at $" in text
    assert "rule:   new_inbound_message_type" in text
    assert "FAIL v3 pong (server→client) at $.data.server_time" in text
    assert "rule:   field_made_required" in text
    assert "fix:    keep the field optional with a default, or declare a new protocol" in text
    assert "9 violation(s): not compatible\n" in text
    assert text.endswith("  v1 delete_thread (client→server): released_version_changed\n")


@pytest.mark.parametrize(
    ("mode", "requires", "transitive"),
    [
        (Mode.BACKWARD, {"backward"}, False),
        (Mode.FORWARD_TRANSITIVE, {"forward"}, True),
        (Mode.FULL, {"backward", "forward"}, False),
        (Mode.FULL_TRANSITIVE, {"backward", "forward"}, True),
    ],
)
def test__mode__requires_and_transitive(mode: Mode, requires: set[str], transitive: bool) -> None:
    assert {c.value for c in mode.requires} == requires
    assert mode.transitive is transitive
