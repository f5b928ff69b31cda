"""docs/schemas.md: its example validates real frames as the page says, and its claims hold."""

from __future__ import annotations

import importlib.util
import json
import re
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from jsonschema import Draft202012Validator

from agentsocket.protocol import VERSIONS, Version
from agentsocket.protocol.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "schemas.md").read_text()
EXAMPLE = ROOT / "docs" / "examples" / "client" / "validate_frames.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_frames", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate_frames = _example()


def _frames(version: Version, folder: str) -> list[object]:
    return [json.loads(p.read_text()) for p in (ROOT / "golden" / version.name / folder).iterdir()]


def test__python_blocks__are_part_of_the_example_file() -> None:
    source = EXAMPLE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
    assert blocks
    for block in blocks:
        assert textwrap.dedent(block) in source


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__example__accepts_every_golden_server_frame(version: Version) -> None:
    document = json_schema(version)
    for frame in _frames(version, "server"):
        assert validate_frames.problem(document, frame) is None, frame


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test__whole_document_accepts_client_frames__server_message_does_not(version: Version) -> None:
    document = json_schema(version)
    whole = Draft202012Validator(document)
    for frame in _frames(version, "client"):
        assert whole.is_valid(frame)
        assert validate_frames.problem(document, frame) is not None, frame


def test__bad_date_time__caught_only_with_the_format_checker() -> None:
    document = json_schema("v1")
    frame = json.loads((ROOT / "golden" / "v1" / "server" / "pong.json").read_text())
    frame["server_time"] = "yesterday"

    assert (
        validate_frames.problem(document, frame) == "server_time: 'yesterday' is not a 'date-time'"
    )
    schema = {k: v for k, v in document.items() if k != "anyOf"} | {"$ref": "#/$defs/ServerMessage"}
    assert Draft202012Validator(schema).is_valid(frame)  # no format checker: passes


def test__missing_field__named_through_the_message_definition() -> None:
    frame = {"type": "pong", "data": {"server_time": 1.5, "client_time": None}}

    assert (
        validate_frames.problem(json_schema("v3"), frame)
        == "(frame): 'timestamp' is a required property"
    )


def test__page__names_every_served_document() -> None:
    for version in VERSIONS:
        assert f"`/schema/{version.name}.json`" in DOC
        assert f"`/asyncapi/{version.name}.json`" in DOC
    assert "`/asyncapi.json`" in DOC
