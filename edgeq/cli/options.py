"""Options several commands share, declared once as ``Annotated`` types; ``--debug`` is the root's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Force = Annotated[bool, typer.Option("--force", help="Replace the output folder if it exists.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of a table.")]
JsonFile = Annotated[Path, typer.Option("--json", help="Also write the result to this JSON file.")]
Verbose = Annotated[bool, typer.Option("--verbose", help="Show TensorFlow's own log output.")]
OutputFolder = Annotated[
    Path, typer.Option("-o", "--output", help="Folder to write (must not exist, unless --force).")
]
