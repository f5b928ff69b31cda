"""docs/client.md: its code is the example file the e2e suite runs; its tree is complete."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import agentsocket.client.errors as errors
from agentsocket.client import ClientError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "client.md"
EXAMPLE = ROOT / "docs" / "examples" / "client" / "sdk_quickstart.py"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test__every_python_block__is_part_of_the_example_file() -> None:
    source = EXAMPLE.read_text()
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 2
    for block in blocks:
        assert any(textwrap.indent(block, " " * depth) in source for depth in (0, 4, 8)), block


def test__example_file__linked_from_the_doc() -> None:
    assert "(examples/client/sdk_quickstart.py)" in DOC.read_text()


def test__error_tree__every_exception_named() -> None:
    doc = DOC.read_text()
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, ClientError) and cls.__module__ == errors.__name__:
            assert f"── {cls.__name__}" in doc or cls is ClientError, cls
