"""The report's plots as SVG documents: small pure functions from numbers to text, drawn with
matplotlib's object API (no pyplot, no GUI backend, no global state) and byte-for-byte deterministic."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeq.errors import ToolchainError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# One palette for the page: its stylesheet, templates/report.css, uses the same colours.
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
KIND_COLOURS = {"measured": "#0f766e", "counted": "#4f46e5", "estimated": "#d97706"}
SERIES_COLOURS = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#65a30d")
PART_COLOURS = ("#2563eb", "#60a5fa", "#a78bfa", "#f472b6", "#fbbf24", "#34d399")
WIDTH_INCHES = 5.2

# A log axis once the largest value is this many times the smallest (host µs next to MCU ms).
LOG_RATIO = 50.0


@dataclass(frozen=True)
class Point:
    """One mode on the accuracy-against-size plot; ``y`` is None when it was not evaluated."""

    label: str
    size_kb: float
    y: float | None


@dataclass(frozen=True)
class Bar:
    """One bar; ``kind`` (measured / counted / estimated) picks its colour, estimates are hatched."""

    label: str
    value: float
    kind: str | None = None


@dataclass(frozen=True)
class StackedBar:
    """One bar made of named parts (e.g. flash: model constants + engine code + C library)."""

    label: str
    parts: tuple[tuple[str, float], ...]


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ToolchainError(
            "matplotlib is not installed: pip install matplotlib (edgeq report draws its plots with it)"
        ) from None
    return matplotlib


@contextmanager
def _style() -> Iterator[None]:
    matplotlib = _matplotlib()
    settings = {
        "svg.hashsalt": "edgeq-report",  # fixed ids: the same numbers give the same bytes
        "svg.fonttype": "path",  # glyphs as paths: no dependence on the viewer's fonts
        "font.family": "DejaVu Sans",  # bundled with matplotlib: the same on every machine
        "font.size": 9,
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": GRID,
        "grid.linewidth": 0.8,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "xtick.major.size": 0,
        "ytick.major.size": 0,
        "legend.frameon": False,
        "legend.fontsize": 8,
        "hatch.color": "white",
        "hatch.linewidth": 1.2,
    }
    with matplotlib.rc_context(settings):
        yield


def _figure(height_inches: float) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, height_inches))
    figure.patch.set_alpha(0.0)
    return figure


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.08, metadata={"Date": None})
    return buffer.getvalue()


def _bar_height(count: int) -> float:
    return min(6.0, 0.9 + 0.34 * max(count, 1))


def _use_log(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and len(positive) > 1 and max(positive) / min(positive) > LOG_RATIO


def _compact(value: float) -> str:
    """Bar-end labels: 3 significant figures, thousands separators for large numbers."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def accuracy_vs_size(
    points: Sequence[Point],
    y_label: str,
    reference: float | None = None,
    reference_label: str = "",
    baseline_kb: float | None = None,
    baseline_label: str = "",
    log_y: bool = False,
) -> str:
    """Each mode's file size (x) against its accuracy or error (y), with the float model's accuracy
    and the size baseline as guide lines. Modes without ``y`` become a size-only bar chart."""
    if not any(point.y is not None for point in points):
        return horizontal_bars([Bar(p.label, p.size_kb, "measured") for p in points], "file size (KB)")
    with _style():
        figure = _figure(3.4)
        axes = figure.add_subplot()
        if reference is not None:
            axes.axhline(reference, color=MUTED, linestyle="--", linewidth=1)
            axes.annotate(
                reference_label,
                (0.005, reference),
                xycoords=("axes fraction", "data"),
                xytext=(0, 4),
                textcoords="offset points",
                color=MUTED,
                fontsize=8,
            )
        if baseline_kb is not None:
            axes.axvline(baseline_kb, color=MUTED, linestyle=":", linewidth=1)
            axes.annotate(
                baseline_label,
                (baseline_kb, 0.02),
                xycoords=("data", "axes fraction"),
                xytext=(-4, 0),
                textcoords="offset points",
                color=MUTED,
                fontsize=8,
                rotation=90,
                ha="right",
                va="bottom",
            )
        shown = [p for p in points if p.y is not None]
        for index, point in enumerate(shown):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            axes.scatter([point.size_kb], [point.y], s=70, color=colour, zorder=3, edgecolors="white")
            axes.annotate(
                point.label,
                (point.size_kb, point.y),
                xytext=(7, 6 if index % 2 == 0 else -12),
                textcoords="offset points",
                color=INK,
                fontsize=9,
                fontweight="bold",
            )
        if log_y:
            axes.set_yscale("log")
        xs = [p.size_kb for p in shown] + ([baseline_kb] if baseline_kb is not None else [])
        axes.set_xlim(0, max(xs) * 1.12)
        if not log_y:
            ys = [p.y for p in shown] + ([reference] if reference is not None else [])
            low, high = min(ys), max(ys)
            pad = max((high - low) * 0.35, 0.25 if "%" in y_label else abs(high) * 0.05 or 0.01)
            axes.set_ylim(low - pad, high + pad)
        axes.set_xlabel("file size (KB)")
        axes.set_ylabel(y_label)
        return _svg(figure)


