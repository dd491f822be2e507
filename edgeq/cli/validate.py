"""``edgeq validate``: prove a generated artifact computes what TensorFlow Lite Micro computes."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edgeq.cli.common import stdout
from edgeq.cli.options import JsonFile
from edgeq.errors import EdgeqError


def validate(
    model: Path = typer.Argument(..., help="A .tflite file: int8, int16x8, float32, or int8 with float ops."),
    engine: str = typer.Option("c", "--engine", help="What to validate: c (edgeq's C engine)."),
    samples: int = typer.Option(100, "--samples", "-n", help="Number of inputs to compare."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random inputs."),
    data: Path = typer.Option(None, "--data", help="Float samples (.npz x, .npy, .csv, images) instead."),
    json_path: JsonFile = None,
    as_json: bool = typer.Option(False, "--print-json", help="Print the result as JSON."),
) -> None:
    """Compile the model's C engine for this machine and compare it with TFLite Micro, byte for byte.

    Integer outputs must be identical. float32 outputs agree when |engine - TFLM| <= 1e-5 x (1 + |TFLM|)
    for every value: the engine's float kernels add and multiply in TFLM's reference order, and what
    is left are libm's last bits (expf, tanhf, logf)."""
    from edgeq.engine.validate import FLOAT_TOLERANCE, validate_engine
    from edgeq.errors import InputError
    from edgeq.outputs import check_output_file

    if engine != "c":
        raise InputError(f"unknown --engine {engine!r}: choose c (edgeq's C engine)")
    if json_path is not None:
        check_output_file(json_path)
    result = validate_engine(model, samples=samples, seed=seed, data=data)
    if json_path is not None:
        result.save(json_path)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        verdict = "[green]identical[/green]" if result.identical else "[red]DIFFERENT[/red]"
        relative = result.max_float_relative_difference
        if not result.identical and result.agrees and relative is not None:
            verdict = (
                f"[green]within the float tolerance[/green] (largest |engine - TFLM| / (1 + |TFLM|) "
                f"{relative:.2g} <= {FLOAT_TOLERANCE:g}: libm's last bits)"
            )
        against = "TensorFlow Lite Micro"
        if result.second_reference is not None:  # an int4 file TFLM refuses: its int8 twin is the oracle
            against += " on the file's int8 twin (same weights as INT8; TFLM refuses int4)"
        stdout.print(
            f"{model}: edgeq C engine vs {against} on {result.samples} inputs ({result.inputs}): {verdict}"
        )
        stdout.print(
            f"  {result.identical_samples}/{result.samples} outputs identical, {result.differing_bytes:,} of "
            f"{result.total_bytes:,} bytes differ, max abs difference {result.max_abs_difference:g}"
        )
        if result.first_difference:
            first = result.first_difference
            stdout.print(
                f"  first difference: input {first['sample']}, output element {first['element']}: "
                f"engine {first['engine']}, TFLM {first['tflm']}"
            )
        if result.second_reference is not None:
            stdout.print(f"  also vs {result.second_reference.summary()}")
        stdout.print(f"  {result.memory.summary()}")
        stdout.print(f"  compiled with {result.compiler}")
    if not result.agrees:
        raise EdgeqError(
            f"the engine's outputs differ from TFLite Micro's in {result.differing_bytes} bytes: "
            "please report this with the model"
        )
