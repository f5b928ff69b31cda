"""Every message the server can send is catalogued, documented, has golden frames and a reader.

The checks run on the real tree; the other tests hand them a doctored catalogue,
docs, golden frames or source to show that each one fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from agentsocket.protocol import SERVER_MESSAGES, ServerMessage
from tests.contracts.consistency import (
    ROOT,
    Coverage,
    Model,
    declared_models,
    hand_built_frames,
    problems,
)

SRC = ROOT / "src" / "agentsocket"
GOLDEN = ROOT / "golden"
DOCS = ROOT / "docs" / "protocol"


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    return Coverage.of_files(sorted((ROOT / "contracts").glob("*.json")))


class FakeExtra(ServerMessage):
    """A message type nobody documented, exemplified or reads."""

    TYPE: ClassVar[str] = "fake_extra_event"
    detail: str


def test__every_server_message__catalogued_documented_golden_and_read(coverage: Coverage) -> None:
    models = declared_models(SRC, SERVER_MESSAGES)
    assert sorted(model.tag for model in models) == sorted(SERVER_MESSAGES)
    found = problems(
        SERVER_MESSAGES, golden_dir=GOLDEN, docs_dir=DOCS, coverage=coverage, models=models
    )
    assert found == []


def test__no_hand_written_frames_outside_the_protocol_package() -> None:
    assert hand_built_frames(SRC) == []


def test__an_extra_type__fails_in_every_version_and_every_place(coverage: Coverage) -> None:
    catalogue: dict[str, type[ServerMessage]] = {**SERVER_MESSAGES, FakeExtra.TYPE: FakeExtra}
    found = problems(catalogue, golden_dir=GOLDEN, docs_dir=DOCS, coverage=coverage)
    assert found == [
        line
        for version in ("v3", "v2", "v1")
        for line in (
            f"{version}: fake_extra_event is not described in docs/protocol/reference-{version}.md",
            f"{version}: fake_extra_event has no golden frame "
            f"golden/{version}/server/fake_extra_event.json",
            f"{version}: no consumer contract reads fake_extra_event",
        )
    ]


def test__a_model_outside_the_catalogue__is_named(coverage: Coverage) -> None:
    """The incident's second ServerMessage class: a model the catalogue does not list."""
    stray = Model("agentsocket/server/legacy.py:12", "ServerMessage2", "system_message")
    found = problems(
        SERVER_MESSAGES, golden_dir=GOLDEN, docs_dir=DOCS, coverage=coverage, models=[stray]
    )
    assert found == [
        "agentsocket/server/legacy.py:12: ServerMessage2 ('system_message') is not in the catalogue"
    ]


def test__source_scan__finds_models_and_hand_written_frames(tmp_path: Path) -> None:
    src = tmp_path / "agentsocket"
    (src / "server").mkdir(parents=True)
    (src / "server" / "welcome.py").write_text(
        "from typing import ClassVar\n"
        "from agentsocket.protocol.message import ServerMessage\n"
        "class Welcome(ServerMessage):\n"
        '    TYPE: ClassVar[str] = "connection_established"\n'
        "def welcome(user):\n"
        '    return {"event": "connection_established", "connection_ready": True}\n'
    )
    assert declared_models(src, SERVER_MESSAGES) == [
        Model("agentsocket/server/welcome.py:3", "Welcome", "connection_established")
    ]
    assert hand_built_frames(src) == [
        "agentsocket/server/welcome.py:6: a hand-written 'connection_established' frame"
    ]


def test__undocumented_drop_and_stale_golden__found(tmp_path: Path, coverage: Coverage) -> None:
    docs, golden = tmp_path / "docs", tmp_path / "golden"
    shutil.copytree(DOCS, docs)
    shutil.copytree(GOLDEN, golden)
    reference = docs / "reference-v1.md"
    reference.write_text(
        reference.read_text().replace("- `agent_message_delta` (server → client)", "- (gone)")
    )
    shutil.copy(golden / "v3/server/tool_approval_required.json", golden / "v2/server")
    found = problems(SERVER_MESSAGES, golden_dir=golden, docs_dir=docs, coverage=coverage)
    assert found == [
        "v2: tool_approval_required is dropped but has a golden frame",
        "v2: golden frame of tool_approval_required, which v2 cannot carry",
        "v1: the drop of agent_message_delta is not documented in docs/protocol/reference-v1.md",
    ]


def test__contract_reading_an_unknown_type__found(coverage: Coverage) -> None:
    doctored = Coverage({**coverage.reads, "v3": coverage.reads["v3"] | {"welcome_v4"}})
    found = problems(SERVER_MESSAGES, golden_dir=GOLDEN, docs_dir=DOCS, coverage=doctored)
    assert found == ["v3: a contract reads welcome_v4, which is not in the catalogue"]
