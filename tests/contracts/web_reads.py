"""What the browser client (``web/src``, protocol v3) reads, from its TypeScript sources.

The browser client cannot run pact-python, and its reads are TypeScript
types (``string | null``, ``unknown``), which a pact's one-example-per-read
cannot state. So ``web_reads.mjs`` asks the TypeScript type checker which
properties of which server frames the client's code touches, and this module
turns that into a :class:`Contract` in the JSON contract format
(``docs/contracts.md``). The provider verification checks every real frame
of each type against it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from agentsocket.protocol.contracts import NO_VALUE, Contract, Expectation, Read
from tests.contracts.pacts import ROOT

CONSUMER = "web"
VERSION = "v3"
SCRIPT = Path(__file__).with_name("web_reads.mjs")
TSCONFIG = ROOT / "web" / "tsconfig.json"
TYPESCRIPT = ROOT / "node_modules" / "typescript"


def missing_tools() -> str | None:
    """Why the TypeScript extraction cannot run here, or ``None``."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not TYPESCRIPT.is_dir():
        return "node_modules/typescript is missing (run `npm ci`)"
    if not TSCONFIG.is_file():
        return "web/tsconfig.json is missing"
    return None


def extract() -> dict[str, dict[str, dict[str, object]]]:
    """Run ``web_reads.mjs``: frame type → path → {kinds, equals?, files}."""
    result = subprocess.run(
        ["node", str(SCRIPT), str(TSCONFIG)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"web_reads.mjs failed:\n{result.stderr}")
    reads: dict[str, dict[str, dict[str, object]]] = json.loads(result.stdout)["messages"]
    return reads


def contract(reads: dict[str, dict[str, dict[str, object]]]) -> Contract:
    """The browser client's v3 contract from :func:`extract`'s output."""
    expectations = []
    for message, paths in sorted(reads.items()):
        expectations.append(
            Expectation(
                message,
                tuple(
                    Read(
                        path,
                        frozenset(str(kind) for kind in spec["kinds"]),  # type: ignore[attr-defined]
                        equals=spec.get("equals", NO_VALUE),
                        note="read in " + ", ".join(spec["files"]),  # type: ignore[arg-type]
                    )
                    for path, spec in sorted(paths.items())
                ),
                note="web/src: found by the TypeScript type checker",
            )
        )
    return Contract(CONSUMER, VERSION, tuple(expectations))


def contract_path(directory: Path = ROOT / "contracts") -> Path:
    return directory / f"{CONSUMER}-{VERSION}-agentsocket.json"
