"""Print the table of ops edgeq's C engine runs (per type), generated from the lowering registry;
with ``--write``, replace the README's copy (between the ``engine-ops`` markers) with it.

    .venv/bin/python tools/engine_ops_table.py [--write]
"""

from __future__ import annotations

import sys
from pathlib import Path

from edgeq.engine.generate import supported_ops_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- engine-ops:start -->", "<!-- engine-ops:end -->"


def replaced(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    table = supported_ops_markdown()
    if "--write" in argv:
        README.write_text(replaced(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
