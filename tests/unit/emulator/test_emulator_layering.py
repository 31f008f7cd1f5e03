"""The emulator's modules import one way (no cycles) and never import the product."""

from __future__ import annotations

import ast
from pathlib import Path

import zoho_emulator

PACKAGE = Path(zoho_emulator.__file__).parent


def _imports(path: Path) -> set[str]:
    """Emulator modules a module imports, at any depth of the file (local imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zoho_emulator."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in PACKAGE.glob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path, node, dep]
            if dep not in state and (found := visit(dep, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_cycle_between_emulator_modules() -> None:
    graph = _graph()
    assert "state" in graph["records"]  # the walk sees relative imports
    assert _cycle(graph) is None


def test_lower_modules_do_not_import_state() -> None:
    graph = _graph()
    for low in ("oauth", "render", "validation", "users", "store", "schema", "config"):
        assert "state" not in graph[low], low


def test_no_type_checking_guards() -> None:
    for path in PACKAGE.glob("*.py"):
        assert "TYPE_CHECKING" not in path.read_text(encoding="utf-8"), path.name


def test_emulator_never_imports_the_product() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("pipeline", "connectors"), path.name
