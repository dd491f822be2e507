"""The comparison table of ``edgeq convert``: one row per mode, shared by the console and Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeq.results import ConvertResult, ModeResult

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


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def mode_row(result: ConvertResult, mode: ModeResult) -> list[str]:
    evaluation = mode.evaluation
    worst = max(evaluation.outputs, key=lambda f: f.relative_l2) if evaluation else None
    drop = result.top1_drop_points(mode)
    return [
        mode.label,
        mode.file_name,
        f"{mode.size_bytes / 1024:.1f}",
        f"{result.size_ratio(mode):.3f}",
        mode.inputs[0].dtype if mode.inputs else "-",
        _percent(evaluation.top1 if evaluation else None),
        "-" if drop is None else f"{drop:+.2f}",
        _percent(evaluation.agreement if evaluation else None),
        _number(worst.relative_l2 if worst else None),
        _number(worst.cosine if worst else None, 6),
        _number(worst.max_abs_error if worst else None),
        f"{mode.conversion_seconds:.2f}",
    ]


def reference_row(result: ConvertResult) -> list[str] | None:
    if result.reference is None:
        return None
    return [
        "float model",
        result.source["path"],
        "-",
        "-",
        "float32",
        _percent(result.reference.top1),
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
    problems = [f"{mode.label}: {mode.problem}" for mode in result.modes if mode.problem]
    if problems:
        notes.append("Problems (accuracy not measured where LiteRT failed): " + "; ".join(problems) + ".")
    if all(mode.runs_in_litert for mode in result.modes):
        notes.append("Every file loaded and ran in LiteRT (ai_edge_litert).")
    return notes


def to_markdown(result: ConvertResult) -> str:
    """The report as Markdown: source, data, the comparison table and its notes."""
    source = result.source
    lines = [
        "# edgeq convert report",
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
    rows = [mode_row(result, mode) for mode in result.modes]
    reference = reference_row(result)
    if reference is not None:
        rows.insert(0, reference)
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [""] + [f"- {note}" for note in footnotes(result)] + [""]
    for mode in result.modes:
        lines.append(f"- {mode.label}: ops {', '.join(mode.ops)}")
    return "\n".join(lines) + "\n"
