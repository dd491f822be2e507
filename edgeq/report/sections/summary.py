"""The head of the report: title, subtitle, the chips saying what the folder holds, and the cards
with the headline figures (smallest model, accuracy, fastest target, microcontroller, the run)."""

from __future__ import annotations

from pathlib import Path

from edgeq.report.document import Card, Value
from edgeq.report.figures import SIZE_HOW, STAGE_HOW, kb, ms
from edgeq.report.folder import UNEXPECTED
from edgeq.report.sections import Context, accuracy, bench
from edgeq.results import ModeResult


def title(context: Context) -> str:
    return f"edgeq report: {Path(str(context.convert.source.get('path', 'model'))).name}"


def subtitle(context: Context) -> str:
    source = context.convert.source
    parts = [f"{source.get('format', '')} model {source.get('path', '')}"]
    if source.get("sha256"):
        parts.append(f"sha256 {str(source['sha256'])[:16]}…")
    if source.get("parameters") is not None:
        parts.append(f"{source['parameters']:,} parameters")
    return " · ".join(parts)


def chips(context: Context) -> tuple[Value, ...]:
    folder = context.folder
    modes, inspected = len(context.convert.modes), len(folder.inspections)
    found = [
        Value(f"{modes} mode{'s' * (modes != 1)} converted", tone="good"),
        Value(f"{inspected} file{'s' * (inspected != 1)} inspected", tone="good")
        if inspected
        else Value("not inspected", tone="muted"),
        Value("firmware bundle", tone="good")
        if folder.firmware and folder.firmware.files
        else Value("no firmware", tone="muted"),
    ]
    if folder.bench is None:
        found.append(Value("not benchmarked", tone="muted"))
    else:
        results = folder.bench.results
        ok = sum(1 for result in results if result.ok)
        found.append(
            Value(f"{ok} of {len(results)} benchmarks ok", tone="good" if ok == len(results) else "bad")
        )
    return tuple(found)


def cards(context: Context) -> tuple[Card, ...]:
    """The cards; built after the sections, so that the notes are numbered in the sections' order."""
    result = context.convert
    modes = [mode for mode in result.modes if not mode.problem] or list(result.modes)
    smallest = min(modes, key=lambda mode: mode.size_bytes)
    against = "the float32 file" if result.size_baseline.kind == "float32_tflite" else "float32 weights"
    found = [
        Card(
            "Smallest model",
            context.notes.figure(kb(smallest.size_bytes), "measured", SIZE_HOW),
            f"{smallest.label} · {result.size_ratio(smallest):.0%} of {against}",
        ),
        _accuracy_card(context, smallest),
    ]
    try:
        found += _bench_cards(context)
    except UNEXPECTED:
        found.append(Card("Fastest target", Value("unreadable"), "bench.json could not be read", "muted"))
    stages = context.folder.run.stages
    if stages:  # an edgeq convert folder has none
        ran = sum(1 for stage in stages if stage.status == "ran")
        seconds = sum(stage.seconds for stage in stages)
        detail = f"{len(stages)} stages: {ran} ran, {len(stages) - ran} reused"
        found.append(Card("Run", context.notes.figure(f"{seconds:.1f} s", "measured", STAGE_HOW), detail))
    return tuple(found)


def _accuracy_card(context: Context, mode: ModeResult) -> Card:
    result = context.convert
    evaluation, reference = mode.evaluation, result.reference
    drop = result.top1_drop_points(mode)
    if drop is not None and evaluation is not None and evaluation.top1 is not None and reference is not None:
        points = round(drop, 4)  # as report.json records it: 0.5 is not 0.5000000000000004
        tone = "good" if points <= 0.5 else "warn" if points <= 2 else "bad"
        detail = f"top-1 {evaluation.top1 * 100:.2f} % against {reference.top1 * 100:.2f} % in float"
        value = context.notes.figure(f"{drop:+.2f} pts", "measured", accuracy.top1_how(context))
        return Card(f"Accuracy drop · {mode.label}", value, detail, tone)
    error = accuracy.worst_relative_l2(evaluation)
    if error is not None:
        value = context.notes.figure(f"{error:.3g}", "measured", accuracy.fidelity_how(context))
        return Card(f"Output error · {mode.label}", value, "relative L2 against the float model")
    return Card("Accuracy drop", Value("not measured"), "converted without evaluation data (--eval)", "muted")


def _bench_cards(context: Context) -> list[Card]:
    report = context.folder.bench
    if report is None or "bench.json" in context.missing:
        exists = (context.folder.path / "bench.json").exists()
        detail = "bench.json could not be read" if exists else "no bench.json in the folder"
        return [Card("Fastest target", Value("not benchmarked"), detail, "muted")]
    ok = [result for result in report.results if result.ok]
    timed = [(result, figure) for result in ok if (figure := bench.latency(result)) is not None]
    found = []
    if timed:
        result, figure = min(timed, key=lambda pair: pair[1].value)
        value = bench.figure_value(context, result, figure, f"{ms(figure.value)} ms")
        found.append(
            Card("Fastest target", value, f"{bench.where(context, result)} · {result.runtime}", "good")
        )
    else:
        found.append(Card("Fastest target", Value("no latency"), "no benchmark has a latency", "muted"))
    with_flash = [(result, figure) for result in ok if (figure := result.figure("flash_bytes")) is not None]
    if with_flash:
        result, flash = min(with_flash, key=lambda pair: pair[1].value)
        detail = ["flash"]
        ram = result.figure("ram_bytes")
        if ram is not None:
            detail.append(f"{kb(ram.value)} RAM")
        latency = bench.latency(result)
        if latency is not None:
            detail.append(f"{'~' * (latency.kind == 'estimated')}{ms(latency.value)} ms")
        detail.append(bench.where(context, result))
        value = bench.figure_value(context, result, flash, kb(flash.value))
        found.append(Card("Microcontroller", value, " · ".join(detail)))
    return found
