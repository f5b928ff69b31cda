"""The gate on real model edits: each breaking one fails with its rule, each safe one passes.

Every edit runs in its own copy of the protocol package and its own
subprocess; the subprocesses of the module run concurrently (one per core)
so the whole file costs a few seconds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.protocol.compat.edits import Edit, Expected, apply, copy_protocol, run_gate

S, C = "server_messages.py", "client_messages.py"
OUT, IN = "server→client", "client→server"

_NEW_SERVER_TYPE = (
    S,
    "\nSERVER_MESSAGES: dict[str, type[ServerMessage]] = {",
    '\nclass AgentHeartbeat(AgentEvent):\n    """The run is alive."""\n\n'
    '    TYPE: ClassVar[str] = "agent_heartbeat"\n\n\n'
    "SERVER_MESSAGES: dict[str, type[ServerMessage]] = {",
)
_REGISTER_NEW_SERVER_TYPE = (
    S,
    "        AgentCancelled,\n    )",
    "        AgentCancelled,\n        AgentHeartbeat,\n    )",
)

EDITS: list[Edit] = [
    # --- the seed's incident --------------------------------------------------------
    Edit(
        "seed_incident_v1_welcome_wrapped_in_envelope",
        (
            (
                "versions/v2.py",
                '        flat: dict[str, Any] = {"event": name}\n',
                "        if name == _WELCOME:\n"
                "            return frame\n"
                '        flat: dict[str, Any] = {"event": name}\n',
            ),
            (
                "versions/v2.py",
                '        fields = drop_props(data, frozenset({"event"}))\n',
                '        if direction == "server" and name == _WELCOME:\n'
                "            return schema\n"
                '        fields = drop_props(data, frozenset({"event"}))\n',
            ),
        ),
        (Expected("released_version_changed", "v1", OUT, "connection_established"),),
    ),
    # --- breaking -------------------------------------------------------------------------
    Edit(
        "outbound_field_removed",
        ((S, "    client_time: EpochSeconds | None = None\n", ""),),
        (Expected("field_removed", "v3", OUT, "pong", "$.data.client_time"),),
    ),
    Edit(
        "outbound_field_renamed",
        ((S, '"agent_cancelled"\n    reason: str\n', '"agent_cancelled"\n    cause: str\n'),),
        (Expected("field_renamed", "v3", OUT, "agent_cancelled", "$.data.cause"),),
    ),
    Edit(
        "outbound_field_type_changed",
        ((S, '"server_shutdown"\n    reason: str\n', '"server_shutdown"\n    reason: int\n'),),
        (Expected("field_type_changed", "v3", OUT, "server_shutdown", "$.data.reason"),),
    ),
    Edit(
        "outbound_type_widened_int_to_number",
        ((S, "    from_seq: Annotated[int,", "    from_seq: Annotated[float,"),),
        (Expected("type_widened", "v3", OUT, "stream_gap", "$.data.from_seq"),),
    ),
    Edit(
        "outbound_enum_value_added",
        (
            (
                S,
                'Literal["success", "error", "denied"]',
                'Literal["success", "error", "denied", "skipped"]',
            ),
        ),
        (Expected("enum_value_added", "v3", OUT, "tool_completed", "$.data.status"),),
    ),
    Edit(
        "outbound_union_member_added",
        ((S, "    sunset: str = Field(", "    sunset: str | int = Field("),),
        (Expected("union_member_added", "v3", OUT, "deprecation_notice", "$.data.sunset"),),
    ),
    Edit(
        "inbound_required_field_added",
        (
            (
                C,
                '"stop_agent"\n    run_id: Identifier\n',
                '"stop_agent"\n    run_id: Identifier\n    reason: str\n',
            ),
        ),
        (Expected("required_field_added", "v3", IN, "stop_agent", "$.data.reason"),),
    ),
    Edit(
        "inbound_field_made_required",
        ((C, "    title: Title | None = None\n", "    title: Title\n"),),
        (Expected("field_made_required", "v3", IN, "create_thread", "$.data.title"),),
    ),
    Edit(
        "inbound_constraint_tightened",
        ((C, "max_length=32_768)", "max_length=1_000)"),),
        (Expected("constraint_tightened", "v3", IN, "user_message", "$.data.content"),),
    ),
    Edit(
        "inbound_string_narrowed_to_enum",
        (
            (
                C,
                "from typing import Annotated, Any, ClassVar",
                "from typing import Annotated, Any, ClassVar, Literal",
            ),
            (
                C,
                "    agent: Identifier | None = Field(",
                '    agent: Literal["demo", "openai"] | None = Field(',
            ),
        ),
        (Expected("type_narrowed", "v3", IN, "user_message", "$.data.agent"),),
    ),
    Edit(
        "inbound_message_type_removed",
        ((C, "        DeleteThread,\n", ""),),
        (Expected("message_type_removed", "v3", IN, "delete_thread"),),
    ),
    Edit(
        "new_outbound_type_reaches_v2_and_v1",
        (_NEW_SERVER_TYPE, _REGISTER_NEW_SERVER_TYPE),
        (
            Expected("new_outbound_message_type", "v2", OUT, "agent_heartbeat"),
            Expected("new_outbound_message_type", "v1", OUT, "agent_heartbeat"),
        ),
    ),
    Edit(
        "reserved_field_name_reused",
        (
            (
                S,
                "    retry_after: Seconds | None = None\n",
                "    retry_after: Seconds | None = None\n"
                "    recovery_suggestions: list[str] = Field(default_factory=list)\n",
            ),
        ),
        (Expected("reserved_name_reused", "v3", OUT, "error", "$.data.recovery_suggestions"),),
    ),
    # --- safe -------------------------------------------------------------------------------
    Edit(
        "outbound_optional_field_added",
        (
            (
                S,
                "    client_time: EpochSeconds | None = None\n",
                "    client_time: EpochSeconds | None = None\n    note: str | None = None\n",
            ),
        ),
        seen="required_field_added",  # outbound schemas list every field the server always sends
    ),
    Edit(
        "inbound_optional_field_added",
        (
            (
                C,
                "    client_time: float | None = Field(default=None, allow_inf_nan=False)\n",
                "    client_time: float | None = Field(default=None, allow_inf_nan=False)\n"
                "    nonce: Identifier | None = None\n",
            ),
        ),
        seen="field_added",
    ),
    Edit(
        "inbound_constraint_relaxed",
        ((C, "max_length=32_768)", "max_length=65_536)"),),
        seen="constraint_relaxed",
    ),
    Edit(
        "new_inbound_message_type",
        (
            (
                C,
                "\nCLIENT_MESSAGES: dict[str, type[ClientMessage]] = {",
                '\nclass MarkRead(ClientMessage):\n    """Mark a thread read."""\n\n'
                '    TYPE: ClassVar[str] = "mark_read"\n    thread_id: Identifier\n\n\n'
                "CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {",
            ),
            (
                C,
                "        QuestionAnswer,\n    )",
                "        QuestionAnswer,\n        MarkRead,\n    )",
            ),
        ),
        seen="new_inbound_message_type",
    ),
    Edit(
        "new_outbound_type_dropped_for_v2",
        (
            _NEW_SERVER_TYPE,
            _REGISTER_NEW_SERVER_TYPE,
            (
                "versions/v3.py",
                'default at once and says so in agent_thinking."\n',
                'default at once and says so in agent_thinking.",\n'
                '        "agent_heartbeat": "v2 clients do not ignore unknown types.",\n',
            ),
        ),
        seen="new_outbound_message_type",
    ),
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every edit's (exit code, JSON report), computed concurrently."""

    def run(edit: Edit) -> tuple[int, dict[str, Any]]:
        root = copy_protocol(tmp_path_factory.mktemp(edit.name))
        apply(root, edit)
        return run_gate(root)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(run, EDITS))
    return {edit.name: result for edit, result in zip(EDITS, results, strict=True)}


