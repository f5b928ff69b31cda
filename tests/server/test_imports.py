"""``server/`` has no import circle: its modules form a DAG (TYPE_CHECKING imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import agentsocket.server

PACKAGE = "agentsocket.server"
ROOT = Path(agentsocket.server.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``agentsocket.server.*`` module ``path`` imports, at any level."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    modules = {f"{PACKAGE}.{p.stem}" for p in ROOT.glob("*.py") if p.stem != "__init__"}
    return {name for name in found if name in modules}


def _graph() -> dict[str, set[str]]:
    return {
        f"{PACKAGE}.{path.stem}": _imports(path)
        for path in ROOT.glob("*.py")
        if path.stem != "__init__"
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test__server_modules__import_no_circle() -> None:
    graph = _graph()
    assert f"{PACKAGE}.gateway" in graph
    assert graph[f"{PACKAGE}.session"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test__cycle_finder__finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
