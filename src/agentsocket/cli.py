"""The ``agentsocket`` command line: serve, protocol tools, chat.

Imports of heavy subsystems happen inside each command so ``agentsocket
schema export`` starts fast and works without a server stack.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

app = typer.Typer(help="agentsocket: a WebSocket gateway for AI-agent chat.", no_args_is_help=True)
schema_app = typer.Typer(help="JSON Schema of the protocol.", no_args_is_help=True)
protocol_app = typer.Typer(help="Protocol artefacts: golden frames.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(protocol_app, name="protocol")


@schema_app.command("export")
def schema_export(
    version: Annotated[str, typer.Option(help="Protocol version, e.g. v2.")] = "v3",
    output: Annotated[Path | None, typer.Option(help="File to write; stdout if omitted.")] = None,
) -> None:
    """Print (or write) the JSON Schema (draft 2020-12) of one protocol version."""
    from agentsocket.protocol import UnsupportedVersionError
    from agentsocket.protocol.schema import json_schema

    try:
        document = json_schema(version)
    except UnsupportedVersionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.buffer.write(text)
    else:
        output.write_bytes(text)


@protocol_app.command("golden")
def protocol_golden(
    directory: Annotated[Path, typer.Option(help="Where the golden frames live.")] = Path("golden"),
    write: Annotated[bool, typer.Option(help="Rewrite the files instead of checking.")] = False,
) -> None:
    """Check (or rewrite) the golden frames of every message in every version."""
    from agentsocket.protocol.golden import golden_frames

    expected = golden_frames()
    if write:
        for relative, content in expected.items():
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        for stale in set(_files(directory)) - set(expected):
            (directory / stale).unlink()
        typer.echo(f"wrote {len(expected)} golden frames to {directory}")
        return
    found = _files(directory)
    problems = [f"missing: {p}" for p in sorted(set(expected) - set(found))]
    problems += [f"stale: {p}" for p in sorted(set(found) - set(expected))]
    problems += [
        f"differs: {p}" for p in sorted(set(expected) & set(found)) if found[p] != expected[p]
    ]
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        typer.echo("run `agentsocket protocol golden --write` and review the diff", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(expected)} golden frames up to date")


def _files(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*.json")
    }


def main() -> None:  # pragma: no cover - console entry point
    app()
