"""Accuracy and size: what was converted from what, accuracy and error against file size, the
comparison table of ``edgeq convert`` and its notes."""

from __future__ import annotations

import math
from collections.abc import Iterator

from edgeq.report import plots
from edgeq.report.document import Block, Bullets, Facts, Plot, Plots, Table
from edgeq.report.figures import CONVERT_HOW, SIZE_HOW
from edgeq.report.sections import Context
from edgeq.results.evaluation import Evaluation, OutputFidelity
from edgeq.results.markdown import COLUMNS, accuracy_lines, coarse_input_notes, mode_row, reference_row


def blocks(context: Context) -> Iterator[Block]:
    result = context.convert
    source = result.source
    facts = [("model", f"{source.get('path')} ({source.get('format')}), sha256 {source.get('sha256', '')}")]
    for role, data in (("calibration data", result.calibration), ("evaluation data", result.evaluation_data)):
        if data:
            notes = "".join(f"; {note}" for note in data.get("notes") or [])
            facts.append((role, f"{data['source']} ({data['format']}, {data['samples']} samples{notes})"))
    pre = result.preprocessing
    steps = ", ".join(f"{key} {pre[key]}" for key in ("scale", "mean", "std") if pre.get(key) is not None)
    if steps:
        facts.append(("preprocessing", f"{steps} ({pre.get('order')})"))
    baseline = result.size_baseline.describe()
    facts.append(("size baseline", baseline))
    if result.kernels:
        facts.append(("evaluated with", result.kernels))
    yield Facts.of(facts)
    yield Plots((_accuracy_plot(context), *_fidelity_plot(context)))
    yield _mode_table(context, baseline)
    yield Bullets(tuple(_notes(context)))


def top1_how(context: Context) -> str:
    data = context.convert.evaluation_data or {}
    return (
        f"top-1 on {data.get('samples', '?')} evaluation samples of {data.get('source', '?')}, run with "
        f"{context.convert.kernels or 'LiteRT'}; drop: the float model's top-1 minus this mode's, in "
        "percentage points"
    )


def fidelity_how(context: Context) -> str:
    samples = (context.convert.evaluation_data or {}).get("samples", "?")
    return (
        f"outputs compared with the float model's on the same {samples} samples: agree = share with "
        "the same predicted class; rel L2, cosine, max abs err over all output values (worst output)"
    )


def worst_relative_l2(evaluation: Evaluation | None) -> float | None:
    """The largest relative L2 error over the outputs; None when not measured or not finite."""
    outputs = evaluation.outputs if evaluation else ()
    worst: OutputFidelity | None = max(outputs, key=lambda output: output.relative_l2, default=None)
    return worst.relative_l2 if worst is not None and math.isfinite(worst.relative_l2) else None


def _accuracy_plot(context: Context) -> Plot:
    result = context.convert
    top1 = result.reference.top1 if result.reference else None
    has_top1 = any(mode.evaluation and mode.evaluation.top1 is not None for mode in result.modes)
    points = []
    for mode in result.modes:
        evaluation = mode.evaluation
        if has_top1:
            y = evaluation.top1 * 100 if evaluation and evaluation.top1 is not None else None
        else:
            y = worst_relative_l2(evaluation)
        points.append(plots.Point(mode.label, mode.size_bytes / 1024, y))
    baseline = result.size_baseline
    reference = top1 * 100 if has_top1 and top1 is not None else None
    svg = plots.accuracy_vs_size(
        points,
        "top-1 accuracy (%)" if has_top1 else "relative L2 error vs float",
        reference=reference,
        reference_label=f"float model {reference:.2f} %" if reference is not None else "",
        baseline_kb=baseline.size_bytes / 1024,
        baseline_label="float32 file" if baseline.kind == "float32_tflite" else "float32 weights",
        log_y=not has_top1,
    )
    sources = [context.notes.figure("size", "measured", SIZE_HOW)]
    if not any(point.y is not None for point in points):
        return Plot("File size per mode (not evaluated)", svg, tuple(sources))
    how = top1_how(context) if has_top1 else fidelity_how(context)
    sources.append(context.notes.figure("top-1" if has_top1 else "rel L2", "measured", how))
    title = "Accuracy against file size" if has_top1 else "Error against file size"
    return Plot(title, svg, tuple(sources))


def _fidelity_plot(context: Context) -> Iterator[Plot]:
    bars = []
    for mode in context.convert.modes:
        error = worst_relative_l2(mode.evaluation)
        if error:
            bars.append(plots.Bar(mode.label, error, "measured"))
    if bars:
        svg = plots.horizontal_bars(bars, "relative L2 error against the float model", log=True)
        source = context.notes.figure("rel L2", "measured", fidelity_how(context))
        yield Plot("Output error against the float model (worst output)", svg, (source,))


def _mode_table(context: Context, baseline: str) -> Table:
    result = context.convert
    hows = {"size KB": SIZE_HOW, "x base": f"file size divided by {baseline}", "convert s": CONVERT_HOW}
    if result.reference is not None or any(mode.evaluation for mode in result.modes):
        hows |= dict.fromkeys(("top-1 %", "drop pts"), top1_how(context))
        hows |= dict.fromkeys(("agree %", "rel L2", "cosine", "max abs err"), fidelity_how(context))
    columns = [
        context.notes.figure(name, "measured", hows[name]) if name in hows else name for name in COLUMNS
    ]
    rows, styles = [], []
    reference = reference_row(result)
    if reference is not None:
        rows.append(reference)
        styles.append("reference")
    for mode in result.modes:
        rows.append(mode_row(result, mode))
        styles.append("failed" if mode.problem else "")
    numeric = [name not in ("mode", "file", "I/O") for name in COLUMNS]
    return Table.of(columns, rows, numeric, styles)


def _notes(context: Context) -> Iterator[str]:
    result = context.convert
    if result.reference is None:
        yield "No evaluation data (--eval): accuracy and fidelity were not measured."
    for mode in result.modes:
        if mode.problem:
            yield f"{mode.label}: {mode.problem}"
    if all(mode.runs_in_litert for mode in result.modes):
        yield "Every file loaded and ran in LiteRT (ai_edge_litert)."
    yield from coarse_input_notes(result)
    yield from accuracy_lines(result)
    for mode in result.modes:
        yield f"{mode.label} ({mode.file_name}): ops {', '.join(mode.ops)}"
