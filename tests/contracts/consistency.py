"""Is every server message everywhere it must be? Catalogue, docs, golden frames, contracts.

:func:`problems` takes everything it checks as arguments, so a test can hand
it a catalogue with an extra type and see it fail.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agentsocket.protocol import SERVER_MESSAGES, ServerMessage
from agentsocket.protocol.contracts import FORMAT, Contract
from agentsocket.protocol.schema import server_types
from agentsocket.protocol.versions import VERSIONS
from tests.contracts.pacts import read_pact

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Coverage:
    """Which message types some consumer's contract reads, by version."""

    reads: Mapping[str, frozenset[str]]

    @classmethod
    def of_files(cls, files: Iterable[Path]) -> Coverage:
        """From contract files: pacts of ours and JSON contracts."""
        found: dict[str, set[str]] = {}
        for path in files:
            document = json.loads(path.read_text())
            if document.get("format") == FORMAT:
                contract = Contract.from_json(document)
                found.setdefault(contract.version, set()).update(contract.messages)
            elif "interactions" in document:
                for version, message, _ in read_pact(path):
                    found.setdefault(version, set()).add(message)
        return cls({version: frozenset(names) for version, names in found.items()})


def expressible(version: str, message: str) -> bool:
    """Whether ``version`` can carry ``message``; a type the protocol does not know yet
    is expected in every version until a version change declares it dropped."""
    return message in server_types(version) or message not in SERVER_MESSAGES


def _section(markdown: str, title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    return found.group(1) if found else ""


def problems(
    catalogue: Mapping[str, type[ServerMessage]],
    *,
    golden_dir: Path,
    docs_dir: Path,
    coverage: Coverage,
    models: Iterable[Model] = (),
) -> list[str]:
    """Everything out of place, as sentences; empty when all is consistent.

    Args:
        catalogue: message type → model (``SERVER_MESSAGES``).
        golden_dir: ``golden/``, with ``<version>/server/<type>.json``.
        docs_dir: ``docs/protocol/``, with ``reference-<version>.md``.
        coverage: what the committed contracts read.
        models: server message models found in the source; each must be the
            catalogue's model of its tag.
    """
    found: list[str] = []
    for model in models:
        listed = catalogue.get(model.tag)
        if listed is None or listed.__name__ != model.name:
            found.append(f"{model.location}: {model.name} ({model.tag!r}) is not in the catalogue")
    for version in VERSIONS:
        name = version.name
        reference = (docs_dir / f"reference-{name}.md").read_text()
        described = set(
            re.findall(r"^### (\w+)$", _section(reference, "Server → client messages"), re.M)
        )
        not_here = _section(reference, "Not in this version")
        wires = server_types(name)
        golden = {path.stem for path in (golden_dir / name / "server").glob("*.json")}
        for message in catalogue:
            if not expressible(name, message):
                if f"`{message}` (server → client)" not in not_here:
                    found.append(
                        f"{name}: the drop of {message} is not documented in {reference_name(name)}"
                    )
                if message in golden:
                    found.append(f"{name}: {message} is dropped but has a golden frame")
                continue
            wire = wires.get(message, message)
            if message not in described and wire not in described:
                found.append(f"{name}: {message} is not described in {reference_name(name)}")
            if message not in golden:
                found.append(
                    f"{name}: {message} has no golden frame golden/{name}/server/{message}.json"
                )
            if message not in coverage.reads.get(name, frozenset()):
                found.append(f"{name}: no consumer contract reads {message}")
        for stale in sorted(golden - {m for m in catalogue if expressible(name, m)}):
            found.append(f"{name}: golden frame of {stale}, which {name} cannot carry")
        for message in sorted(coverage.reads.get(name, frozenset()) - set(catalogue)):
            found.append(f"{name}: a contract reads {message}, which is not in the catalogue")
    return found


def reference_name(version: str) -> str:
    return f"docs/protocol/reference-{version}.md"


@dataclass(frozen=True)
class Model:
    """A server message model found in the source: where, its class name, its tag."""

    location: str
    name: str
    tag: str


def declared_models(src: Path, catalogue: Mapping[str, type[ServerMessage]]) -> list[Model]:
    """Every class in ``src`` deriving from a server message model and naming a ``TYPE``."""
    bases = {"ServerMessage", "AgentEvent", *(cls.__name__ for cls in catalogue.values())}
    found = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            names = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if not names & bases:
                continue
            for statement in node.body:
                target = statement.target if isinstance(statement, ast.AnnAssign) else None
                value = statement.value if isinstance(statement, ast.AnnAssign) else None
                if (
                    isinstance(target, ast.Name)
                    and target.id == "TYPE"
                    and isinstance(value, ast.Constant)
                ):
                    location = f"{path.relative_to(src.parent).as_posix()}:{node.lineno}"
                    found.append(Model(location, node.name, str(value.value)))
    return found


def hand_built_frames(src: Path, skip: str = "protocol") -> list[str]:
    """Dict literals outside the protocol package that look like server frames:
    a ``type`` or ``event`` key whose value is a message name of some version."""
    names = {"system_message", *(w for v in VERSIONS for w in server_types(v).values())}
    found = []
    for path in sorted(src.rglob("*.py")):
        if skip in path.relative_to(src).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in {"type", "event"}
                    and isinstance(value, ast.Constant)
                    and value.value in names
                ):
                    where = f"{path.relative_to(src.parent).as_posix()}:{node.lineno}"
                    found.append(f"{where}: a hand-written {value.value!r} frame")
    return found
