"""The README's table of the engine's ops is the one the lowering registry generates."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import engine_ops_table  # noqa: E402

from edgeq.engine.generate import supported_kinds, supported_ops_markdown  # noqa: E402


def test_the_readme_lists_exactly_the_ops_the_registry_has():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inside = text.split(engine_ops_table.START, 1)[1].split(engine_ops_table.END, 1)[0]
    assert inside.strip() == supported_ops_markdown().strip(), (
        "the README's engine-ops table is stale: run .venv/bin/python tools/engine_ops_table.py --write"
    )


def test_the_table_has_a_row_per_op_with_its_kinds():
    table = supported_ops_markdown()
    for opcode, kinds in supported_kinds().items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {opcode} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
        if cells != ["alias"] * 3:
            assert [
                kind for kind, cell in zip(("int8", "int16", "float32"), cells, strict=True) if cell
            ] == list(kinds)
