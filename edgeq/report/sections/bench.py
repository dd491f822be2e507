"""Benchmarks: latency, instructions, flash and RAM per model and target from bench.json, each
figure with its kind and how."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from edgeq.bench.results import BenchResult, Figure
from edgeq.report import plots
from edgeq.report.document import Block, Bullets, Cell, Missing, Plot, Plots, Table, Value
from edgeq.report.figures import distinct, kb_number, ms
from edgeq.report.sections import Context

LATENCY_FIGURES = ("latency_p50_ms", "latency_ms", "latency_avg_ms")  # the first present is shown
LEFT_OUT_OF_MEMORY = ("benchmark_harness",)  # bench's flash_bytes and ram_bytes exclude it


def blocks(context: Context) -> Iterator[Block]:
    bench = context.folder.bench
    if bench is None and (context.folder.path / "bench.json").exists():
        context.missing.append("bench.json")
        yield Missing("Not benchmarked", "bench.json could not be read (see above); rerun edgeq bench --json")
        return
    if bench is None:
        context.missing.append("bench.json")
        yield Missing(
            "Not benchmarked",
            "no bench.json in the folder: add a [bench] section to edgeq.toml, or run "
            "edgeq bench OUT/convert/MODEL.tflite --on host,cortex-m4 --json OUT/bench.json.",
        )
        return
    results = bench.results
    charts = _plots(context, [result for result in results if result.ok])
    if charts:
        yield Plots(charts)
    yield _table(context, results)
    yield Bullets(tuple(_notes(context, results)))
    yield _figures_table(context, results)


def where(context: Context, result: BenchResult) -> str:
    """``int8 on cortex-m4``: the mode (or file name) of a bench result and its target."""
    name = Path(result.model).name
    return f"{context.labels.get(name, name)} on {result.target}"


def figure_value(context: Context, result: BenchResult, figure: Figure, text: str) -> Value:
    """``text`` tagged with the figure's kind and how, numbered."""
    how = figure.how
    cycles = result.figure("cycles_per_inference")
    estimated_from_cycles = figure.kind == "estimated" and figure is not cycles
    if estimated_from_cycles and cycles and cycles.kind == "estimated":
        # the latency's how says "estimated cycles at N MHz": say how the cycles were estimated
        how = f"{how}; the cycles: {cycles.how.removeprefix('estimate: ')}"
    return context.notes.figure(text, figure.kind, how)


def latency(result: BenchResult) -> Figure | None:
    return next((figure for name in LATENCY_FIGURES if (figure := result.figure(name))), None)


def _plots(context: Context, results: list[BenchResult]) -> tuple[Plot, ...]:
    def label(result: BenchResult) -> str:
        return where(context, result).replace(" on ", " · ")

    def instructions(result: BenchResult) -> Figure | None:
        return result.figure("instructions_per_inference")

    charts = []
    for title, unit, scale, pick in (
        ("Latency per inference (ms)", "milliseconds", 1.0, latency),
        ("Instructions per inference", "million instructions", 1e6, instructions),
    ):
        picked = [(result, figure) for result in results if (figure := pick(result)) is not None]
        if picked:
            bars = [plots.Bar(label(r), f.value / scale, f.kind) for r, f in picked]
            sources = distinct([figure_value(context, r, f, f.kind) for r, f in picked])
            charts.append(Plot(title, plots.horizontal_bars(bars, unit), sources))
    for name, title in (("flash_bytes", "Flash (KB)"), ("ram_bytes", "RAM (KB)")):
        picked = [(result, figure) for result in results if (figure := result.figure(name)) is not None]
        if picked:
            stacked = [
                plots.StackedBar(label(r), tuple((part, size / 1024) for part, size in _memory_parts(r, f)))
                for r, f in picked
            ]
            sources = distinct([figure_value(context, r, f, f.kind) for r, f in picked])
            charts.append(Plot(title, plots.stacked_bars(stacked, "KB"), sources))
    return tuple(charts)


