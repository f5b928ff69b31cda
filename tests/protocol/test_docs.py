"""Generated protocol docs: up to date, complete, and valid for the official AsyncAPI parser."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from agentsocket.cli import app
from agentsocket.protocol import VERSIONS, Version
from agentsocket.protocol.asyncapi import asyncapi_document, markdown
from agentsocket.protocol.reference import (
    changelog,
    generated_docs,
    migration_guide,
    protocol_reference,
)
from agentsocket.protocol.schema import client_types, server_types

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "protocol"
VALIDATOR = ROOT / "scripts" / "validate-asyncapi.mjs"
PARSER = ROOT / "node_modules" / "@asyncapi" / "parser"
CHANGES = [(version, change) for version in VERSIONS for change in version.changes]


def _node() -> str:
    """The node binary, once ``npm ci`` installed the parser; fails under CI, skips locally."""
    node = shutil.which("node")
    if node is not None and PARSER.is_dir():
        return node
    message = "AsyncAPI parser not installed: run `npm ci` at the repository root (needs Node 20+)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(VALIDATOR), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "CI": "true", "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"},
        check=False,
    )


# --- committed output ------------------------------------------------------------------


def test__committed_docs__equal_the_generated_ones() -> None:
    expected = generated_docs()
    committed = sorted(p.name for p in DOCS.iterdir() if p.is_file())
    assert committed == sorted(expected), "run `agentsocket docs build`"
    for name, content in expected.items():
        assert (DOCS / name).read_bytes() == content, (
            f"{name} is stale: run `agentsocket docs build`"
        )


def test__docs_build__check__lists_stale_and_missing_files(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "protocol"
    assert runner.invoke(app, ["docs", "build", "--directory", str(target)]).exit_code == 0
    assert (
        runner.invoke(app, ["docs", "build", "--check", "--directory", str(target)]).exit_code == 0
    )

    (target / "changelog.md").write_text("old\n")
    (target / "reference-v2.md").unlink()
    result = runner.invoke(app, ["docs", "build", "--check", "--directory", str(target)])

    assert result.exit_code == 1
    assert f"stale: {target / 'changelog.md'}" in result.output
    assert f"missing: {target / 'reference-v2.md'}" in result.output


# --- AsyncAPI --------------------------------------------------------------------------


def test__asyncapi_docs__pass_the_official_parser() -> None:
    files = [DOCS / f"asyncapi-{version.name}.json" for version in VERSIONS]
    result = _validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    for file in files:
        assert f"{file}: valid AsyncAPI 3.0.0" in result.stdout


def test__asyncapi_doc_with_dangling_ref__is_rejected_by_the_parser(tmp_path: Path) -> None:
    document = asyncapi_document("v3")
    document["components"]["messages"]["server.pong"]["payload"] = {
        "$ref": "#/components/schemas/server.nope"
    }
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))

    result = _validate(broken)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "invalid-ref" in result.stderr
    assert "server.nope" in result.stderr


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__asyncapi_operations__send_server_frames_and_receive_client_frames(
    version: Version,
) -> None:
    document = asyncapi_document(version)
    operations = document["operations"]
    sent = [ref["$ref"].rsplit("/", 1)[-1] for ref in operations["sendServerMessages"]["messages"]]
    received = [
        ref["$ref"].rsplit("/", 1)[-1] for ref in operations["receiveClientMessages"]["messages"]
    ]
    assert operations["sendServerMessages"]["action"] == "send"
    assert operations["receiveClientMessages"]["action"] == "receive"
    assert sent == [f"server.{t}" for t in server_types(version)]
    assert received == [f"client.{t}" for t in client_types(version)]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__asyncapi_examples__validate_against_their_payload(version: Version) -> None:
    document: dict[str, Any] = asyncapi_document(version)
    messages = document["components"]["messages"]
    assert "$defs" not in json.dumps(document)
    for key, message in messages.items():
        assert message["examples"], key
        validator = jsonschema.Draft7Validator(
            {**message["payload"], "components": document["components"]}
        )
        for example in message["examples"]:
            validator.validate(example["payload"])


def test__asyncapi_payload__rejects_a_frame_of_another_version() -> None:
    document = asyncapi_document("v3")
    validator = jsonschema.Draft7Validator(
        {"$ref": "#/components/schemas/server.error", "components": document["components"]}
    )
    v2_error = json.loads((ROOT / "golden" / "v2" / "server" / "error.json").read_text())
    assert not validator.is_valid(v2_error)


# --- Markdown --------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__reference__documents_every_message_of_its_version(version: Version) -> None:
    reference = protocol_reference(version)
    for head, tag in server_types(version).items():
        assert f"### {head}" in reference or f"### {tag}" in reference, head
        assert f"`{tag}`" in reference or f"### {tag}" in reference, tag
    for tag in client_types(version):
        assert f"### {tag}" in reference, tag
    assert "../close-codes.md" in reference


def test__reference_v2__names_wrapped_and_renamed_messages_as_the_wire_does() -> None:
    reference = protocol_reference("v2")
    assert "sent as `system_message` with `data.event` = `connection_established`" in reference
    assert "### partial_result" in reference
    assert "### agent_message_delta" not in reference
    assert "`tool_approval_required` (server → client) is never sent" in reference


def test__changelog__has_every_change_description_newest_version_first() -> None:
    text = changelog()
    for _, change in CHANGES:
        assert markdown(change.description) in text, type(change).__name__
        for name in [*change.dropped, *change.mapped]:
            assert f"`{name}`" in text
    positions = [text.index(f"## {version.name} (") for version in VERSIONS]
    assert positions == sorted(positions)


def test__migration_guide__lists_every_step_change_and_declared_drop() -> None:
    text = migration_guide()
    for _, change in CHANGES:
        assert markdown(change.description) in text, type(change).__name__
        for name, reason in change.dropped.items():
            assert f"- `{name}`: {reason}" in text
    for newer, older in itertools.pairwise(VERSIONS):
        assert f"## {older.name} → {newer.name}" in text


def test__docs_modules__import_no_io_stack() -> None:
    code = (
        "import sys, agentsocket.protocol.asyncapi, agentsocket.protocol.reference\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('asyncio', 'starlette', 'httpx', 'uvicorn', 'websockets', 'redis', 'sqlalchemy'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


# --- issue 16: what an outside developer found wrong ---------------------------------


def _step(guide: str, older: str, newer: str) -> str:
    start = guide.index(f"## {older} → {newer}\n")
    end = guide.find("\n## ", start + 1)
    return guide[start : end if end != -1 else None]


def test__migration_guide__v1_to_v2__names_the_system_message_wrap_of_the_welcome() -> None:
    step = _step(migration_guide(), "v1", "v2")

    assert (
        '`msg["type"] == "system_message" and msg["data"]["event"] == "connection_established"`'
        in step
    )
    assert 'checks `msg["type"] == "connection_established"` never recognises it' in step


@pytest.mark.parametrize(("older", "newer"), [("v1", "v2"), ("v2", "v3")])
def test__migration_guide__each_step__shows_welcome_and_agent_event_before_and_after(
    older: str, newer: str
) -> None:
    step = _step(migration_guide(), older, newer)
    for message in ("connection_established", "tool_executing"):
        for version in (older, newer):
            frame = (ROOT / "golden" / version / "server" / f"{message}.json").read_text()
            assert f"```json\n{frame}```" in step, f"{message} in {version}"


def _rows(markdown_text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in markdown_text.splitlines()
        if line.startswith("| `")
    ]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__reference__a_date_time_field_is_not_described_as_unix_time(version: Version) -> None:
    for row in _rows(protocol_reference(version)):
        if "string (date-time)" in row[1]:
            assert "Unix" not in row[-1], row


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__reference__missing_messages__speak_of_this_version_only(version: Version) -> None:
    reference = protocol_reference(version)
    if "## Not in this version" not in reference:
        return
    section = reference[reference.index("## Not in this version") :]
    for line in section.splitlines():
        for other in VERSIONS:
            if other != version and f"{other.name} clients" in line:
                # Another version's reason is quoted only with the version it is about.
                assert f"not in {other.name} (so not in {version.name} either): " in line
