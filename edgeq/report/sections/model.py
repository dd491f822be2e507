"""The model as ``edgeq inspect`` describes each .tflite file: tensors, parameters, MACs, the
activation memory plan, whether each target runs it, and the operator table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edgeq.inspection import InspectReport
from edgeq.report import plots
from edgeq.report.document import (
    Block,
    Bullets,
    Cell,
    Columns,
    Facts,
    Heading,
    Missing,
    Plot,
    Plots,
    Table,
    Value,
)
from edgeq.report.figures import MACS_HOW, PARAMETERS_HOW, SIZE_HOW, kb_number
from edgeq.report.sections import Context


def blocks(context: Context) -> Iterator[Block]:
    modes = context.convert.modes
    order = {f"{Path(mode.file_name).stem}.json": i for i, mode in enumerate(modes)}
    inspections = sorted(
        context.folder.inspections, key=lambda item: (order.get(item[0], len(order)), item[0])
    )
    if not inspections:
        context.missing.append("inspect/")
        yield Missing(
            "No operator table",
            "no inspect/*.json in the folder: edgeq run writes them, or run "
            "edgeq inspect OUT/convert/MODEL.tflite --json > OUT/inspect/MODEL.json.",
        )
        return
    if len(inspections) > 1:
        yield _summary(context, [inspected for _, inspected in inspections])
    for index, (_, inspected) in enumerate(inspections):
        yield from _inspection(context, inspected, collapsed=index > 0)
    names = {name for name, _ in inspections}
    left_out = [mode.label for mode in modes if f"{Path(mode.file_name).stem}.json" not in names]
    if left_out:
        yield Bullets((f"Not inspected: {', '.join(left_out)} (no inspect/ file for it).",))


def _summary(context: Context, inspections: list[InspectReport]) -> Table:
    columns = ("file", "mode", "size KB", "ops", "parameters", "MACs", "activation plan KB",
               "TFLM arena KB", "C engine RAM KB", "LiteRT")  # fmt: skip
    notes = context.notes
    rows = []
    for inspected in inspections:
        arena = inspected.tflm.arena.minimum_bytes if inspected.tflm.arena else None
        engine = inspected.engine
        file = Path(inspected.path).name
        rows.append(
            [
                file,
                context.labels.get(file, "-"),
                notes.figure(f"{inspected.size_bytes / 1024:,.1f}", "measured", SIZE_HOW),
                str(len(inspected.operators)),
                notes.figure(f"{inspected.parameters:,}", "counted", PARAMETERS_HOW),
                notes.figure(f"{inspected.macs:,}", "counted", MACS_HOW),
                notes.figure(kb_number(inspected.memory.peak_bytes), "estimated", _plan_how(inspected)),
                notes.figure(kb_number(arena), "measured", _arena_how(inspected))
                if arena
                else Value("does not run", tone="bad"),
                notes.figure(kb_number(engine.activation_bytes), "counted", _engine_how(inspected))
                if engine.supported
                else Value("unsupported", tone="muted"),
                Value("runs", tone="good") if inspected.litert.runs else Value("fails", tone="bad"),
            ]
        )
    numeric = [column not in ("file", "mode", "LiteRT") for column in columns]
    return Table.of(columns, rows, numeric, caption="Inspected files")


def _inspection(context: Context, inspected: InspectReport, collapsed: bool) -> Iterator[Block]:
    notes, plan = context.notes, inspected.memory
    file = Path(inspected.path).name
    yield Heading(file + (f" · {context.labels[file]}" if file in context.labels else ""))
    size = f"{inspected.size_bytes:,} bytes, sha256 {inspected.sha256[:16]}…"
    facts: list[tuple[str, Cell]] = [("size", notes.figure(size, "measured", SIZE_HOW))]
    for kind, tensors in (("input", inspected.inputs), ("output", inspected.outputs)):
        for tensor in tensors:
            quant = (
                "" if tensor.scale is None else f", scale {tensor.scale:.6g}, zero point {tensor.zero_point}"
            )
            facts.append((kind, f"{tensor.name} {tensor.dtype} {list(tensor.shape)}{quant}"))
    weights = f"{inspected.parameters:,} ({inspected.weight_bytes:,} bytes of weights)"
    facts.append(("parameters", notes.figure(weights, "counted", PARAMETERS_HOW)))
    facts.append(("MACs per inference", notes.figure(f"{inspected.macs:,}", "counted", MACS_HOW)))
    quant = inspected.quantization
    floats = f"; float ops {', '.join(quant.float_ops)}" if quant.float_ops else ""
    split = f"weights per-channel {quant.per_channel_weights}, per-tensor {quant.per_tensor_weights}"
    facts.append(("quantization", f"{quant.scheme}; {split}{floats}"))
    planned = f"{plan.peak_bytes:,} bytes planned (at least {plan.lower_bound_bytes:,} alive at once)"
    facts.append(("activation memory", notes.figure(planned, "estimated", _plan_how(inspected))))
    facts += _targets(context, inspected)
    charts: tuple[Block, ...] = ()
    operators = inspected.operators
    if operators:
        live = plan.live_bytes_per_op
        svg = plots.per_operator(
            [f"{op.index} {op.opcode}" for op in operators],
            [op.macs for op in operators],
            [size / 1024 for size in live] if live else None,
        )
        sources = (
            notes.figure("MACs", "counted", MACS_HOW),
            notes.figure("live KB", "estimated", _plan_how(inspected)),
        )
        charts = (Plots((Plot("Work and activation memory per operator", svg, sources),)),)
    yield Columns((Facts.of(facts),), charts)
    columns = ["#", "op", "v", "output", notes.figure("params", "counted", PARAMETERS_HOW),
               notes.figure("MACs", "counted", MACS_HOW), "details"]  # fmt: skip
    rows = [
        [str(op.index), op.opcode, str(op.version), "x".join(map(str, op.output_shape)) or "scalar",
         f"{op.parameters:,}", f"{op.macs:,}", op.summary]
        for op in operators
    ]  # fmt: skip
    numeric = [True, False, True, False, True, True, False]
    yield Table.of(columns, rows, numeric, caption=f"Operators of {file} ({len(rows)})", collapsed=collapsed)


def _targets(context: Context, inspected: InspectReport) -> Iterator[tuple[str, Cell]]:
    tflm = inspected.tflm
    if tflm.runs and tflm.arena:
        arena = f"runs; minimum arena {tflm.arena.minimum_bytes:,} bytes"
        yield "TensorFlow Lite Micro", context.notes.figure(arena, "measured", _arena_how(inspected))
    else:
        op = f" at {tflm.failing_op}" if tflm.failing_op else ""
        yield "TensorFlow Lite Micro", Value(f"does not run{op}: {tflm.reason}", tone="bad")
    engine = inspected.engine
    if engine.supported:
        sizes = f"{engine.activation_bytes:,} bytes static RAM, {engine.constant_bytes:,} of constants"
        yield "edgeq C engine", context.notes.figure(sizes, "counted", _engine_how(inspected))
    else:
        yield "edgeq C engine", Value(f"not supported: {engine.reason}", tone="muted")
    litert = inspected.litert
    yield (
        "LiteRT CPU",
        Value("runs", tone="good") if litert.runs else Value(f"fails: {litert.reason}", tone="bad"),
    )
    if inspected.flex_ops:
        yield "Flex ops (TensorFlow runtime, not on MCUs)", Value(", ".join(inspected.flex_ops), tone="bad")
    if inspected.custom_ops:
        yield "custom ops (need your own kernels)", Value(", ".join(inspected.custom_ops), tone="bad")


def _plan_how(inspected: InspectReport) -> str:
    plan = inspected.memory
    return (
        f"estimate: edgeq's offline placement of the activation tensors ({plan.strategy}, "
        f"{plan.alignment}-byte alignment), TensorFlow Lite Micro-style; not run on a device"
    )


def _arena_how(inspected: InspectReport) -> str:
    arena = inspected.tflm.arena
    note = f"; {arena.note}" if arena and arena.note else ""
    return (
        "the smallest tensor arena with which the tflite-micro interpreter allocates and invokes the "
        f"model, found by trying smaller ones{note}"
    )


def _engine_how(inspected: InspectReport) -> str:
    """How the engine's figures are counted: the text EngineMemory writes with them."""
    return inspected.engine.to_dict()["how"]