def _memory_parts(result: BenchResult, figure: Figure) -> list[tuple[str, float]]:
    """flash_bytes or ram_bytes split into the parts of the result's memory breakdown when they add
    up to the figure (the benchmark harness left out), else one part, the total."""
    total = float(figure.value)
    parts = (result.memory or {}).get("flash" if figure.name == "flash_bytes" else "ram")
    if isinstance(parts, dict):
        kept = [(name.replace("_", " "), float(size)) for name, size in parts.items()
                if name not in LEFT_OUT_OF_MEMORY and size]  # fmt: skip
        if kept and abs(sum(size for _, size in kept) - total) < 1:
            return kept
    return [("total", total)]


def _table(context: Context, results: tuple[BenchResult, ...]) -> Table:
    columns = ("model", "target", "runtime", "check", "latency ms", "instructions", "flash KB", "RAM KB")

    def cell(result: BenchResult, figure: Figure | None, show: Callable[[float], str]) -> Cell:
        return "-" if figure is None else figure_value(context, result, figure, show(figure.value))

    rows, styles = [], []
    for result in results:
        model = where(context, result).removesuffix(f" on {result.target}")
        runtime = result.runtime or "-"
        if result.error:
            rows.append([model, result.target, runtime, Value("failed", tone="bad"), *["-"] * 4])
            styles.append("failed")
            continue
        check = result.output_check
        if check is None:
            verdict = Value("-")
        else:
            verdict = Value(check.verdict, tone="good" if check.passed else "bad")
        rows.append(
            [
                model,
                result.target,
                runtime,
                verdict,
                cell(result, latency(result), ms),
                cell(result, result.figure("instructions_per_inference"), lambda v: f"{v:,.0f}"),
                cell(result, result.figure("flash_bytes"), kb_number),
                cell(result, result.figure("ram_bytes"), kb_number),
            ]
        )
        styles.append("" if result.ok else "failed")
    return Table.of(columns, rows, [c.endswith(("ms", "KB", "instructions")) for c in columns], styles)


def _notes(context: Context, results: tuple[BenchResult, ...]) -> Iterator[str]:
    for result in results:
        if result.error:
            yield f"{where(context, result)} failed: {result.error}"
            continue
        platform = result.platform
        keys = ("board", "emulator", "cpu", "processor", "machine")
        described = ", ".join(str(platform[key]) for key in keys if platform.get(key))
        if platform.get("clock_hz"):
            described += f", {platform['clock_hz'] / 1e6:g} MHz"
        check = result.output_check
        if check:
            if check.passed and check.differing_bytes:
                verdict = f"within tolerance ({check.differing_bytes} bytes differ) of"
            else:
                verdict = "identical to" if check.passed else f"{check.differing_bytes} bytes differ from"
            detail = f"; {check.detail}" if check.detail else ""
            described += (
                f"; output bytes {verdict} {', '.join(check.compared_with)} "
                f"({check.bytes_compared} bytes compared{detail})"
            )
        for name, parts in (result.memory or {}).items():
            if name in ("flash", "ram") and isinstance(parts, dict):
                split = ", ".join(f"{part.replace('_', ' ')} {size:,}" for part, size in parts.items())
                described += f"; {name} bytes: {split}"
        yield f"{where(context, result)}: {described or result.runtime}"


def _figures_table(context: Context, results: tuple[BenchResult, ...]) -> Table:
    rows = []
    for result in results:
        model, target = where(context, result).split(" on ", 1)
        for figure in result.figures:
            value = figure.value
            text = f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
            shown = figure_value(context, result, figure, text)
            rows.append([model, target, figure.name, shown, figure.unit, figure.kind, figure.how])
    columns = ("model", "target", "figure", "value", "unit", "kind", "how")
    numeric = [column == "value" for column in columns]
    return Table.of(
        columns, rows, numeric, caption=f"Every figure of bench.json ({len(rows)})", collapsed=True
    )