def _matches(violation: dict[str, Any], expected: Expected) -> bool:
    return (
        violation["rule"] == expected.rule
        and violation["version"] == expected.version
        and violation["direction"] == expected.direction
        and expected.message in (None, violation["message"])
        and expected.path in (None, violation["path"])
    )


BREAKING = [edit for edit in EDITS if edit.breaking]
SAFE = [edit for edit in EDITS if not edit.breaking]


def test__edit_catalogue__covers_a_dozen_breaking_kinds() -> None:
    kinds = {expected.rule for edit in BREAKING for expected in edit.violations}
    assert len(kinds) >= 12, kinds


@pytest.mark.parametrize("edit", BREAKING, ids=lambda e: e.name)
def test__breaking_edit__gate_fails_with_its_rule(
    edit: Edit, reports: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    code, report = reports[edit.name]
    assert code == 1
    assert not report["ok"]
    for expected in edit.violations:
        assert any(_matches(v, expected) for v in report["violations"]), (
            expected,
            report["violations"],
        )
    for violation in report["violations"]:
        assert violation["fix"], violation


@pytest.mark.parametrize("edit", SAFE, ids=lambda e: e.name)
def test__safe_edit__gate_passes_and_lists_it(
    edit: Edit, reports: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    code, report = reports[edit.name]
    assert (code, report["violations"]) == (0, [])
    assert edit.seen in {finding["rule"] for finding in report["allowed"]}


def test__seed_incident__names_only_v1_welcome(
    reports: dict[str, tuple[int, dict[str, Any]]],
) -> None:
    _, report = reports["seed_incident_v1_welcome_wrapped_in_envelope"]
    named = {(v["version"], v["message"], v["rule"]) for v in report["violations"]}
    assert named == {("v1", "connection_established", "released_version_changed")}
    paths = {v["path"] for v in report["violations"]}
    assert {"$.event", "$.data", "$.type"} <= paths  # flat `event` gone, the envelope came back
    assert all("new protocol version" in v["fix"] for v in report["violations"])


def test__new_outbound_type__allowed_in_v3_whose_clients_ignore_unknown_types(
    reports: dict[str, tuple[int, dict[str, Any]]],
) -> None:
    _, report = reports["new_outbound_type_reaches_v2_and_v1"]
    allowed = [(f["version"], f["rule"]) for f in report["allowed"]]
    assert ("v3", "new_outbound_message_type") in allowed
    assert {v["version"] for v in report["violations"]} == {"v2", "v1"}


def test__copy_protocol__copies_the_package_without_bytecode(tmp_path: Path) -> None:
    root = copy_protocol(tmp_path)
    assert (root / "agentsocket" / "protocol" / "compat" / "gate.py").is_file()
    assert not list(root.rglob("__pycache__"))
