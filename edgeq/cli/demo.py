"""``edgeq demo``: the end-to-end job on bundled data, as a first run on a new machine."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeq.cli.common import print_convert_result, progress, stdout
from edgeq.cli.options import AsJson, Force, Verbose


def demo(
    output: Path = typer.Option(Path("edgeq-demo"), "-o", "--output", help="Folder to write."),
    force: Force = False,
    epochs: int = typer.Option(30, "--epochs", help="Training epochs for the digits CNN."),
    seed: int = typer.Option(0, "--seed", help="Seed for training and sampling."),
    data: Path = typer.Option(None, "--data", help="Digits .npz (default: datasets/digits.npz)."),
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Train a small CNN on the bundled UCI digits, convert it in all six modes, compare them."""
    from edgeq.conversion.quiet import set_verbose
    from edgeq.demo import run_demo

    set_verbose(verbose)
    result = run_demo(
        output, force=force, epochs=epochs, seed=seed, data=data, progress=None if as_json else progress
    )
    print_convert_result(result, as_json)
    if not as_json:
        stdout.print(
            f"wrote {output}/: digits_cnn.keras, calib.npz, test.npz, {len(result.modes)} .tflite files, "
            "report.json, report.md"
        )
        stdout.print(
            f"try: edgeq convert {output}/digits_cnn.keras --calib {output}/calib.npz "
            f"--eval {output}/test.npz --scale 0.0625 --mode int8 -o out-int8/"
        )
