"""The package layout holds: stages import only stages below them, and no module imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

WORKER = ROOT / "worker"

# Rank of each stage, lowest first. A module may import its own package and packages of a
# lower rank; two packages of one rank never import each other (intake and judge know nothing
# of one another, and neither do the service and the review page).
RANKS = {
    "worker": 0,  # shared helpers: config, errors, failpoints, mimepolicy, yamlfile
    "worker.store": 1,
    "worker.intake": 2,
    "worker.judge": 2,
    "worker.reply": 3,
    "worker.service": 4,
    "worker.review": 4,
    "worker.cli": 5,
    "worker.__main__": 6,
}

SHARED = {"__init__", "__main__", "cli", "config", "errors", "failpoints", "mimepolicy", "yamlfile"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> str:
    """The stage package a module belongs to: the longest key of RANKS it falls under."""
    return max((key for key in RANKS if module == key or module.startswith(key + ".")), key=len)


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The worker modules a file imports (`from worker.x import y` also counts worker.x.y)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    known = {module_name(p) for p in WORKER.rglob("*.py") if "migrations" not in p.parts}
    return {name for name in found if name in known}


def sources() -> list[Path]:
    # Alembic's migration scripts are data that Alembic loads, not modules of the package.
    return sorted(p for p in WORKER.rglob("*.py") if "migrations" not in p.parts)


def test_no_stage_imports_a_stage_above_or_beside_it() -> None:
    wrong = []
    for path in sources():
        here = stage(module_name(path))
        for target in imports(path, top_level_only=False):
            there = stage(target)
            if there != here and RANKS[there] >= RANKS[here]:
                wrong.append(f"{module_name(path)} imports {target}")
    assert wrong == []


def test_only_shared_helpers_stand_beside_the_stage_packages() -> None:
    loose = {p.stem for p in WORKER.glob("*.py")}
    folders = {p.name for p in WORKER.iterdir() if (p / "__init__.py").is_file()}
    assert loose == SHARED
    assert {f"worker.{name}" for name in folders} == set(RANKS) - {"worker", "worker.cli"} - {
        "worker.__main__"
    }


def test_no_import_cycle_between_modules() -> None:
    graph = {module_name(p): imports(p, top_level_only=True) for p in sources()}
    state: dict[str, int] = {}  # 1 while on the path, 2 when done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_every_package_says_what_it_is_for() -> None:
    for init in WORKER.rglob("__init__.py"):
        if "migrations" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init} has no docstring"
