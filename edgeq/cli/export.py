"""``edgeq export``: deployable artifacts: ``mcu`` a TFLite Micro bundle, ``android`` an Android module."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeq.cli.common import stderr, stdout
from edgeq.cli.options import Force, OutputFolder
from edgeq.engine.paths import CORES, PATHS

app = typer.Typer(help="Write deployable artifacts for a .tflite model.", no_args_is_help=True)


def _core_help() -> str:
    """Which cores pick which kernel path, from the engine's own table (so it cannot go stale)."""
    groups = [
        f"{', '.join(core for core, chosen in CORES.items() if chosen == path.name)} -> {path.description}"
        for path in PATHS.values()
    ]
    return (
        "--template c only: the core to generate the engine's kernels for (default portable, runs "
        f"anywhere). {'; '.join(groups)}."
    )


@app.command("mcu", no_args_is_help=True)
def mcu(
    model: Path = typer.Argument(..., help="A .tflite file (int8 for most microcontrollers)."),
    output: OutputFolder = ...,
    template: str = typer.Option(
        "plain",
        "--template",
        "-t",
        help="arduino, esp-idf, zephyr, tflm-cmake, plain (TFLite Micro) or c (edgeq's engine).",
    ),
    name: str = typer.Option(
        None, "--name", help="C identifier prefixing files and symbols (default: file name)."
    ),
    labels: Path = typer.Option(None, "--labels", help="Text file, one class label per line."),
    sample: Path = typer.Option(
        None, "--sample", help=".npy or .npz (x) whose first sample the self-test runs."
    ),
    arena_margin: int = typer.Option(
        None, "--arena-margin", help="Bytes added to the measured arena (default: 10 %, at least 1024)."
    ),
    core: str = typer.Option(None, "--core", help=_core_help()),
    force: Force = False,
) -> None:
    """A TensorFlow Lite Micro firmware bundle: model array, exact op resolver, measured arena;
    or, with --template c, edgeq's own C engine for one core's kernel path."""
    from edgeq.mcu.bundle import export_mcu

    result = export_mcu(
        model, output, template=template, name=name, labels=labels, sample=sample,
        arena_margin=arena_margin, force=force, core=core,
    )  # fmt: skip
    stdout.print(f"wrote {result.output}/ ({result.template}): {', '.join(result.files)}")
    if result.template == "c":
        stdout.print(result.kernels_summary())
        stdout.print(result.engine.summary())
        stdout.print(f"ops: {', '.join(result.ops)}")
        return
    stdout.print(f"op resolver: MicroMutableOpResolver<{len(result.ops)}> with {', '.join(result.ops)}")
    stdout.print(
        f"tensor arena: {result.arena.total:,} bytes = {result.arena.measured:,} measured in TFLite Micro "
        f"({result.arena.measured - 1:,} fails; 64-bit host build, an upper bound for 32-bit MCUs) "
        f"+ {result.arena.margin:,} margin"
    )


@app.command("android", no_args_is_help=True)
def android(
    model: Path = typer.Argument(
        ..., help="A .tflite classifier: one image or feature input, one score output."
    ),
    labels: Path = typer.Option(
        ..., "--labels", help="Text file, one class label per line, in output order."
    ),
    output: OutputFolder = ...,
    mean: str = typer.Option(
        None, "--mean", help="Normalization (pixel - mean) / std: one value or one per channel, e.g. 127.5."
    ),
    std: str = typer.Option(
        None, "--std", help="See --mean; required with it, and for float32 image inputs."
    ),
    name: str = typer.Option(
        None, "--name", help="Model name in the metadata and the code (default: file name)."
    ),
    version: str = typer.Option("1", "--version", help="Model version in the metadata."),
    author: str = typer.Option("unknown", "--author", help="Model author in the metadata."),
    description: str = typer.Option(
        None, "--description", help="Model description in the metadata (default: what the model classifies)."
    ),
    package: str = typer.Option(None, "--package", help="Kotlin package (default: com.example.<name>)."),
    input_kind: str = typer.Option(
        "auto",
        "--input",
        help="image (a Bitmap in, image metadata), features (values in: audio features, sensor data) or "
        "auto: an image when the input is NHWC with 1 or 3 channels and sides at most 4:1.",
    ),
    force: Force = False,
) -> None:
    """An Android Studio module: the model with TFLite metadata and labels, a Kotlin classifier, a README."""
    from edgeq.android.export import export_android
    from edgeq.cli.common import parse_floats

    result = export_android(
        model, output, labels, mean=parse_floats("--mean", mean), std=parse_floats("--std", std), name=name,
        version=version, author=author, description=description, package=package, force=force,
        input_kind=input_kind,
    )  # fmt: skip
    stdout.print(f"wrote {result.output}/: Android module {result.package}, class {result.class_name} "
                 f"({len(result.files)} files, see its README.md)")  # fmt: skip
    stdout.print(result.summary())
    if (warning := result.classifier.clamping()) is not None:
        stderr.print(f"warning: {warning}", soft_wrap=True)
