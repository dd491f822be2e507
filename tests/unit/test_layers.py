"""The package's layers run one way: no two edgeq modules or sub-packages import each other.

Every import is counted, at module level, under ``if TYPE_CHECKING`` or inside a function: a lazy
import is still a dependency. The units are the sub-packages (``edgeq.bench``) and the top-level
modules (``edgeq.api``); the package root's ``__init__`` only re-exports and is left out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import edgeq

ROOT = Path(edgeq.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(module: str) -> bool:
    relative = Path(*module.split("."))
    return (ROOT.parent / relative).with_suffix(".py").is_file() or (ROOT.parent / relative).is_dir()


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "edgeq" or len(parts) < 2:
        return None
    return parts[1]


def imported_modules(path: Path) -> set[str]:
    """Every edgeq module ``path`` imports, with ``from pkg import module`` resolved to the module."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if _exists(candidate) else source)
    return {module for module in found if module.startswith("edgeq")}


def dependency_edges() -> dict[str, dict[str, list[str]]]:
    """unit → unit it imports → the files (and modules) that do it."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "__init__.py":
            continue
        source = _unit(_module_name(path))
        for module in imported_modules(path):
            target = _unit(module)
            if target and source and target != source:
                edges[source][target].append(f"{path.relative_to(ROOT.parent)} imports {module}")
    return edges


def test_no_two_units_import_each_other():
    edges = dependency_edges()
    cycles = [
        f"{a} <-> {b}: {edges[a][b][0]}; {edges[b][a][0]}"
        for a in sorted(edges)
        for b in sorted(edges[a])
        if a < b and a in edges.get(b, {})
    ]
    assert not cycles, "two-way imports:\n" + "\n".join(cycles)


def test_nothing_below_the_cli_imports_it():
    offenders = [why for unit, targets in dependency_edges().items() if unit != "__main__"
                 for why in targets.get("cli", [])]  # fmt: skip
    assert not offenders, offenders


def test_the_import_walker_sees_lazy_and_type_checking_imports(tmp_path):
    module = ROOT / "bench" / "__init__.py"
    assert "edgeq.errors" in imported_modules(module)
    lazy = [m for m in imported_modules(ROOT / "api.py") if m.startswith("edgeq.conversion.")]
    assert lazy, "api.py's function-level imports of edgeq.conversion must be seen"


def test_no_module_over_700_lines():
    long = {
        str(path.relative_to(ROOT.parent)): lines
        for path in ROOT.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 700
    }
    assert not long, long