def horizontal_bars(
    bars: Sequence[Bar],
    x_label: str,
    marker: float | None = None,
    marker_label: str = "",
    log: bool | None = None,
) -> str:
    """One horizontal bar per item, first at the top, coloured by kind (estimates hatched), the value
    at the end of each bar; ``marker`` draws a labelled vertical guide (e.g. rounding alone)."""
    with _style():
        figure = _figure(_bar_height(len(bars)))
        axes = figure.add_subplot()
        positions = list(range(len(bars)))[::-1]
        values = [bar.value for bar in bars]
        use_log = _use_log(values) if log is None else log
        for position, bar in zip(positions, bars, strict=True):
            colour = KIND_COLOURS.get(bar.kind or "", SERIES_COLOURS[0])
            axes.barh(
                position,
                bar.value,
                color=colour,
                height=0.62,
                hatch="///" if bar.kind == "estimated" else None,
                zorder=2,
            )
            _end_label(axes, bar.value, position)
        axes.set_yticks(positions, [bar.label for bar in bars])
        axes.grid(axis="y", visible=False)
        if use_log:
            axes.set_xscale("log")
            axes.set_xlim(min(values) / 2, max(values) * 6)
        else:
            axes.set_xlim(0, max([*values, marker or 0]) * 1.18 or 1)
        if marker is not None:
            axes.axvline(marker, color=MUTED, linestyle="--", linewidth=1, zorder=3)
            axes.annotate(
                marker_label,
                (marker, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color=MUTED,
            )
        axes.set_xlabel(x_label + (" (log scale)" if use_log else ""))
        kinds = [kind for kind in KIND_COLOURS if any(bar.kind == kind for bar in bars)]
        if len(kinds) > 1 or "estimated" in kinds:
            _kind_legend(axes, kinds)
        return _svg(figure)


def _end_label(axes: Axes, value: float, position: float) -> None:
    """The bar's value, just right of its end."""
    axes.annotate(_compact(value), (value, position), xytext=(4, 0), textcoords="offset points",
                  va="center", fontsize=8, color=INK)  # fmt: skip


def _kind_legend(axes: Axes, kinds: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=KIND_COLOURS[kind], hatch="///" if kind == "estimated" else None, label=kind)
        for kind in kinds
    ]
    axes.legend(handles=handles, loc="lower right", ncols=len(handles), bbox_to_anchor=(1.0, 1.0))


def stacked_bars(bars: Sequence[StackedBar], x_label: str) -> str:
    """Horizontal bars split into parts (same part names share a colour), the total at the end."""
    with _style():
        figure = _figure(_bar_height(len(bars)) + 0.3)
        axes = figure.add_subplot()
        names: list[str] = []
        for bar in bars:
            names += [name for name, _ in bar.parts if name not in names]
        colours = {name: PART_COLOURS[i % len(PART_COLOURS)] for i, name in enumerate(names)}
        positions = list(range(len(bars)))[::-1]
        drawn: set[str] = set()
        for position, bar in zip(positions, bars, strict=True):
            left = 0.0
            for name, value in bar.parts:
                axes.barh(
                    position,
                    value,
                    left=left,
                    color=colours[name],
                    height=0.62,
                    zorder=2,
                    label=None if name in drawn else name,
                )
                drawn.add(name)
                left += value
            _end_label(axes, left, position)
        axes.set_yticks(positions, [bar.label for bar in bars])
        axes.grid(axis="y", visible=False)
        totals = [sum(value for _, value in bar.parts) for bar in bars]
        axes.set_xlim(0, max(totals) * 1.18 or 1)
        axes.set_xlabel(x_label)
        axes.legend(loc="lower left", ncols=min(len(names), 4), bbox_to_anchor=(0.0, 1.0))
        return _svg(figure)


def per_operator(labels: Sequence[str], macs: Sequence[float], live_kb: Sequence[float] | None) -> str:
    """Multiply-accumulates of each operator (bars) and, when given, the activation memory alive
    while it runs (line, right axis)."""
    with _style():
        figure = _figure(3.0)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        axes.bar(
            positions,
            [m / 1000 for m in macs],
            color=SERIES_COLOURS[0],
            width=0.65,
            zorder=2,
            label="MACs (thousands)",
        )
        crowded = len(labels) > 12
        axes.set_xticks(
            positions,
            labels,
            rotation=60 if crowded else 35,
            ha="right",
            fontsize=6.5 if crowded else 8,
            rotation_mode="anchor",
        )
        axes.grid(axis="x", visible=False)
        axes.set_ylabel("thousand MACs")
        handles, names = axes.get_legend_handles_labels()
        if live_kb is not None and len(live_kb) == len(labels):
            memory = axes.twinx()
            memory.plot(
                positions,
                list(live_kb),
                color=SERIES_COLOURS[1],
                marker="o",
                markersize=4,
                linewidth=1.6,
                zorder=3,
                label="live activations (KB)",
            )
            memory.set_ylim(0, max(live_kb) * 1.25 or 1)
            memory.set_ylabel("live activation KB", color=SERIES_COLOURS[1])
            memory.grid(False)
            memory.spines["right"].set_visible(True)
            more_handles, more_names = memory.get_legend_handles_labels()
            handles, names = handles + more_handles, names + more_names
        axes.legend(handles, names, loc="lower right", ncols=2, bbox_to_anchor=(1.0, 1.0))
        return _svg(figure)
