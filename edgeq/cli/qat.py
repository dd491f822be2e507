"""``edgeq qat``: quantization-aware fine-tuning on Keras 3, then a full int8 or int4-weight .tflite."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from edgeq.cli.common import parse_floats, print_convert_result, progress, stdout
from edgeq.cli.options import AsJson, Force, OutputFolder, Verbose


def qat(
    model: Path = typer.Argument(..., help="A .keras or Keras 2 .h5 file (trained, float)."),
    train: str = typer.Option(
        ...,
        "--train",
        help="Training data: .npz (x, y; file.npz:NAME reads x_NAME), .npy, .csv or image folder.",
    ),
    output: OutputFolder = ...,
    eval_data: str = typer.Option(None, "--eval", help="Evaluation data, same formats."),
    epochs: int = typer.Option(3, "--epochs", help="Fine-tuning epochs."),
    batch_size: int = typer.Option(32, "--batch-size", help="Training batch size."),
    learning_rate: float = typer.Option(1e-4, "--lr", help="Adam learning rate."),
    io: str = typer.Option("auto", "--io", help="auto (int8 input/output) or float."),
    weight_bits: int = typer.Option(
        8, "--weight-bits", help="8 (int8 weights) or 4 (int4 weights per channel, int8 activations)."
    ),
    calib_samples: int = typer.Option(
        200, "--calib-samples", help="Training samples used to calibrate ranges (and the PTQ comparison)."
    ),
    eval_samples: int = typer.Option(None, "--eval-samples", help="Evaluate on this many samples."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and training."),
    scale: float = typer.Option(None, "--scale", help="Preprocessing: multiply inputs by this first."),
    mean: str = typer.Option(None, "--mean", help="Preprocessing: subtract (one value or one per channel)."),
    std: str = typer.Option(None, "--std", help="Preprocessing: then divide (one value or one per channel)."),
    unsafe: bool = typer.Option(
        False, "--unsafe", help="Allow Lambda layers (runs code stored in the model)."
    ),
    custom_objects: Path = typer.Option(None, "--custom-objects", help="Python file defining custom layers."),
    force: Force = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Fine-tune with int8 (or int4-weight) fake quantization, convert, compare with plain PTQ."""
    from edgeq.api import check_qat_options
    from edgeq.api import qat as run_qat
    from edgeq.conversion.modes import parse_modes
    from edgeq.conversion.quiet import set_verbose
    from edgeq.outputs import check_output_dir

    set_verbose(verbose)
    parse_modes("int8", io)
    check_qat_options(weight_bits, io)
    check_output_dir(output, force)
    result = run_qat(
        model,
        train=train,
        eval=eval_data,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        io=io,
        calib_samples=calib_samples,
        eval_samples=eval_samples,
        seed=seed,
        scale=scale,
        mean=parse_floats("--mean", mean),
        std=parse_floats("--std", std),
        unsafe=unsafe,
        custom_objects=custom_objects,
        verbose=0 if as_json else (1 if sys.stdout.isatty() else 2),  # 2: one plain line per epoch
        progress=None if as_json else progress,
        weight_bits=weight_bits,
    )
    result.save(output, force=force)
    print_convert_result(result, as_json)
    if not as_json:
        bits = f"int{weight_bits}"
        stdout.print(
            f"wrote {output}/: 2 .tflite files (plain {bits} and QAT {bits}), report.json, report.md"
        )
