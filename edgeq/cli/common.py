"""Console output shared by the commands: progress lines, the comparison table, option parsing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from edgeq.errors import InputError

if TYPE_CHECKING:
    from edgeq.results import ConvertResult

# Piped output (CI logs, files) gets room for the whole table instead of Rich's 80-column default.
stdout = Console(highlight=False)
if not stdout.is_terminal:
    stdout = Console(highlight=False, width=140)
stderr = Console(stderr=True, highlight=False)
if not stderr.is_terminal:
    stderr = Console(stderr=True, highlight=False, width=140)


def progress(message: str) -> None:
    stderr.print(f"[dim]· {message}[/dim]")


def parse_floats(option: str, text: str | None) -> tuple[float, ...] | None:
    """``"0.5"`` or ``"0.485,0.456,0.406"`` → a tuple of floats; raises InputError otherwise."""
    if text is None:
        return None
    from edgeq.checks import check_float32

    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"{option} takes a number or comma-separated numbers, got {text!r}") from None
    check_float32(values, option)
    return values


def print_convert_result(result: ConvertResult, as_json: bool) -> None:
    """The comparison table and its notes, or the report as JSON with ``as_json``."""
    from edgeq.results.markdown import (
        COLUMNS,
        LAYER_COLUMNS,
        LAYER_NOTE,
        accuracy_lines,
        command_name,
        failure_row,
        footnotes,
        layer_rows,
        mode_row,
        reference_row,
    )  # fmt: skip

    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    title = f"{command_name(result)}: {result.source['path']}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    shown = [i for i, column in enumerate(COLUMNS) if column != "file"]  # file names: see the report
    for index in shown:
        column = COLUMNS[index]
        table.add_column(column, justify="left" if column in ("mode", "I/O") else "right")
    reference = reference_row(result)
    if reference is not None:
        table.add_row(*[reference[i] for i in shown], style="dim")
    for mode in result.modes:
        row = mode_row(result, mode)
        table.add_row(*[row[i] for i in shown])
    for failure in result.failures:  # a mode the converter refused or crashed on: a row, not silence
        row = failure_row(failure)
        table.add_row(*[row[i] for i in shown], style="red")
    stdout.print(table)
    for note in footnotes(result):
        stdout.print(f"  {note}", soft_wrap=True)
    rows = layer_rows(result)
    if rows:
        layers = Table(title="per-layer int8 error, worst first", title_justify="left", box=box.SIMPLE_HEAD)
        for column in LAYER_COLUMNS:
            layers.add_column(column, justify="left" if column in ("op", "Keras layer") else "right")
        for row in rows:
            layers.add_row(*row)
        stdout.print(layers)
        stdout.print(f"  {LAYER_NOTE}", soft_wrap=True)
    for line in accuracy_lines(result):
        stdout.print(f"  {line}", soft_wrap=True)
