"""The house plan (docs/development.md): rooms import only from the rooms below them, never back
up, with no cycle; Kafka stays in connectors/kafka and the worker's engine, Faust in the
worker (and the kernel's records), and the pure rooms stay free of I/O libraries."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# room -> the rooms of ours it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "orgsync_kernel": set(),
    "connectors.zoho": {"orgsync_kernel"},
    "connectors.kafka": {"orgsync_kernel"},
    "connectors.ingress": {"orgsync_kernel", "connectors.zoho", "connectors.kafka"},
    "pipeline.mapping": {"orgsync_kernel"},
    "pipeline.sync": {"orgsync_kernel", "connectors.zoho", "pipeline.mapping"},
    "pipeline.worker": {
        "orgsync_kernel",
        "connectors.zoho",
        "connectors.kafka",
        "pipeline.sync",
        "pipeline.mapping",
    },
    "orgsync_operations": {
        "orgsync_kernel",
        "connectors.zoho",
        "connectors.kafka",
        "connectors.ingress",
        "pipeline.sync",
        "pipeline.mapping",
    },
    "orgsync": {*"orgsync_kernel connectors.zoho connectors.kafka connectors.ingress".split()}
    | {"pipeline.mapping", "pipeline.sync", "pipeline.worker", "orgsync_operations"},
}
# third-party libraries only some rooms may use
RESTRICTED = {
    "aiokafka": {"connectors.kafka", "pipeline.worker"},
    "rocksdict": {"connectors.kafka"},
    "faust": {"orgsync_kernel", "pipeline.worker", "orgsync"},  # the runner builds the worker
    "mode": {"pipeline.worker", "orgsync"},
    "aiohttp": {"connectors.zoho", "connectors.ingress", "orgsync_operations", "orgsync"},
}
OURS = (
    "orgsync_kernel",
    "connectors",
    "pipeline",
    "orgsync_operations",
    "orgsync",
    "zoho_emulator",
)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in ("connectors", "pipeline") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0] if parts[0] in OURS else None


def modules() -> Iterator[tuple[str, Path]]:
    for package in ("orgsync_kernel", "connectors", "pipeline", "orgsync_operations", "orgsync"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), path


def imports(module: str, path: Path) -> set[str]:
    """Every module a file imports, at any depth (local imports count too), resolved."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            prefix = ".".join(base) if node.level else ""
            name = ".".join(p for p in (prefix, node.module or "") if p)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


GRAPH = {name: imports(name, path) for name, path in modules()}


def test_the_walk_sees_every_room_and_relative_imports() -> None:
    rooms = {room_of(name) for name in GRAPH}
    assert set(ALLOWED) <= rooms
    assert "connectors.kafka" in GRAPH["connectors.ingress.poller"]  # `from ..kafka import`


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_below_it(room: str) -> None:
    wrong = {
        (name, imported)
        for name, found in GRAPH.items()
        if room_of(name) == room
        for imported in found
        if (other := room_of(imported)) and other != room and other not in ALLOWED[room]
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("library", sorted(RESTRICTED))
def test_io_libraries_stay_in_their_rooms(library: str) -> None:
    wrong = {
        name
        for name, found in GRAPH.items()
        if any(i == library or i.startswith(f"{library}.") for i in found)
        and room_of(name) not in RESTRICTED[library]
    }
    assert not wrong, sorted(wrong)


def test_no_import_cycle_between_modules() -> None:
    known = set(GRAPH)
    edges = {n: {i for i in found if i in known and i != n} for n, found in GRAPH.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                return [*path, node, dep]
            if dep not in state and (found := visit(dep, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            assert visit(start, []) is None
