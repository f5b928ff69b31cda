"""The worker and the runs package stand apart from the gateway: no import of agentsocket.server.

Checked by parsing the source: every module reachable through imports from
``agentsocket.worker`` (and from ``agentsocket.runs``) is followed, so an
import of the server through any intermediate module fails the test too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agentsocket

PACKAGE_ROOT = Path(agentsocket.__file__).resolve().parent


def _source(module: str) -> Path | None:
    parts = module.split(".")[1:]
    base = PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, path: Path) -> set[str]:
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from agentsocket.x import y` may import the submodule y.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "agentsocket" or name.startswith("agentsocket.")}


def reachable(start: str) -> dict[str, str]:
    """Every agentsocket module imported, directly or not, from ``start``: module -> importer."""
    seen: dict[str, str] = {start: ""}
    todo = [start]
    while todo:
        module = todo.pop()
        path = _source(module)
        if path is None:
            continue
        for imported in _imports(module, path):
            # Importing a.b.c runs a/__init__ and a/b/__init__ first.
            parts = imported.split(".")
            for depth in range(2, len(parts) + 1):
                name = ".".join(parts[:depth])
                if name not in seen and _source(name) is not None:
                    seen[name] = module
                    todo.append(name)
    return seen


@pytest.mark.parametrize("start", ["agentsocket.worker", "agentsocket.runs"])
def test__no_import_of_the_server(start: str) -> None:
    modules = reachable(start)
    assert "agentsocket.runs.executors" in modules  # the walk follows the package
    server = {m: by for m, by in modules.items() if m.startswith("agentsocket.server")}
    assert server == {}, f"imported from {start} (module: importer): {server}"


def test__the_check_sees_a_server_import() -> None:
    # The gateway's run service imports the server, so the walk must find it there.
    modules = reachable("agentsocket.server.runs")
    assert "agentsocket.server.router" in modules
    assert "agentsocket.runs.executors" in modules
