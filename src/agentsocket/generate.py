"""Every generated file of the repository: what it is made from and which command makes it.

``agentsocket generate`` writes them all, ``agentsocket generate --check`` (CI)
fails listing any that is stale, missing or not generated. ``GENERATED.md`` is
itself generated from :data:`TARGETS` and :data:`OTHERS`, so the list cannot
drift from what the command does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OTHERS", "TARGETS", "Other", "Target", "generated_md"]


@dataclass(frozen=True)
class Target:
    """Files that ``agentsocket generate`` writes from Python code.

    Attributes:
        path: A directory relative to the repository root.
        names: The generated files in ``path``; None when every file under
            ``path`` is generated (others are then reported as not generated).
        source: What the files are made from, for readers.
        command: The narrower command that regenerates only these files.
        files: Relative path (under ``path``) → content.
    """

    path: str
    names: tuple[str, ...] | None
    source: str
    command: str
    files: Callable[[], dict[str, bytes]]

    @property
    def whole(self) -> bool:
        """Every file under ``path`` is generated."""
        return self.names is None


@dataclass(frozen=True)
class Other:
    """Generated files that another tool makes; listed in GENERATED.md."""

    paths: str
    source: str
    command: str
    checked: str


def _golden() -> dict[str, bytes]:
    from agentsocket.protocol.golden import golden_frames

    return golden_frames()


def _protocol_docs() -> dict[str, bytes]:
    from agentsocket.protocol.reference import generated_docs

    return generated_docs()


def _configuration() -> dict[str, bytes]:
    from agentsocket.server.configuration_doc import configuration_markdown

    return {"configuration.md": configuration_markdown().encode()}


def _metrics() -> dict[str, bytes]:
    from agentsocket.metrics_doc import metrics_markdown

    return {"metrics.md": metrics_markdown().encode()}


def _generated_md() -> dict[str, bytes]:
    return {"GENERATED.md": generated_md().encode()}


TARGETS: tuple[Target, ...] = (
    Target(
        "golden",
        None,
        "the message models and their examples (`agentsocket.protocol.examples`), "
        "converted to every version",
        "agentsocket protocol golden --write",
        _golden,
    ),
    Target(
        "docs/protocol",
        None,
        "the models, version changes and golden frames (`agentsocket.protocol.reference`, "
        "`agentsocket.protocol.asyncapi`); the AG-UI mapping data and event schemas "
        "(`agentsocket.protocol.ag_ui`, `ag_ui_docs`, `asyncapi_ag_ui`)",
        "agentsocket docs build",
        _protocol_docs,
    ),
    Target(
        "docs",
        ("configuration.md",),
        "`agentsocket.server.settings.Settings`: names, types, defaults, descriptions "
        "(`agentsocket.server.configuration_doc`)",
        "agentsocket generate",
        _configuration,
    ),
    Target(
        "docs",
        ("metrics.md",),
        "the gateway's and the worker's Prometheus registries: names, types, labels, help "
        "(`agentsocket.metrics_doc`)",
        "agentsocket generate",
        _metrics,
    ),
    Target(
        ".",
        ("GENERATED.md",),
        "this list (`agentsocket.generate`)",
        "agentsocket generate",
        _generated_md,
    ),
)

OTHERS: tuple[Other, ...] = (
    Other(
        "`web/src/protocol.d.ts`, `web/src/codes.ts`, `src/agentsocket/web/static/*.js`",
        "the v3 JSON Schema (json2ts) and `CloseCode`; the scripts compiled from "
        "`web/src/*.ts` (tsc)",
        "scripts/build-web.sh",
        "`agentsocket generate --check` (it runs `scripts/build-web.sh --check`)",
    ),
    Other(
        "`contracts/*.json`",
        "the consumers' declared reads (`tests/contracts/*_reads.*`) as pact V4 message pacts",
        ".venv/bin/pytest tests/contracts",
        "`tests/contracts` under `CI=true` fails when one is stale",
    ),
    Other(
        "`schemas/v*.json`",
        "each released version's JSON Schema, frozen at its release and written only by "
        "a release (the breaking-change gate compares today's models against them)",
        "agentsocket schema snapshot --write",
        "`agentsocket schema check`",
    ),
)


def _files_of(target: Target) -> str:
    if target.names is None:
        return f"`{target.path}/` (every file)"
    prefix = "" if target.path == "." else f"{target.path}/"
    return ", ".join(f"`{prefix}{name}`" for name in target.names)


def generated_md() -> str:
    """The text of ``GENERATED.md``: every generated file, its source, its command."""
    rows = [
        [_files_of(t), t.source, f"`{t.command}`", "`agentsocket generate --check`"]
        for t in TARGETS
    ]
    rows += [[o.paths, o.source, f"`{o.command}`", o.checked] for o in OTHERS]
    table = ["| files | generated from | regenerate | checked by |", "|---|---|---|---|"]
    table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines = [
        "# Generated files",
        "",
        "<!-- Generated by `agentsocket generate` from `agentsocket.generate`. Do not edit. -->",
        "",
        "These files are made by code; edit their source, then regenerate. One command "
        "writes all of them, and CI (`scripts/test.sh`) runs it with `--check`, which "
        "exits 1 listing every stale, missing or stray file:",
        "",
        "```sh",
        ".venv/bin/agentsocket generate            # write every generated file",
        ".venv/bin/agentsocket generate --check    # compare only (CI)",
        "```",
        "",
        "It runs from the repository root and needs `npm ci` for the web build "
        "(`--no-web` skips it).",
        "",
        *table,
    ]
    return "\n".join(lines) + "\n"
