"""Golden frames: up to date, valid in their version, exact round trips, valid JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agentsocket.protocol import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    VERSIONS,
    ClientEnvelope,
    ServerEnvelope,
    decode_client,
    decode_server,
    encode_client,
    encode_server,
    head_frame,
)
from agentsocket.protocol.client_messages import UserMessage
from agentsocket.protocol.examples import CLIENT_EXAMPLES, SERVER_EXAMPLES
from agentsocket.protocol.golden import golden_frames
from agentsocket.protocol.schema import json_schema
from agentsocket.protocol.versions import Version, server_step_down

GOLDEN = Path(__file__).parents[2] / "golden"
FILES = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.json"))


def _load(relative: str) -> Any:
    return json.loads((GOLDEN / relative).read_text())


def _validator(version: str, union: str) -> jsonschema.Draft202012Validator:
    document = json_schema(version)
    return jsonschema.Draft202012Validator(
        {"$defs": document["$defs"], "$ref": f"#/$defs/{union}"},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def test__golden_files__match_the_models() -> None:
    expected = golden_frames()
    assert sorted(expected) == FILES, "run `agentsocket protocol golden --write`"
    for relative, content in expected.items():
        assert (GOLDEN / relative).read_bytes() == content, relative


def test__examples__cover_every_message_type() -> None:
    assert set(SERVER_EXAMPLES) == set(SERVER_MESSAGES)
    assert set(CLIENT_EXAMPLES) == set(CLIENT_MESSAGES)


@pytest.mark.parametrize("version", VERSIONS[1:], ids=lambda v: v.name)
def test__message_missing_from_older_version__is_a_declared_drop(version: Version) -> None:
    for type_name, example in SERVER_EXAMPLES.items():
        has_file = (GOLDEN / version.name / "server" / f"{type_name}.json").exists()
        assert has_file == (encode_server(example, version) is not None)
        if has_file:
            continue
        frame: dict[str, Any] | None = head_frame(example)
        for newer in VERSIONS[: VERSIONS.index(version)]:
            assert frame is not None
            tag = frame["type"]
            frame = server_step_down(frame, newer)
            if frame is None:
                assert any(tag in change.dropped for change in newer.changes)
                break
        assert frame is None, f"{type_name} vanished from {version.name} without a declared rule"


@pytest.mark.parametrize("relative", [f for f in FILES if "/server/" in f])
def test__golden_server_frame__up_then_down__reproduces_it_exactly(relative: str) -> None:
    version = relative.split("/")[0]
    raw = (GOLDEN / relative).read_bytes()
    envelope = decode_server(raw, version)
    assert isinstance(envelope, ServerEnvelope), envelope
    assert envelope.type == Path(relative).stem
    again = encode_server(envelope, version)
    assert again is not None
    assert json.loads(again) == json.loads(raw)


@pytest.mark.parametrize("relative", [f for f in FILES if "/client/" in f])
def test__golden_client_frame__up_then_down__reproduces_it_exactly(relative: str) -> None:
    version = relative.split("/")[0]
    raw = (GOLDEN / relative).read_bytes()
    envelope = decode_client(raw, version)
    assert isinstance(envelope, ClientEnvelope), envelope
    assert envelope.type == Path(relative).stem
    assert json.loads(encode_client(envelope, version)) == json.loads(raw)


@pytest.mark.parametrize("relative", [f for f in FILES if "/client-aliases/" in f])
def test__legacy_alias__older_version__decodes_to_user_message(relative: str) -> None:
    version = relative.split("/")[0]
    envelope = decode_client((GOLDEN / relative).read_bytes(), version)
    assert isinstance(envelope, ClientEnvelope), envelope
    assert isinstance(envelope.message, UserMessage)
    assert envelope.message.content == "hello"


@pytest.mark.parametrize(
    "alias", ["chat", "chat_message", "message", "execute_agent", "start_agent"]
)
def test__legacy_alias__v3__is_unknown_type(alias: str) -> None:
    error = decode_client(json.dumps({"type": alias, "data": {"content": "hello"}}), "v3")
    assert not isinstance(error, ClientEnvelope)
    assert error.code == "unknown_type"


@pytest.mark.parametrize("version", [v.name for v in VERSIONS])
def test__exported_schema__is_valid_draft_2020_12(version: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema(version))


@pytest.mark.parametrize("relative", FILES)
def test__golden_frame__validates_against_its_version_schema(relative: str) -> None:
    version, direction = relative.split("/")[:2]
    union = "ServerMessage" if direction == "server" else "ClientMessage"
    _validator(version, union).validate(_load(relative))


@pytest.mark.parametrize(
    ("version", "frame"),
    [
        ("v3", {"type": "agent_started", "data": {"run_id": "r"}}),
        ("v2", {"type": "system_message", "data": {"event": "connection_established"}}),
        ("v1", {"event": "agent_started", "run_id": 5}),
    ],
)
def test__schema__rejects_incomplete_server_frames(version: str, frame: dict[str, Any]) -> None:
    assert not _validator(version, "ServerMessage").is_valid(frame)
