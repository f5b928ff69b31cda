"""What both framework servers share: the scripted conversation and the record file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: The tool both agents have; the question makes the model call it.
TOOL_NAME = "multiply"
TOOL_ARGS = {"a": 6, "b": 7}


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def answer(result: str, prompts: list[str]) -> str:
    """The final answer: the tool's result and how many questions the model has seen."""
    return f"The product is {result}. Questions so far: {len(prompts)}."


def record(path: Path, prompts: list[str], answers: list[str]) -> None:
    """Append what the model was given to the record file."""
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"prompts": prompts, "answers": answers}) + "\n")


def arguments() -> tuple[int, Path]:
    """``PORT RECORD_FILE`` from the command line."""
    return int(sys.argv[1]), Path(sys.argv[2])
