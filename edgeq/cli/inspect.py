"""``edgeq inspect``: ops, parameters, MACs, memory and target compatibility of a .tflite file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from edgeq.cli.common import stdout
from edgeq.cli.options import AsJson


def inspect(
    model: Path = typer.Argument(..., help="A .tflite file."),
    as_json: AsJson = False,
) -> None:
    """Describe a .tflite model and check, by running it, whether TFLite Micro, LiteRT and edgeq's C
    engine run it."""
    from edgeq.inspection import ENGINE_RUN_SAMPLES
    from edgeq.inspection import inspect as inspect_model

    result = inspect_model(model)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    graph = result.graph
    stdout.print(f"[bold]{model}[/bold]: {graph.size_bytes:,} bytes, sha256 {graph.sha256[:16]}...")
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("#", "op", "v", "output", "params", "MACs", "engine", "details"):
        table.add_column(column, justify="right" if column in ("#", "v", "params", "MACs") else "left")
    engine_ops = result.engine_ops or (None,) * len(result.operators)
    for op, reason in zip(result.operators, engine_ops, strict=True):
        table.add_row(
            str(op.index), op.opcode, str(op.version), "x".join(map(str, op.output_shape)) or "scalar",
            f"{op.parameters:,}", f"{op.macs:,}", "yes" if reason is None else "[red]no[/red]", op.summary,
        )  # fmt: skip
    stdout.print(table)
    for kind in ("inputs", "outputs"):
        for tensor in result.io(kind):
            quant = (
                ""
                if tensor["scale"] is None
                else f", scale {tensor['scale']:.6g}, zero point {tensor['zero_point']}"
            )
            stdout.print(f"{kind[:-1]}: {tensor['name']} {tensor['dtype']} {tensor['shape']}{quant}")
    stdout.print(
        f"totals: {len(result.operators)} ops, {result.parameters:,} parameters "
        f"({result.weight_bytes:,} bytes of weights), {result.macs:,} MACs per inference "
        f"(shapes {result.shapes})"
    )
    quant = result.quantization
    stdout.print(
        f"quantization: {quant.scheme}; weights per-channel {quant.per_channel_weights}, "
        f"per-tensor {quant.per_tensor_weights}"
        + (f"; float ops {', '.join(quant.float_ops)}" if quant.float_ops else "")
    )
    stdout.print(
        f"activation memory, TFLite Micro-style plan (no overlaps): {result.memory.peak_bytes:,} bytes "
        f"(at least {result.memory.lower_bound_bytes:,} alive at once)"
    )
    tflm = result.tflm
    if tflm.runs and tflm.arena is not None:
        arena = tflm.arena
        from edgeq.mcu.bundle import default_margin

        stdout.print(
            f"TFLite Micro: runs; minimum tensor arena {arena.minimum_bytes:,} bytes, measured "
            f"({arena.minimum_bytes - 1:,} fails) — {arena.note}; edgeq export mcu adds a margin of "
            f"{default_margin(arena.minimum_bytes):,} bytes for optimized kernels' scratch buffers"
        )
    else:
        op = f" (op {tflm.failing_op})" if tflm.failing_op else ""
        stdout.print(f"TFLite Micro: [red]does not run[/red]{op}: {tflm.reason}")
    twin = result.tflm_int8_twin
    if twin is not None:
        stdout.print(
            f"TFLite Micro, int4 weights unpacked to int8 (the int8 twin): runs; minimum tensor arena "
            f"{twin.arena.minimum_bytes:,} bytes, and twice the weights' flash"
            if twin.runs and twin.arena is not None
            else f"TFLite Micro, int4 weights unpacked to int8: does not run either: {twin.reason}"
        )
    for op, reason in zip(result.operators, engine_ops, strict=True):
        if reason is not None:
            stdout.print(f"edgeq C engine, op {op.index} ({op.opcode}): {reason}")
    stdout.print(result.engine.summary())
    run = result.engine_run
    if run is not None:
        checked = f"{ENGINE_RUN_SAMPLES} seeded inputs, against TensorFlow Lite Micro" + (
            " on the int8 twin" if twin is not None else ""
        )
        if run.runs:
            how = run.reason or "outputs identical"
            stdout.print(f"edgeq C engine: runs (compiled with gcc here; {how} on {checked})")
        else:
            stdout.print(f"edgeq C engine: [red]not checked by running[/red]: {run.reason}")
    litert = result.litert
    stdout.print(
        "LiteRT CPU: runs" if litert.runs else f"LiteRT CPU: [red]does not run[/red]: {litert.reason}"
    )
    if result.flex_ops:
        stdout.print(
            f"[red]Flex ops[/red] (need the TensorFlow runtime, not on MCUs): {', '.join(result.flex_ops)}"
        )
    if result.custom_ops:
        stdout.print(f"custom ops (need your own kernels): {', '.join(result.custom_ops)}")
