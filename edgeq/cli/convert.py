"""``edgeq convert``: Keras → TensorFlow Lite in one or every quantization mode, with a report."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeq.cli.common import parse_floats, print_convert_result, progress, stderr, stdout
from edgeq.cli.options import AsJson, Force, OutputFolder, Verbose


def convert(
    model: Path = typer.Argument(..., help="A .keras file, a Keras 2 .h5 file or a SavedModel folder."),
    output: OutputFolder = ...,
    mode: str = typer.Option(
        "int8",
        "--mode",
        "-m",
        help="float32, float16, dynamic, int8, int16x8, int4, dynamic-int4, dynamic-int2, a "
        "comma-separated list, or all (the first five, int8 also with float I/O).",
    ),
    block: int = typer.Option(
        None,
        "--block",
        help="dynamic-int4: one scale per block of 32, 64 or 128 weights (default per channel).",
    ),
    io: str = typer.Option("auto", "--io", help="auto (integer I/O for int8/int16x8) or float."),
    calib: str = typer.Option(
        None,
        "--calib",
        help="Calibration data: .npz (x[, y]; file.npz:NAME reads x_NAME), .npy, .csv or image folder.",
    ),
    eval_data: str = typer.Option(
        None, "--eval", help="Evaluation data, same formats; labels give top-1 accuracy."
    ),
    calib_samples: int = typer.Option(200, "--calib-samples", help="Calibration samples drawn (seeded)."),
    eval_samples: int = typer.Option(
        None, "--eval-samples", help="Evaluate on this many samples (default: all)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling."),
    scale: float = typer.Option(None, "--scale", help="Preprocessing: multiply inputs by this first."),
    mean: str = typer.Option(None, "--mean", help="Preprocessing: subtract (one value or one per channel)."),
    std: str = typer.Option(None, "--std", help="Preprocessing: then divide (one value or one per channel)."),
    unsafe: bool = typer.Option(
        False, "--unsafe", help="Allow Lambda layers (runs code stored in the model)."
    ),
    custom_objects: Path = typer.Option(None, "--custom-objects", help="Python file defining custom layers."),
    dynamic_batch: bool = typer.Option(
        False, "--dynamic-batch", help="Keep the Keras batch dimension (default: fixed to 1, static shapes)."
    ),
    layer_report: bool = typer.Option(
        False, "--layer-report", help="Rank each int8 op's quantization error, named by Keras layer."
    ),
    max_drop: float = typer.Option(
        None,
        "--max-drop",
        help="Keep the most harmful ops in float until top-1 is within this many points of the float "
        "model (relative L2 error for non-classifiers); needs --eval.",
    ),
    max_trials: int = typer.Option(16, "--max-trials", help="Conversions --max-drop may try."),
    per_channel_dense: bool = typer.Option(
        False,
        "--per-channel-dense",
        help="int8/int16x8: quantize FULLY_CONNECTED weights per channel (default per tensor: "
        "TFLite Micro then keeps no per-channel multipliers in its arena).",
    ),
    force: Force = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Convert a Keras model to TensorFlow Lite and report what quantization cost and saved.

    A mode the converter refuses or crashes on is a FAILED row with its reason; the other modes
    are still written. Exit codes: 0 every mode converted; 2 some mode was refused (the model
    needs ops that mode cannot express); 1 the converter failed or crashed on some mode (the
    largest applies; with no mode converted nothing is written and the same codes apply).
    """
    from edgeq.api import convert as convert_model
    from edgeq.conversion.modes import parse_modes
    from edgeq.conversion.quiet import set_verbose
    from edgeq.outputs import check_output_dir

    set_verbose(verbose)
    from edgeq.api import check_accuracy_options

    check_accuracy_options(
        parse_modes(mode, io, block), layer_report, max_drop, max_trials, eval_data is not None
    )
    check_output_dir(output, force)
    result = convert_model(
        model,
        calib=calib,
        eval=eval_data,
        mode=mode,
        io=io,
        calib_samples=calib_samples,
        eval_samples=eval_samples,
        seed=seed,
        scale=scale,
        mean=parse_floats("--mean", mean),
        std=parse_floats("--std", std),
        unsafe=unsafe,
        custom_objects=custom_objects,
        layer_report=layer_report,
        max_drop=max_drop,
        max_trials=max_trials,
        per_channel_dense=per_channel_dense,
        progress=None if as_json else progress,
        block=block,
    )
    result.save(output, force=force)
    print_convert_result(result, as_json)
    if not as_json:
        files = f"{len(result.modes)} .tflite file" + ("s" if len(result.modes) > 1 else "")
        stdout.print(f"wrote {output}/: {files}, report.json, report.md")
    if not result.ok:
        failed = ", ".join(failure.label for failure in result.failures)
        stderr.print(
            f"error: {len(result.failures)} mode(s) failed ({failed}): see the notes", soft_wrap=True
        )
        raise typer.Exit(result.exit_code)
