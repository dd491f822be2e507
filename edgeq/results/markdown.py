"""The comparison table of ``edgeq convert``: one row per mode, shared by the console, report.md
of the convert folder and ``edgeq report``'s page; and report.md itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeq.results.layers import ranked

if TYPE_CHECKING:
    from edgeq.results.convert import ConvertResult, ModeFailure, ModeResult
    from edgeq.runtimes.runners import TFLMCheck

COLUMNS = (
    "mode",
    "file",
    "size KB",
    "x base",
    "I/O",
    "top-1 %",
    "drop pts",
    "agree %",
    "rel L2",
    "cosine",
    "max abs err",
    "convert s",
)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def mode_row(result: ConvertResult, mode: ModeResult) -> list[str]:
    evaluation = mode.evaluation
    worst = max(evaluation.outputs, key=lambda f: f.relative_l2, default=None) if evaluation else None
    drop = result.top1_drop_points(mode)
    return [
        mode.label + (" (see notes)" if mode.notes else ""),
        mode.file_name,
        f"{mode.size_bytes / 1024:.1f}",
        f"{result.size_ratio(mode):.3f}",
        mode.inputs[0].dtype if mode.inputs else "-",
        percent(evaluation.top1 if evaluation else None),
        "-" if drop is None else f"{drop:+.2f}",
        percent(evaluation.agreement if evaluation else None),
        number(worst.relative_l2 if worst else None),
        number(worst.cosine if worst else None, 6),
        number(worst.max_abs_error if worst else None),
        f"{mode.conversion_seconds:.2f}",
    ]


def failure_row(failure: ModeFailure) -> list[str]:
    """A mode that produced no file: its label, "FAILED" and, in the notes, the reason."""
    what = "CRASHED" if failure.crashed else "FAILED"
    return [f"{failure.label} ({what}, see notes)", "not written"] + ["-"] * (len(COLUMNS) - 2)


def table_rows(result: ConvertResult) -> list[list[str]]:
    """Every row of the comparison table: the float model, each converted mode, each failed mode."""
    reference = reference_row(result)
    rows = [reference] if reference is not None else []
    rows += [mode_row(result, mode) for mode in result.modes]
    return rows + [failure_row(failure) for failure in result.failures]


def reference_row(result: ConvertResult) -> list[str] | None:
    if result.reference is None:
        return None
    return [
        "float model",
        result.source["path"],
        "-",
        "-",
        "float32",
        percent(result.reference.top1),
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
    ]


def footnotes(result: ConvertResult) -> list[str]:
    notes = [f"x base: file size divided by {result.size_baseline.describe()}."]
    if result.reference is not None:
        samples = result.reference.samples
        notes.append(
            f"Accuracy and fidelity on {samples} evaluation samples, against the float model, "
            f"run with {result.kernels}. drop pts: float model top-1 minus this mode's, in "
            "percentage points. agree: share of samples whose predicted class equals the float "
            "model's. rel L2, cosine, max abs err: over all output values (worst output)."
        )
    else:
        notes.append("No --eval data: accuracy and fidelity were not measured.")
    for failure in result.failures:
        how = "the converter crashed" if failure.crashed else "not converted"
        notes.append(f"{failure.label} FAILED, no file written ({how}): {failure.reason}")
    for mode in result.modes:
        notes += [f"{mode.label}: {note}" for note in mode.notes]
    problems = [f"{mode.label}: {mode.problem}" for mode in result.modes if mode.problem]
    if problems:
        notes.append("Problems (accuracy not measured where LiteRT failed): " + "; ".join(problems) + ".")
    if all(mode.runs_in_litert for mode in result.modes):
        notes.append("Every file loaded and ran in LiteRT (ai_edge_litert).")
    return notes + coarse_input_notes(result)


COARSE_INPUT_STEPS = 16


def coarse_input_notes(result: ConvertResult) -> list[str]:
    """A warning for each integer-input file whose input scale leaves the calibration data's value
    range fewer than COARSE_INPUT_STEPS quantization steps."""
    value_range = (result.calibration or {}).get("value_range")
    if not value_range:
        return []
    low, high = value_range
    notes = []
    for mode in result.modes:
        info = mode.inputs[0] if mode.inputs else None
        if info is None or not info.dtype.startswith("int") or not info.scale > 0:
            continue
        steps = (high - low) / info.scale
        if steps < COARSE_INPUT_STEPS:
            notes.append(
                f"{mode.label}: the {info.dtype} input's scale {info.scale:.4g} covers the calibration "
                f"data's range {low:g}..{high:g} in {steps:.1f} steps, so quantizing the input alone "
                "throws away most of its precision (try --io float, --max-drop or edgeq qat)."
            )
    return notes


LAYER_COLUMNS = ("rank", "op", "Keras layer", "error / step", "RMS error", "max abs error", "scale")
LAYER_NOTE = (
    "Per-layer error (TensorFlow QuantizationDebugger): each int8 op run on the previous op's "
    "quantized output and compared with the same op in float, so the figure is the error this op adds. "
    "error / step: RMS error divided by the op's output scale; 0.29 is rounding alone."
)


def command_name(result: ConvertResult) -> str:
    return "edgeq qat" if result.qat is not None else "edgeq convert"


def layer_rows(result: ConvertResult) -> list[list[str]]:
    """The ranked per-layer errors (ops that only move values are left out)."""
    if not result.layer_errors:
        return []
    return [
        [
            str(rank),
            error.op,
            error.keras_layer or "-",
            f"{error.normalized:.3f}",
            number(error.rmse),
            number(error.max_abs_error),
            number(error.scale, 5),
        ]
        for rank, error in enumerate(ranked(result.layer_errors), 1)
    ]


def accuracy_lines(result: ConvertResult) -> list[str]:
    """What --max-drop decided and what edgeq qat trained, as sentences."""
    lines = []
    mixed = result.mixed_precision
    if mixed is not None:
        lines.append(
            f"--max-drop {mixed.budget:g} ({mixed.metric}): {mixed.message}; "
            f"{len(mixed.trials)} conversion(s) tried."
        )
        if mixed.outcome == "mixed":
            counts = {op: mixed.float_kernels.count(op) for op in mixed.float_kernels}
            kernels = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items()) or "none"
            lines.append(f"Float kernels the mixed model needs: {kernels}.")
            if mixed.tflm is not None:
                lines.append("TensorFlow Lite Micro: " + _tflm_sentence(mixed.tflm) + ".")
    lowbit = result.lowbit_mixed
    if lowbit is not None:
        tried = len(lowbit.trials) + len(lowbit.sensitivity)
        lines.append(
            f"--max-drop {lowbit.budget:g} on int4 ({lowbit.metric}): {lowbit.message}; "
            f"{tried} conversion(s) tried."
        )
        if lowbit.sensitivity:
            worst = ", ".join(f"{op} {value:.3f}" for op, value in lowbit.sensitivity[:3])
            lines.append(f"Most sensitive to int4 weights (alone at int4, the rest int8): {worst}.")
    qat = result.qat
    if qat is not None:
        final = {key: values[-1] for key, values in qat.history.items() if values}
        trained = ", ".join(f"{key} {value:.4g}" for key, value in final.items())
        lines.append(
            f"QAT: {qat.epochs} epoch(s) on {qat.train_samples} samples, batch {qat.batch_size}, "
            f"learning rate {qat.learning_rate:g}, {qat.loss}; last epoch: {trained}."
        )
        lines.append(f"QAT method: {qat.method}.")
        if qat.tflm is not None:
            lines.append("TensorFlow Lite Micro runs the QAT model: " + _tflm_sentence(qat.tflm) + ".")
    return lines


def _tflm_sentence(check: TFLMCheck) -> str:
    if not check.runs or check.reason:
        return f"fails ({check.reason})"
    sentence = (
        f"runs; outputs identical to LiteRT's reference kernels on {check.identical} of "
        f"{check.samples} samples (largest difference {check.max_abs_difference:g})"
    )
    for first in check.first_differences:
        sentence += (
            f"; {first.samples} sample(s) first differ at op {first.op_index} ({first.op}), by up to "
            f"{first.max_abs_difference}, all earlier ops identical"
        )
        if first.known_cause:
            sentence += f" ({first.known_cause})"
    return sentence


def to_markdown(result: ConvertResult) -> str:
    """The report as Markdown: source, data, the comparison table and its notes."""
    source = result.source
    lines = [
        f"# {command_name(result)} report",
        "",
        f"- model: `{source['path']}` ({source['format']}, sha256 `{source['sha256'][:16]}...`)",
        f"- parameters: {source['parameters']:,}"
        if source.get("parameters") is not None
        else "- parameters: unknown",
    ]
    for repair in source.get("repairs", []):
        lines.append(f"- repaired while loading: {repair}")
    for role, data in (("calibration", result.calibration), ("evaluation", result.evaluation_data)):
        if data:
            lines.append(
                f"- {role} data: `{data['source']}` ({data['format']}, {data['samples']} samples"
                + (f"; {'; '.join(data['notes'])}" if data.get("notes") else "")
                + ")"
            )
    pre = result.preprocessing
    if any(pre.get(key) is not None for key in ("scale", "mean", "std")):
        lines.append(
            f"- preprocessing: scale {pre['scale']}, mean {pre['mean']}, std {pre['std']} ({pre['order']})"
        )
    lines.append(
        f"- edgeq {result.edgeq_version}, " + ", ".join(f"{k} {v}" for k, v in result.environment.items())
    )
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    lines += [""] + [f"- {note}" for note in footnotes(result)] + [""]
    for mode in result.modes:
        lines.append(f"- {mode.label}: ops {', '.join(mode.ops)}")
    extra = accuracy_lines(result)
    if extra:
        lines += ["", "## Accuracy", ""] + [f"- {line}" for line in extra]
    rows = layer_rows(result)
    if rows:
        lines += ["", "## Per-layer quantization error", "", LAYER_NOTE, ""]
        lines += ["| " + " | ".join(LAYER_COLUMNS) + " |", "|" + "---|" * len(LAYER_COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
