"""``edgeq run edgeq.toml``: convert → inspect → export → bench → report, as configured."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from edgeq.cli.common import progress, stdout
from edgeq.errors import BenchFailure


def run(
    config: Path = typer.Argument(Path("edgeq.toml"), help="The configuration file (default: edgeq.toml)."),
    force: bool = typer.Option(False, "--force", help="Redo every stage, also those with unchanged inputs."),
) -> None:
    """Run the stages an edgeq.toml configures, reusing those whose inputs have not changed."""
    from edgeq.pipeline import run_pipeline
    from edgeq.runconfig import load_config

    result = run_pipeline(load_config(config), force=force, progress=progress)
    table = Table(title=f"edgeq run: {result.output}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "status", "seconds", "outputs"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    failure = result.bench_failure
    for stage in result.stages:
        status = "[dim]reused[/dim]" if stage.status == "reused" else "ran"
        if stage.name == "bench" and failure is not None:
            status += ", [red]failed in part[/red]"
        table.add_row(stage.name, status, f"{stage.seconds:.1f}", ", ".join(stage.outputs))
    stdout.print(table)
    reused = [s.name for s in result.stages if s.status == "reused"]
    if reused:
        stdout.print(f"  reused (inputs unchanged): {', '.join(reused)}; --force redoes them")
    report = result.output / "report.html"
    if report.exists():
        stdout.print(f"  report: {report}")
    if failure is not None:
        # what succeeded is kept (bench.json has every row); the exit code is edgeq bench's
        raise BenchFailure(
            failure.target,
            f"the bench stage failed in part: {failure.reason}; the rows that passed are in "
            f"{result.output / 'bench.json'}",
            failure.exit_code,
        )
