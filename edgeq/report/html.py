"""``edgeq report``: one self-contained HTML page, and the same content as Markdown, from the output
folder of ``edgeq run`` (run.json, convert/report.json, inspect/*.json, mcu/, bench.json).

The JSON files are read into a small document model (cards, then sections of facts, plots and
tables; every figure tagged measured / counted / estimated with a numbered note saying how), which
is rendered twice: HTML through a Jinja2 template that escapes everything, Markdown by hand.
Nothing time-dependent is added, so the same folder gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import json
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from edgeq.errors import InputError
from edgeq.outputs import write_file_atomic
from edgeq.report.convert import COLUMNS, LAYER_COLUMNS, LAYER_NOTE, _number, _percent, coarse_input_notes
from edgeq.version import __version__

SCHEMA_VERSION = 1  # the newest schema_version of the JSON files this module reads
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
KINDS = ("measured", "counted", "estimated")
ROUNDING_ALONE = 0.29  # RMS error of rounding alone, in output steps: 1/sqrt(12)
LATENCY_FIGURES = ("latency_p50_ms", "latency_ms", "latency_avg_ms")  # the first present is shown
LEFT_OUT_OF_MEMORY = ("benchmark_harness",)  # bench's flash_bytes and ram_bytes exclude it

SIZE_HOW = "size of the .tflite file in bytes (KB = 1,024 bytes)"
STAGE_HOW = "wall-clock seconds of the stage in edgeq run (0 when reused: its inputs' sha256 was unchanged)"
PARAMETERS_HOW = "counted from the .tflite graph: elements of the constant (weight and bias) tensors"
MACS_HOW = "counted from the .tflite graph: multiply-accumulates implied by each operator's tensor shapes"
CONVERT_HOW = "wall-clock seconds of TensorFlow's converter, calibration included"


# --- the document model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """Text in a cell, card or fact. A figure has ``kind`` (measured, counted, estimated), ``how``
    and ``note``, the number of its footnote; ``tone`` (good, bad, info, muted) makes a pill."""

    text: str
    kind: str | None = None
    how: str | None = None
    note: int | None = None
    tone: str | None = None


Cell = str | Value


def _value(cell: Cell) -> Value:
    return cell if isinstance(cell, Value) else Value(cell)


@dataclass(frozen=True)
class Footnote:
    number: int
    kind: str
    how: str


@dataclass(frozen=True)
class Card:
    label: str
    value: Value
    detail: str
    tone: str = "info"


@dataclass(frozen=True)
class Paragraph:
    text: str
    block: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Heading:
    text: str
    block: ClassVar[str] = "heading"


@dataclass(frozen=True)
class Facts:
    """Name: value lines (a definition list)."""

    items: tuple[tuple[str, Value], ...]
    block: ClassVar[str] = "facts"

    @classmethod
    def of(cls, items: Iterable[tuple[str, Cell]]) -> Facts:
        return cls(tuple((name, _value(cell)) for name, cell in items))


@dataclass(frozen=True)
class Plot:
    """One plot as an SVG document, shown as a data: URI image; ``sources`` tag what it plots."""

    title: str
    svg: str
    sources: tuple[Value, ...] = ()

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Plots:
    plots: tuple[Plot, ...]
    block: ClassVar[str] = "plots"


@dataclass(frozen=True)
class Table:
    """``numeric`` right-aligns a column; ``styles`` marks rows (reference, failed, warn);
    a ``collapsed`` table is shown only on request (HTML ``<details>``)."""

    columns: tuple[Value, ...]
    rows: tuple[tuple[Value, ...], ...]
    numeric: tuple[bool, ...]
    styles: tuple[str, ...] = ()
    caption: str = ""
    collapsed: bool = False
    block: ClassVar[str] = "table"

    @classmethod
    def of(
        cls,
        columns: Sequence[Cell],
        rows: Iterable[Sequence[Cell]],
        numeric: Sequence[bool],
        styles: Sequence[str] = (),
        caption: str = "",
        collapsed: bool = False,
    ) -> Table:
        cells = tuple(tuple(_value(cell) for cell in row) for row in rows)
        head = tuple(_value(column) for column in columns)
        return cls(head, cells, tuple(numeric), tuple(styles), caption, collapsed)


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    block: ClassVar[str] = "bullets"


@dataclass(frozen=True)
class Missing:
    """A part of the run that is not in the folder, and how to get it."""

    title: str
    text: str
    block: ClassVar[str] = "missing"


@dataclass(frozen=True)
class Segment:
    """One stage of the run as a bar of the timeline; ``weight`` is its share of the seconds."""

    label: str
    seconds: float
    tone: str
    weight: float


@dataclass(frozen=True)
class Timeline:
    segments: tuple[Segment, ...]
    block: ClassVar[str] = "timeline"


@dataclass(frozen=True)
class Columns:
    """Blocks side by side on a wide screen, one above the other on a narrow one."""

    left: tuple[Any, ...]
    right: tuple[Any, ...]
    block: ClassVar[str] = "columns"


Block = Paragraph | Heading | Facts | Plots | Table | Bullets | Missing | Timeline | Columns


def _flat(blocks: Iterable[Block]) -> Iterator[Block]:
    for block in blocks:
        if isinstance(block, Columns):
            yield from _flat(block.left)
            yield from _flat(block.right)
        else:
            yield block


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    """The report of one run folder. ``missing`` names the parts the folder lacks (bench.json,
    mcu/, ...), ``problems`` the optional files that exist but could not be read."""

    title: str
    subtitle: str
    chips: tuple[Value, ...]
    cards: tuple[Card, ...]
    sections: tuple[Section, ...]
    footnotes: tuple[Footnote, ...]
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def plots(self) -> tuple[Plot, ...]:
        blocks = (b for section in self.sections for b in _flat(section.blocks))
        return tuple(plot for b in blocks if isinstance(b, Plots) for plot in b.plots)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(b for section in self.sections for b in _flat(section.blocks) if isinstance(b, Table))

    def to_html(self) -> str:
        """The page: CSS inline, plots as data: URIs, no scripts, every text escaped."""
        import jinja2

        environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        return environment.from_string(PAGE).render(report=self, css=CSS, version=__version__)

    def to_markdown(self) -> str:
        """The same content as Markdown; plots are named and point to the HTML page."""
        return _markdown(self)

    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``report.html`` and ``report.md`` into ``folder``, each through a temporary file and
        a rename; returns their paths."""
        html_path = write_file_atomic(Path(folder) / HTML_NAME, self.to_html())
        return html_path, write_file_atomic(Path(folder) / MARKDOWN_NAME, self.to_markdown())


# --- reading the folder --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFolder:
    """The JSON files of one ``edgeq run`` output folder; optional parts are None when absent.

    ``inspections`` pairs each inspect/*.json file name with its content; ``firmware`` lists the
    mcu/ files with their sizes; ``problems`` names optional files that exist but cannot be read.
    """

    path: Path
    run: dict[str, Any]
    convert: dict[str, Any]
    inspections: tuple[tuple[str, dict[str, Any]], ...] = ()
    bench: dict[str, Any] | None = None
    firmware: tuple[tuple[str, int], ...] | None = None
    firmware_report: dict[str, Any] | None = None
    problems: tuple[str, ...] = ()


def read_run_folder(folder: str | Path) -> RunFolder:
    """Read ``folder``. Raises InputError (naming the problem and the fix) when it is not a folder,
    or run.json or convert/report.json is missing or unreadable; every other file is optional."""
    path = Path(folder)
    if not path.exists():
        raise InputError(f"{path}: no such folder; pass the output folder of edgeq run ([output] folder)")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; pass the output folder of edgeq run, not a file in it")
    run = _read_json(path / "run.json", "edgeq.run", "not an edgeq run folder? edgeq run writes it")
    convert_file = path / "convert" / "report.json"
    convert = _read_json(
        convert_file, "edgeq.convert", "edgeq run (or edgeq convert -o FOLDER/convert) writes it"
    )
    _require(convert, convert_file, ("source", "modes", "size_baseline"))
    for mode in convert["modes"]:
        _require(mode, convert_file, ("key", "label", "file", "size_bytes"))
    problems: list[str] = []

    def optional(file: Path, kind: str) -> dict[str, Any] | None:
        try:
            return _read_json(file, kind, "")
        except InputError as exc:
            problems.append(str(exc))
            return None

    inspections = []
    for file in sorted((path / "inspect").glob("*.json")) if (path / "inspect").is_dir() else []:
        data = optional(file, "edgeq.inspect")
        if data is not None:
            inspections.append((file.name, data))
    bench = optional(path / "bench.json", "edgeq.bench") if (path / "bench.json").exists() else None
    firmware = firmware_report = None
    mcu = path / "mcu"
    if mcu.is_dir():
        files = sorted(p for p in mcu.rglob("*") if p.is_file())
        firmware = tuple((p.relative_to(mcu).as_posix(), p.stat().st_size) for p in files)
        if (mcu / "report.json").is_file():
            try:
                firmware_report = json.loads((mcu / "report.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(f"{mcu / 'report.json'}: not valid JSON ({exc})")
    return RunFolder(
        path, run, convert, tuple(inspections), bench, firmware, firmware_report, tuple(problems)
    )


def _read_json(file: Path, kind: str, fix: str) -> dict[str, Any]:
    hint = f"; {fix}" if fix else ""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file}: missing{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot be read ({getattr(exc, 'strerror', None) or exc}){hint}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg}){hint}") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{file}: not an {kind} file (kind {found!r}){hint}")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(
            f"{file}: schema_version {version!r}; this edgeq reads up to {SCHEMA_VERSION}: upgrade"
        )
    return data


def _require(data: Any, file: Path, keys: Sequence[str]) -> None:
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise InputError(f"{file}: no {', '.join(missing)}; not written by edgeq convert? rerun edgeq run")


# --- building the report -------------------------------------------------------------------------


def build_report(folder: str | Path) -> Report:
    """Read ``folder`` and build its report. Raises InputError (see ``read_run_folder``), and
    ToolchainError when matplotlib, which draws the plots, is not installed."""
    return _Builder(read_run_folder(folder)).build()


def write_report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``folder``; returns their paths. Raises what
    ``build_report`` raises."""
    return build_report(folder).save(folder)


class _Notes:
    """Numbers each distinct (kind, how) once, in order of first use, for the footnotes."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}

    def figure(self, text: str, kind: str, how: str) -> Value:
        if kind not in KINDS:
            return Value(text)
        if kind == "estimated" and not how.lower().startswith("estimate"):
            how = f"estimate: {how}"  # an estimate always says so
        number = self._numbers.setdefault((kind, how), len(self._numbers) + 1)
        return Value("~" + text if kind == "estimated" else text, kind, how, number)

    def footnotes(self) -> tuple[Footnote, ...]:
        return tuple(Footnote(number, kind, how) for (kind, how), number in self._numbers.items())


UNEXPECTED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class _Builder:
    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.convert = folder.convert
        self.notes = _Notes()
        self.missing: list[str] = []
        self.labels = {mode["file"]: mode["label"] for mode in self.convert["modes"]}

    def build(self) -> Report:
        sections = (
            self._section("accuracy", "Accuracy and size", "convert/report.json", self._accuracy),
            self._section("layers", "Per-layer quantization error", "convert/report.json", self._layers),
            self._section("bench", "Benchmarks", "bench.json", self._bench, optional=True),
            self._section("model", "Model", "inspect/", self._model, optional=True),
            self._section("firmware", "Firmware bundle", "mcu/", self._firmware, optional=True),
            self._section("run", "Run and environment", "run.json", self._run),
        )
        cards = self._cards()  # after the sections: the notes are numbered in the sections' order
        source = self.convert["source"]
        subtitle = [f"{source.get('format', '')} model {source.get('path', '')}"]
        if source.get("sha256"):
            subtitle.append(f"sha256 {str(source['sha256'])[:16]}…")
        if source.get("parameters") is not None:
            subtitle.append(f"{source['parameters']:,} parameters")
        return Report(
            title=f"edgeq report: {Path(str(source.get('path', 'model'))).name}",
            subtitle=" · ".join(subtitle),
            chips=self._chips(),
            cards=cards,
            sections=sections,
            footnotes=self.notes.footnotes(),
            missing=tuple(self.missing),
            problems=self.folder.problems,
        )

    def _section(
        self, anchor: str, title: str, file: str, build: Callable[[], Iterator[Block]], optional: bool = False
    ) -> Section:
        """A section; an optional file with unexpected content gives a note instead of a crash."""
        try:
            return Section(anchor, title, tuple(build()))
        except UNEXPECTED as exc:
            problem = f"unexpected content ({type(exc).__name__} {exc})"
            if not optional:
                raise InputError(
                    f"{self.folder.path / file}: {problem}; rerun edgeq run to rewrite it"
                ) from exc
            self.missing.append(file)
            return Section(anchor, title, (Missing(f"{file} could not be read", problem),))

    # -- header and cards

    def _chips(self) -> tuple[Value, ...]:
        folder = self.folder
        modes, inspected = len(self.convert["modes"]), len(folder.inspections)
        chips = [
            Value(f"{modes} mode{'s' * (modes != 1)} converted", tone="good"),
            Value(f"{inspected} file{'s' * (inspected != 1)} inspected", tone="good")
            if inspected
            else Value("not inspected", tone="muted"),
            Value("firmware bundle", tone="good") if folder.firmware else Value("no firmware", tone="muted"),
        ]
        if folder.bench is None:
            chips.append(Value("not benchmarked", tone="muted"))
        else:
            results = folder.bench.get("results") or []
            ok = sum(1 for result in results if result.get("ok"))
            tone = "good" if ok == len(results) else "bad"
            chips.append(Value(f"{ok} of {len(results)} benchmarks ok", tone=tone))
        return tuple(chips)

    def _cards(self) -> tuple[Card, ...]:
        modes = [m for m in self.convert["modes"] if not m.get("problem")] or self.convert["modes"]
        smallest = min(modes, key=lambda m: m["size_bytes"])
        baseline = self.convert["size_baseline"]
        against = "the float32 file" if baseline["kind"] == "float32_tflite" else "float32 weights"
        ratio = smallest["size_bytes"] / baseline["size_bytes"]
        cards = [
            Card(
                "Smallest model",
                self.notes.figure(_kb(smallest["size_bytes"]), "measured", SIZE_HOW),
                f"{smallest['label']} · {ratio:.0%} of {against}",
            ),
            self._accuracy_card(smallest),
        ]
        try:
            cards += self._bench_cards()
        except UNEXPECTED:
            cards.append(Card("Fastest target", Value("unreadable"), "bench.json could not be read", "muted"))
        stages = self.folder.run.get("stages") or []
        ran = sum(1 for stage in stages if stage.get("status") == "ran")
        seconds = sum(float(stage.get("seconds") or 0) for stage in stages)
        detail = f"{len(stages)} stages: {ran} ran, {len(stages) - ran} reused"
        cards.append(Card("Run", self.notes.figure(f"{seconds:.1f} s", "measured", STAGE_HOW), detail))
        return tuple(cards)

    def _accuracy_card(self, mode: dict[str, Any]) -> Card:
        evaluation = mode.get("evaluation") or {}
        reference = self.convert.get("reference") or {}
        drop = mode.get("top1_drop_points")
        if drop is not None and evaluation.get("top1") is not None and reference.get("top1") is not None:
            tone = "good" if drop <= 0.5 else "warn" if drop <= 2 else "bad"
            detail = (
                f"top-1 {evaluation['top1'] * 100:.2f} % against {reference['top1'] * 100:.2f} % in float"
            )
            value = self.notes.figure(f"{drop:+.2f} pts", "measured", self._top1_how())
            return Card(f"Accuracy drop · {mode['label']}", value, detail, tone)
        worst = _worst_output(evaluation)
        if worst is not None and worst.get("relative_l2") is not None:
            value = self.notes.figure(f"{worst['relative_l2']:.3g}", "measured", self._fidelity_how())
            return Card(f"Output error · {mode['label']}", value, "relative L2 against the float model")
        return Card(
            "Accuracy drop", Value("not measured"), "converted without evaluation data (--eval)", "muted"
        )

    def _bench_cards(self) -> list[Card]:
        bench = self.folder.bench
        if bench is None or "bench.json" in self.missing:
            detail = "bench.json could not be read" if bench is not None else "no bench.json in the folder"
            return [Card("Fastest target", Value("not benchmarked"), detail, "muted")]
        ok = [result for result in bench.get("results") or [] if result.get("ok")]
        timed = [(result, _latency(result)) for result in ok if _latency(result) is not None]
        cards = []
        if timed:
            result, figure = min(timed, key=lambda pair: pair[1]["value"])
            value = self._figure(result, figure, f"{_ms(figure['value'])} ms")
            detail = f"{self._where(result)} · {result.get('runtime', '')}"
            cards.append(Card("Fastest target", value, detail, "good"))
        else:
            cards.append(Card("Fastest target", Value("no latency"), "no benchmark has a latency", "muted"))
        with_flash = [result for result in ok if "flash_bytes" in (result.get("figures") or {})]
        if with_flash:
            result = min(with_flash, key=lambda r: r["figures"]["flash_bytes"]["value"])
            figures = result["figures"]
            detail = ["flash"]
            if "ram_bytes" in figures:
                detail.append(f"{_kb(figures['ram_bytes']['value'])} RAM")
            latency = _latency(result)
            if latency is not None:
                detail.append(f"{'~' * (latency.get('kind') == 'estimated')}{_ms(latency['value'])} ms")
            detail.append(self._where(result))
            value = self._figure(result, figures["flash_bytes"], _kb(figures["flash_bytes"]["value"]))
            cards.append(Card("Microcontroller", value, " · ".join(detail)))
        return cards

    # -- accuracy and size

    def _top1_how(self) -> str:
        data = self.convert.get("evaluation_data") or {}
        return (
            f"top-1 on {data.get('samples', '?')} evaluation samples of {data.get('source', '?')}, run with "
            f"{self.convert.get('evaluation_kernels', 'LiteRT')}; drop: the float model's top-1 minus this "
            "mode's, in percentage points"
        )

    def _fidelity_how(self) -> str:
        samples = (self.convert.get("evaluation_data") or {}).get("samples", "?")
        return (
            f"outputs compared with the float model's on the same {samples} samples: agree = share with "
            "the same predicted class; rel L2, cosine, max abs err over all output values (worst output)"
        )

    def _accuracy(self) -> Iterator[Block]:
        from edgeq.results import SizeBaseline

        convert = self.convert
        source = convert["source"]
        baseline = SizeBaseline(convert["size_baseline"]["kind"], convert["size_baseline"]["size_bytes"])
        facts = [
            ("model", f"{source.get('path')} ({source.get('format')}), sha256 {source.get('sha256', '')}")
        ]
        for role, key in (("calibration data", "calibration"), ("evaluation data", "evaluation_data")):
            data = convert.get(key)
            if data:
                notes = "".join(f"; {note}" for note in data.get("notes") or [])
                facts.append((role, f"{data['source']} ({data['format']}, {data['samples']} samples{notes})"))
        pre = convert.get("preprocessing") or {}
        steps = ", ".join(f"{key} {pre[key]}" for key in ("scale", "mean", "std") if pre.get(key) is not None)
        if steps:
            facts.append(("preprocessing", f"{steps} ({pre.get('order')})"))
        facts.append(("size baseline", baseline.describe()))
        if convert.get("evaluation_kernels"):
            facts.append(("evaluated with", convert["evaluation_kernels"]))
        yield Facts.of(facts)
        yield Plots((self._accuracy_plot(), *self._fidelity_plot()))
        yield self._mode_table(baseline.describe())
        yield Bullets(tuple(self._accuracy_notes()))

    def _accuracy_plot(self) -> Plot:
        from edgeq.report import plots

        modes = self.convert["modes"]
        top1 = (self.convert.get("reference") or {}).get("top1")
        has_top1 = any((mode.get("evaluation") or {}).get("top1") is not None for mode in modes)
        points = []
        for mode in modes:
            evaluation = mode.get("evaluation") or {}
            if has_top1:
                y = evaluation["top1"] * 100 if evaluation.get("top1") is not None else None
            else:
                y = (_worst_output(evaluation) or {}).get("relative_l2")
            points.append(plots.Point(mode["label"], mode["size_bytes"] / 1024, y))
        baseline = self.convert["size_baseline"]
        reference = top1 * 100 if has_top1 and top1 is not None else None
        svg = plots.accuracy_vs_size(
            points,
            "top-1 accuracy (%)" if has_top1 else "relative L2 error vs float",
            reference=reference,
            reference_label=f"float model {reference:.2f} %" if reference is not None else "",
            baseline_kb=baseline["size_bytes"] / 1024,
            baseline_label="float32 file" if baseline["kind"] == "float32_tflite" else "float32 weights",
            log_y=not has_top1,
        )
        sources = [self.notes.figure("size", "measured", SIZE_HOW)]
        if not any(point.y is not None for point in points):
            return Plot("File size per mode (not evaluated)", svg, tuple(sources))
        how = self._top1_how() if has_top1 else self._fidelity_how()
        sources.append(self.notes.figure("top-1" if has_top1 else "rel L2", "measured", how))
        title = "Accuracy against file size" if has_top1 else "Error against file size"
        return Plot(title, svg, tuple(sources))

    def _fidelity_plot(self) -> Iterator[Plot]:
        from edgeq.report import plots

        bars = []
        for mode in self.convert["modes"]:
            worst = _worst_output(mode.get("evaluation")) or {}
            if worst.get("relative_l2"):
                bars.append(plots.Bar(mode["label"], worst["relative_l2"], "measured"))
        if bars:
            svg = plots.horizontal_bars(bars, "relative L2 error against the float model", log=True)
            source = self.notes.figure("rel L2", "measured", self._fidelity_how())
            yield Plot("Output error against the float model (worst output)", svg, (source,))

    def _mode_table(self, baseline: str) -> Table:
        convert = self.convert
        hows = {
            "size KB": SIZE_HOW,
            "x base": f"file size divided by {baseline}",
            "convert s": CONVERT_HOW,
        }
        if convert.get("reference") or any(mode.get("evaluation") for mode in convert["modes"]):
            hows |= dict.fromkeys(("top-1 %", "drop pts"), self._top1_how())
            hows |= dict.fromkeys(("agree %", "rel L2", "cosine", "max abs err"), self._fidelity_how())
        columns = [
            self.notes.figure(name, "measured", hows[name]) if name in hows else name for name in COLUMNS
        ]
        rows, styles = [], []
        reference = convert.get("reference")
        if reference:
            path = str(convert["source"].get("path", ""))
            rows.append(
                ["float model", path, "-", "-", "float32", _percent(reference.get("top1")), *["-"] * 6]
            )
            styles.append("reference")
        for mode in convert["modes"]:
            rows.append(_mode_cells(convert, mode))
            styles.append("failed" if mode.get("problem") else "")
        numeric = [name not in ("mode", "file", "I/O") for name in COLUMNS]
        return Table.of(columns, rows, numeric, styles)

    def _accuracy_notes(self) -> Iterator[str]:
        convert = self.convert
        if not convert.get("reference"):
            yield "No evaluation data (--eval): accuracy and fidelity were not measured."
        for mode in convert["modes"]:
            if mode.get("problem"):
                yield f"{mode['label']}: {mode['problem']}"
        if all(mode.get("runs_in_litert") for mode in convert["modes"]):
            yield "Every file loaded and ran in LiteRT (ai_edge_litert)."
        yield from coarse_input_notes(_convert_attributes(convert))
        yield from _mixed_and_qat_lines(convert)
        for mode in convert["modes"]:
            yield f"{mode['label']} ({mode['file']}): ops {', '.join(mode.get('ops') or [])}"

    # -- per-layer error

    def _layers(self) -> Iterator[Block]:
        from edgeq.report import plots

        errors = self.convert.get("layer_errors")
        if not errors:
            self.missing.append("per-layer error")
            yield Missing(
                "Per-layer error not measured",
                "convert ran without --layer-report: set layer_report = true in edgeq.toml's [convert], "
                "or run edgeq convert ... --layer-report -o OUT/convert.",
            )
            return
        names = [f"{e['op']} · {e.get('keras_layer') or 'op ' + str(e.get('op_index'))}" for e in errors]
        bars = [
            plots.Bar(name, e["normalized_rmse"], "measured") for name, e in zip(names, errors, strict=True)
        ]
        svg = plots.horizontal_bars(
            bars, "RMS error / output step", marker=ROUNDING_ALONE, marker_label="rounding alone", log=False
        )
        source = self.notes.figure("error / step", "measured", LAYER_NOTE)
        worst = errors[0]["normalized_rmse"]
        above = sum(1 for e in errors if e["normalized_rmse"] > ROUNDING_ALONE)
        summary = (
            f"Worst: {names[0]}, {worst:.3f} steps, {worst / ROUNDING_ALONE:.1f} times rounding alone.",
            f"{above} of {len(errors)} ops add more error than rounding alone ({ROUNDING_ALONE} steps): "
            "the candidates to keep in float (--max-drop) or to train for (edgeq qat).",
        )
        plot = Plots((Plot("Ranked per-layer error, worst first", svg, (source,)),))
        yield Columns((plot,), (Paragraph(LAYER_NOTE), Bullets(summary)))
        measured = ("error / step", "RMS error", "max abs error")
        columns = [
            self.notes.figure(c, "measured", LAYER_NOTE) if c in measured else c for c in LAYER_COLUMNS
        ]
        rows = [
            [
                str(e.get("rank", rank)),
                e["op"],
                e.get("keras_layer") or "-",
                f"{e['normalized_rmse']:.3f}",
                _number(e.get("rmse")),
                _number(e.get("max_abs_error")),
                _number(e.get("scale"), 5),
            ]
            for rank, e in enumerate(errors, 1)
        ]
        yield Table.of(columns, rows, [c not in ("op", "Keras layer") for c in LAYER_COLUMNS])

    # -- benchmarks

    def _where(self, result: dict[str, Any]) -> str:
        """``int8 on cortex-m4``: the mode (or file name) of a bench result and its target."""
        name = Path(str(result.get("model", ""))).name
        return f"{self.labels.get(name, name)} on {result['target']}"

    def _figure(self, result: dict[str, Any], figure: dict[str, Any], text: str) -> Value:
        how = str(figure.get("how", ""))
        cycles = (result.get("figures") or {}).get("cycles_per_inference")
        estimated_from_cycles = figure.get("kind") == "estimated" and figure is not cycles
        if estimated_from_cycles and cycles and cycles.get("kind") == "estimated":
            # the latency's how says "estimated cycles at N MHz": say how the cycles were estimated
            how = f"{how}; the cycles: {str(cycles.get('how', '')).removeprefix('estimate: ')}"
        return self.notes.figure(text, str(figure.get("kind")), how)

    def _bench(self) -> Iterator[Block]:
        bench = self.folder.bench
        if bench is None and (self.folder.path / "bench.json").exists():
            self.missing.append("bench.json")
            yield Missing(
                "Not benchmarked", "bench.json could not be read (see above); rerun edgeq bench --json"
            )
            return
        if bench is None:
            self.missing.append("bench.json")
            yield Missing(
                "Not benchmarked",
                "no bench.json in the folder: add a [bench] section to edgeq.toml, or run "
                "edgeq bench OUT/convert/MODEL.tflite --on host,cortex-m4 --json OUT/bench.json.",
            )
            return
        results = bench.get("results") or []
        charts = self._bench_plots([result for result in results if result.get("ok")])
        if charts:
            yield Plots(charts)
        yield self._bench_table(results)
        yield Bullets(tuple(self._bench_notes(results)))
        yield self._figures_table(results)

    def _bench_plots(self, results: list[dict[str, Any]]) -> tuple[Plot, ...]:
        from edgeq.report import plots

        def label(result: dict[str, Any]) -> str:
            return self._where(result).replace(" on ", " · ")

        charts = []
        for title, unit, scale, pick in (
            ("Latency per inference (ms)", "milliseconds", 1.0, _latency),
            (
                "Instructions per inference",
                "million instructions",
                1e6,
                _figure_named("instructions_per_inference"),
            ),
        ):
            picked = [(result, pick(result)) for result in results if pick(result) is not None]
            if picked:
                bars = [plots.Bar(label(r), f["value"] / scale, f.get("kind")) for r, f in picked]
                sources = _distinct([self._figure(r, f, str(f.get("kind"))) for r, f in picked])
                charts.append(Plot(title, plots.horizontal_bars(bars, unit), sources))
        for name, title in (("flash_bytes", "Flash (KB)"), ("ram_bytes", "RAM (KB)")):
            picked = [
                (result, result["figures"][name]) for result in results if name in result.get("figures", {})
            ]
            if picked:
                stacked = [
                    plots.StackedBar(
                        label(r), tuple((part, size / 1024) for part, size in _memory_parts(r, name))
                    )
                    for r, _ in picked
                ]
                sources = _distinct([self._figure(r, f, str(f.get("kind"))) for r, f in picked])
                charts.append(Plot(title, plots.stacked_bars(stacked, "KB"), sources))
        return tuple(charts)

    def _bench_table(self, results: list[dict[str, Any]]) -> Table:
        columns = ("model", "target", "runtime", "check", "latency ms", "instructions", "flash KB", "RAM KB")
        rows, styles = [], []
        for result in results:
            model = self._where(result).removesuffix(f" on {result['target']}")
            runtime = result.get("runtime") or "-"
            if result.get("error"):
                rows.append([model, result["target"], runtime, Value("failed", tone="bad"), *["-"] * 4])
                styles.append("failed")
                continue
            check = result.get("output_check")
            if check is None:
                verdict = Value("-")
            else:
                verdict = (
                    Value("identical", tone="good") if check.get("passed") else Value("DIFFERENT", tone="bad")
                )
            figures = result.get("figures") or {}
            rows.append(
                [
                    model,
                    result["target"],
                    runtime,
                    verdict,
                    self._cell(result, _latency(result), _ms),
                    self._cell(result, figures.get("instructions_per_inference"), lambda v: f"{v:,.0f}"),
                    self._cell(result, figures.get("flash_bytes"), _kb_number),
                    self._cell(result, figures.get("ram_bytes"), _kb_number),
                ]
            )
            styles.append("" if result.get("ok") else "failed")
        return Table.of(columns, rows, [c.endswith(("ms", "KB", "instructions")) for c in columns], styles)

    def _cell(
        self, result: dict[str, Any], figure: dict[str, Any] | None, show: Callable[[float], str]
    ) -> Cell:
        return "-" if figure is None else self._figure(result, figure, show(figure["value"]))

    def _bench_notes(self, results: list[dict[str, Any]]) -> Iterator[str]:
        for result in results:
            if result.get("error"):
                yield f"{self._where(result)} failed: {result['error']}"
                continue
            platform = result.get("platform") or {}
            keys = ("board", "emulator", "cpu", "processor", "machine")
            described = ", ".join(str(platform[key]) for key in keys if platform.get(key))
            if platform.get("clock_hz"):
                described += f", {platform['clock_hz'] / 1e6:g} MHz"
            check = result.get("output_check")
            if check:
                verdict = (
                    "identical to"
                    if check.get("passed")
                    else f"{check.get('differing_bytes')} bytes differ from"
                )
                detail = f"; {check['detail']}" if check.get("detail") else ""
                described += (
                    f"; output bytes {verdict} {', '.join(check.get('compared_with') or [])} "
                    f"({check.get('bytes_compared')} bytes compared{detail})"
                )
            for name, parts in (result.get("memory") or {}).items():
                if name in ("flash", "ram") and isinstance(parts, dict):
                    split = ", ".join(f"{part.replace('_', ' ')} {size:,}" for part, size in parts.items())
                    described += f"; {name} bytes: {split}"
            yield f"{self._where(result)}: {described or result.get('runtime', '')}"

    def _figures_table(self, results: list[dict[str, Any]]) -> Table:
        rows = []
        for result in results:
            model, target = self._where(result).split(" on ", 1)
            for name, figure in (result.get("figures") or {}).items():
                value = figure.get("value")
                text = f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
                kind, how = str(figure.get("kind", "")), str(figure.get("how", ""))
                rows.append(
                    [
                        model,
                        target,
                        name,
                        self._figure(result, figure, text),
                        figure.get("unit", ""),
                        kind,
                        how,
                    ]
                )
        columns = ("model", "target", "figure", "value", "unit", "kind", "how")
        numeric = [column == "value" for column in columns]
        return Table.of(
            columns, rows, numeric, caption=f"Every figure of bench.json ({len(rows)})", collapsed=True
        )

    # -- the model (inspect)

    def _model(self) -> Iterator[Block]:
        order = {f"{Path(mode['file']).stem}.json": i for i, mode in enumerate(self.convert["modes"])}
        inspections = sorted(
            self.folder.inspections, key=lambda item: (order.get(item[0], len(order)), item[0])
        )
        if not inspections:
            self.missing.append("inspect/")
            yield Missing(
                "No operator table",
                "no inspect/*.json in the folder: edgeq run writes them, or run "
                "edgeq inspect OUT/convert/MODEL.tflite --json > OUT/inspect/MODEL.json.",
            )
            return
        if len(inspections) > 1:
            yield self._inspect_summary(inspections)
        for index, (_, data) in enumerate(inspections):
            yield from self._inspection(data, collapsed=index > 0)
        names = {name for name, _ in inspections}
        left_out = [m["label"] for m in self.convert["modes"] if f"{Path(m['file']).stem}.json" not in names]
        if left_out:
            yield Bullets((f"Not inspected: {', '.join(left_out)} (no inspect/ file for it).",))

    def _inspect_summary(self, inspections: list[tuple[str, dict[str, Any]]]) -> Table:
        columns = ("file", "mode", "size KB", "ops", "parameters", "MACs", "activation plan KB",
                   "TFLM arena KB", "C engine RAM KB", "LiteRT")  # fmt: skip
        rows = []
        for _, data in inspections:
            model, totals, targets = data["model"], data["totals"], data.get("targets") or {}
            arena = ((targets.get("tflm") or {}).get("arena") or {}).get("minimum_bytes")
            engine = targets.get("edgeq_c_engine") or {}
            file = Path(model["path"]).name
            rows.append(
                [
                    file,
                    self.labels.get(file, "-"),
                    self.notes.figure(f"{model['size_bytes'] / 1024:,.1f}", "measured", SIZE_HOW),
                    str(totals["operators"]),
                    self.notes.figure(f"{totals['parameters']:,}", "counted", PARAMETERS_HOW),
                    self.notes.figure(f"{totals['macs']:,}", "counted", MACS_HOW),
                    self.notes.figure(
                        _kb_number(data["memory_plan"]["peak_bytes"]), "estimated", _plan_how(data)
                    ),
                    self.notes.figure(_kb_number(arena), "measured", _arena_how(data))
                    if arena
                    else Value("does not run", tone="bad"),
                    self.notes.figure(
                        _kb_number(engine["static_ram_bytes"]), "counted", engine.get("how", "")
                    )
                    if engine.get("supported")
                    else Value("unsupported", tone="muted"),
                    Value("runs", tone="good")
                    if (targets.get("litert") or {}).get("runs")
                    else Value("fails", tone="bad"),
                ]
            )
        numeric = [column not in ("file", "mode", "LiteRT") for column in columns]
        return Table.of(columns, rows, numeric, caption="Inspected files")

    def _inspection(self, data: dict[str, Any], collapsed: bool) -> Iterator[Block]:
        from edgeq.report import plots

        model, totals, plan = data["model"], data["totals"], data["memory_plan"]
        file = Path(model["path"]).name
        yield Heading(file + (f" · {self.labels[file]}" if file in self.labels else ""))
        facts: list[tuple[str, Cell]] = [
            (
                "size",
                self.notes.figure(
                    f"{model['size_bytes']:,} bytes, sha256 {model['sha256'][:16]}…", "measured", SIZE_HOW
                ),
            )
        ]
        for kind in ("inputs", "outputs"):
            for tensor in data.get(kind) or []:
                quant = (
                    ""
                    if tensor.get("scale") is None
                    else f", scale {tensor['scale']:.6g}, zero point {tensor['zero_point']}"
                )
                facts.append((kind[:-1], f"{tensor['name']} {tensor['dtype']} {tensor['shape']}{quant}"))
        weights = f"{totals['parameters']:,} ({totals['weight_bytes']:,} bytes of weights)"
        facts.append(("parameters", self.notes.figure(weights, "counted", PARAMETERS_HOW)))
        facts.append(("MACs per inference", self.notes.figure(f"{totals['macs']:,}", "counted", MACS_HOW)))
        quant = data.get("quantization") or {}
        if quant:
            floats = f"; float ops {', '.join(quant['float_ops'])}" if quant.get("float_ops") else ""
            channel, per_tensor = quant.get("per_channel_weights"), quant.get("per_tensor_weights")
            weights = f"weights per-channel {channel}, per-tensor {per_tensor}"
            facts.append(("quantization", f"{quant.get('scheme')}; {weights}{floats}"))
        planned = (
            f"{plan['peak_bytes']:,} bytes planned (at least {plan['lower_bound_bytes']:,} alive at once)"
        )
        facts.append(("activation memory", self.notes.figure(planned, "estimated", _plan_how(data))))
        facts += self._target_facts(data)
        charts: tuple[Block, ...] = ()
        operators = data["operators"]
        if operators:
            live = plan.get("live_bytes_per_op")
            svg = plots.per_operator(
                [f"{op['index']} {op['op']}" for op in operators],
                [op["macs"] for op in operators],
                [size / 1024 for size in live] if live else None,
            )
            sources = (
                self.notes.figure("MACs", "counted", MACS_HOW),
                self.notes.figure("live KB", "estimated", _plan_how(data)),
            )
            charts = (Plots((Plot("Work and activation memory per operator", svg, sources),)),)
        yield Columns((Facts.of(facts),), charts)
        columns = ["#", "op", "v", "output", self.notes.figure("params", "counted", PARAMETERS_HOW),
                   self.notes.figure("MACs", "counted", MACS_HOW), "details"]  # fmt: skip
        rows = [
            [
                str(op["index"]),
                op["op"],
                str(op.get("version", "")),
                "x".join(map(str, op.get("output_shape") or [])) or "scalar",
                f"{op['parameters']:,}",
                f"{op['macs']:,}",
                op.get("summary") or "",
            ]
            for op in operators
        ]
        numeric = [True, False, True, False, True, True, False]
        yield Table.of(
            columns, rows, numeric, caption=f"Operators of {file} ({len(rows)})", collapsed=collapsed
        )

    def _target_facts(self, data: dict[str, Any]) -> Iterator[tuple[str, Cell]]:
        targets = data.get("targets") or {}
        tflm = targets.get("tflm") or {}
        if tflm.get("runs") and tflm.get("arena"):
            arena = f"runs; minimum arena {tflm['arena']['minimum_bytes']:,} bytes"
            yield "TensorFlow Lite Micro", self.notes.figure(arena, "measured", _arena_how(data))
        else:
            op = f" at {tflm['failing_op']}" if tflm.get("failing_op") else ""
            yield "TensorFlow Lite Micro", Value(f"does not run{op}: {tflm.get('reason')}", tone="bad")
        engine = targets.get("edgeq_c_engine") or {}
        if engine.get("supported"):
            sizes = (
                f"{engine['static_ram_bytes']:,} bytes static RAM, {engine['constant_bytes']:,} of constants"
            )
            yield "edgeq C engine", self.notes.figure(sizes, "counted", engine.get("how", ""))
        elif engine:
            yield "edgeq C engine", Value(f"not supported: {engine.get('reason')}", tone="muted")
        litert = targets.get("litert") or {}
        runs = (
            Value("runs", tone="good")
            if litert.get("runs")
            else Value(f"fails: {litert.get('reason')}", tone="bad")
        )
        yield "LiteRT CPU", runs
        if targets.get("flex_ops"):
            yield (
                "Flex ops (TensorFlow runtime, not on MCUs)",
                Value(", ".join(targets["flex_ops"]), tone="bad"),
            )
        if targets.get("custom_ops"):
            yield "custom ops (need your own kernels)", Value(", ".join(targets["custom_ops"]), tone="bad")

    # -- firmware bundle

    def _firmware(self) -> Iterator[Block]:
        files = self.folder.firmware
        if files is None:
            self.missing.append("mcu/")
            yield Missing(
                "No firmware bundle",
                "no mcu/ folder: add an [export] section to edgeq.toml, or run "
                "edgeq export mcu OUT/convert/MODEL.tflite -o OUT/mcu.",
            )
            return
        facts: list[tuple[str, Cell]] = []
        export = (self.folder.run.get("config") or {}).get("export") or {}
        if export:
            facts.append(("configured", ", ".join(f"{key} {_plain(value)}" for key, value in export.items())))
        facts.append(("files", f"{len(files)} files, {sum(size for _, size in files):,} bytes"))
        report = self.folder.firmware_report or {}
        facts += [(key, str(report[key])) for key in ("template", "name") if report.get(key)]
        if report.get("ops"):
            facts.append(("ops", ", ".join(map(str, report["ops"]))))
        table = Table.of(("file", "bytes"), [(name, f"{size:,}") for name, size in files], (False, True))
        yield Columns((Facts.of(facts),), (table,))

    # -- the run and its environment

    def _run(self) -> Iterator[Block]:
        run = self.folder.run
        if run.get("config_file"):
            yield Facts.of([("configuration", str(run["config_file"]))])
        stages = run.get("stages") or []
        if stages:
            seconds = [float(stage.get("seconds") or 0) for stage in stages]
            total = sum(seconds) or 1.0
            tones = [_status_tone(stage.get("status")) for stage in stages]
            yield Timeline(
                tuple(
                    Segment(str(stage.get("name")), spent, tone, round(spent / total, 4))
                    for stage, spent, tone in zip(stages, seconds, tones, strict=True)
                )
            )
            columns = (
                "stage",
                "status",
                self.notes.figure("seconds", "measured", STAGE_HOW),
                "inputs sha256",
                "outputs",
            )
            rows = [
                [
                    str(stage.get("name")),
                    Value(str(stage.get("status")), tone=tone),
                    f"{spent:.2f}",
                    str(stage.get("inputs_sha256") or "-")[:16],
                    ", ".join(map(str, stage.get("outputs") or [])) or "-",
                ]
                for stage, spent, tone in zip(stages, seconds, tones, strict=True)
            ]
            yield Table.of(columns, rows, (False, False, True, False, False), caption="Stages")
        settings = [(key, value) for key, value in _flatten(run.get("config") or {})]
        config = Table.of(
            ("setting", "value"), settings, (False, False), caption="Configuration (edgeq.toml)"
        )
        yield Columns((config,), tuple(self._environment()))

    def _environment(self) -> Iterator[Block]:
        """Versions and toolchains as run.json, convert/report.json and bench.json report them; a
        component reported with different versions is highlighted."""
        reported: dict[tuple[str, str], list[str]] = {}

        def add(source: str, versions: Any) -> None:
            for name, version in (versions or {}).items():
                key = (str(name).lower().replace("_", "-"), str(version))  # ai_edge_litert = ai-edge-litert
                if source not in reported.setdefault(key, []):
                    reported[key].append(source)

        documents = [("run", self.folder.run), ("convert", self.convert)]
        if self.folder.bench is not None:
            documents.append(("bench", self.folder.bench))
        for source, document in documents:
            add(source, {"edgeq": document["edgeq_version"]} if document.get("edgeq_version") else {})
            add(source, document.get("environment"))
        for result in (self.folder.bench or {}).get("results") or []:
            add(f"bench ({result.get('target')})", result.get("toolchain"))
        versions_of: dict[str, int] = {}
        for name, _ in reported:
            versions_of[name] = versions_of.get(name, 0) + 1
        rows, styles = [], []
        for (name, version), sources in sorted(reported.items()):
            if "bench" in sources:  # bench's own environment covers what its targets report
                sources = [source for source in sources if not source.startswith("bench (")]
            rows.append((name, version, ", ".join(sources)))
            styles.append("warn" if versions_of[name] > 1 else "")
        columns = ("component", "version", "reported by")
        yield Table.of(columns, rows, (False, False, False), styles, caption="Environment")
        if any(styles):
            yield Bullets(("Highlighted: a component that different files report with different versions.",))


# --- small helpers -------------------------------------------------------------------------------


def _plan_how(data: dict[str, Any]) -> str:
    plan = data["memory_plan"]
    return (
        f"estimate: edgeq's offline placement of the activation tensors ({plan.get('strategy')}, "
        f"{plan.get('alignment')}-byte alignment), TensorFlow Lite Micro-style; not run on a device"
    )


def _arena_how(data: dict[str, Any]) -> str:
    arena = ((data.get("targets") or {}).get("tflm") or {}).get("arena") or {}
    note = f"; {arena['note']}" if arena.get("note") else ""
    return (
        "the smallest tensor arena with which the tflite-micro interpreter allocates and invokes the "
        f"model, found by trying smaller ones{note}"
    )


def _latency(result: dict[str, Any]) -> dict[str, Any] | None:
    figures = result.get("figures") or {}
    return next((figures[name] for name in LATENCY_FIGURES if name in figures), None)


def _figure_named(name: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    return lambda result: (result.get("figures") or {}).get(name)


def _memory_parts(result: dict[str, Any], figure_name: str) -> list[tuple[str, float]]:
    """flash_bytes or ram_bytes split into the parts of the result's memory breakdown when they add
    up to the figure (the benchmark harness left out), else one part, the total."""
    total = float(result["figures"][figure_name]["value"])
    parts = (result.get("memory") or {}).get("flash" if figure_name == "flash_bytes" else "ram")
    if isinstance(parts, dict):
        kept = [(name.replace("_", " "), float(size)) for name, size in parts.items()
                if name not in LEFT_OUT_OF_MEMORY and size]  # fmt: skip
        if kept and abs(sum(size for _, size in kept) - total) < 1:
            return kept
    return [("total", total)]


def _worst_output(evaluation: dict[str, Any] | None) -> dict[str, Any] | None:
    outputs = (evaluation or {}).get("outputs") or []
    if not outputs:
        return None
    return max(
        outputs, key=lambda out: float("inf") if out.get("relative_l2") is None else out["relative_l2"]
    )


def _mode_cells(convert: dict[str, Any], mode: dict[str, Any]) -> list[str]:
    """One row of report/convert.py's comparison table (the same COLUMNS), from report.json."""
    evaluation = mode.get("evaluation") or {}
    worst = _worst_output(evaluation) or {}
    drop = mode.get("top1_drop_points")
    inputs = mode.get("inputs") or []
    ratio = mode.get("size_ratio") or mode["size_bytes"] / convert["size_baseline"]["size_bytes"]
    return [
        mode["label"],
        mode["file"],
        f"{mode['size_bytes'] / 1024:.1f}",
        f"{ratio:.3f}",
        inputs[0]["dtype"] if inputs else "-",
        _percent(evaluation.get("top1")),
        "-" if drop is None else f"{drop:+.2f}",
        _percent(evaluation.get("agreement")),
        _number(worst.get("relative_l2")),
        _number(worst.get("cosine"), 6),
        _number(worst.get("max_abs_error")),
        f"{mode.get('conversion_seconds') or 0:.2f}",
    ]


def _convert_attributes(convert: dict[str, Any]) -> Any:
    """The attributes of a ConvertResult that report/convert.py's coarse_input_notes reads."""
    return types.SimpleNamespace(
        calibration=convert.get("calibration"),
        modes=[
            types.SimpleNamespace(
                label=mode["label"],
                inputs=[types.SimpleNamespace(**info) for info in mode.get("inputs") or []],
            )
            for mode in convert["modes"]
        ],
    )


def _mixed_and_qat_lines(convert: dict[str, Any]) -> Iterator[str]:
    """What --max-drop decided and what edgeq qat trained (report/convert.py's accuracy_lines)."""
    mixed = convert.get("mixed_precision")
    if mixed:
        yield (
            f"--max-drop {mixed['budget']:g} ({mixed['metric']}): {mixed['message']}; "
            f"{mixed.get('conversions_tried', 0)} conversion(s) tried."
        )
        if mixed.get("outcome") == "mixed" and mixed.get("float_kernels"):
            yield f"Float kernels the mixed model needs: {', '.join(mixed['float_kernels'])}."
        if mixed.get("tflm"):
            yield f"TensorFlow Lite Micro on the mixed model: {_tflm_sentence(mixed['tflm'])}."
    qat = convert.get("qat")
    if qat:
        final = {key: values[-1] for key, values in (qat.get("history") or {}).items() if values}
        trained = ", ".join(f"{key} {value:.4g}" for key, value in final.items())
        yield (
            f"QAT: {qat['epochs']} epoch(s) on {qat['train_samples']} samples, batch {qat['batch_size']}, "
            f"learning rate {qat['learning_rate']:g}, {qat['loss']}; last epoch: {trained}."
        )
        yield f"QAT method: {qat['method']}."
        if qat.get("tflm"):
            yield f"TensorFlow Lite Micro runs the QAT model: {_tflm_sentence(qat['tflm'])}."


def _tflm_sentence(check: dict[str, Any]) -> str:
    if not check.get("runs") or check.get("reason"):
        return f"fails ({check.get('reason')})"
    return (
        f"runs; outputs identical to LiteRT's reference kernels on {check.get('identical')} of "
        f"{check.get('samples')} samples (largest difference {check.get('max_abs_difference')})"
    )


def _status_tone(status: Any) -> str:
    return {"ran": "good", "reused": "info"}.get(str(status), "muted")


def _distinct(values: Sequence[Value]) -> tuple[Value, ...]:
    """One value per footnote, in order."""
    seen: dict[int | None, Value] = {}
    for value in values:
        seen.setdefault(value.note, value)
    return tuple(seen.values())


def _flatten(config: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", _plain(value)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _kb(size: float) -> str:
    return f"{size / 1024:,.1f} KB"


def _kb_number(size: float) -> str:
    return f"{size / 1024:,.1f}"


def _ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"


# --- Markdown ------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Text from the JSON, on one line and inert as HTML."""
    return html.escape(text, quote=False).replace("\n", " ")


def _md_value(value: Value, in_table: bool = False) -> str:
    text = _md(value.text).replace("|", "\\|") if in_table else _md(value.text)
    return text + (f" [{value.note}]" if value.note else "")


def _md_table(table: Table) -> list[str]:
    lines = [f"**{_md(table.caption)}**", ""] if table.caption else []
    lines.append("| " + " | ".join(_md_value(column, True) for column in table.columns) + " |")
    lines.append("|" + "".join("---:|" if right else "---|" for right in table.numeric))
    lines += ["| " + " | ".join(_md_value(cell, True) for cell in row) + " |" for row in table.rows]
    return [*lines, ""]


def _markdown(report: Report) -> str:
    lines = [f"# {_md(report.title)}", "", _md(report.subtitle), ""]
    lines += [" · ".join(_md(chip.text) for chip in report.chips), "", "## Summary", ""]
    lines += [
        f"- **{_md(card.label)}**: {_md_value(card.value)} — {_md(card.detail)}" for card in report.cards
    ]
    lines += ["", "Figures are measured, counted or estimated (~); [n] is the note saying how.", ""]
    lines += [f"> **Could not read**: {_md(problem)}\n" for problem in report.problems]
    for section in report.sections:
        lines += [f"## {_md(section.title)}", ""]
        for block in _flat(section.blocks):
            if isinstance(block, Paragraph):
                lines += [_md(block.text), ""]
            elif isinstance(block, Heading):
                lines += [f"### {_md(block.text)}", ""]
            elif isinstance(block, Facts):
                lines += [f"- {_md(name)}: {_md_value(value)}" for name, value in block.items] + [""]
            elif isinstance(block, Plots):
                lines += [f"*Plot in {HTML_NAME}: {_md(plot.title)}.*" for plot in block.plots] + [""]
            elif isinstance(block, Table):
                lines += _md_table(block)
            elif isinstance(block, Bullets) and block.items:
                lines += [f"- {_md(item)}" for item in block.items] + [""]
            elif isinstance(block, Missing):
                lines += [f"> **{_md(block.title)}**: {_md(block.text)}", ""]
            # a Timeline draws the stages table's seconds: nothing to add in Markdown
    lines += ["## How each figure was obtained", ""]
    lines += [f"{note.number}. **{note.kind}**: {_md(note.how)}" for note in report.footnotes]
    lines += ["", f"Written by edgeq {__version__} (edgeq report)."]
    return "\n".join(lines) + "\n"


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f3f4f6; --panel: #fff;
  --accent: #2563eb; --measured: #0f766e; --counted: #4f46e5; --estimated: #b45309;
  --good: #15803d; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1160px; margin: 0 auto; padding: 0 24px; }
header.top { background: linear-gradient(120deg, #0f172a 0%, #1e3a8a 55%, #2563eb 100%); color: #fff;
  padding: 30px 0 70px; }
header.top .eyebrow { font-size: 12px; letter-spacing: .12em; text-transform: uppercase; opacity: .7; }
header.top h1 { margin: 4px 0 6px; font-size: 28px; font-weight: 700; letter-spacing: -.01em; }
header.top .sub { opacity: .8; font-size: 13px; overflow-wrap: anywhere; }
.chips { margin-top: 14px; display: flex; flex-wrap: wrap; gap: 8px; }
.chip { font-size: 12px; padding: 3px 10px; border-radius: 999px; background: rgba(255,255,255,.14);
  border: 1px solid rgba(255,255,255,.25); }
.chip.muted { opacity: .6; border-style: dashed; }
.chip.bad { background: rgba(239,68,68,.35); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px;
  margin-top: -46px; }
.card { background: var(--panel); border-radius: 12px; padding: 14px 18px 16px;
  border-top: 4px solid var(--accent);
  box-shadow: 0 1px 2px rgba(15,23,42,.06), 0 6px 18px rgba(15,23,42,.08); }
.card.good { border-top-color: var(--good); } .card.warn { border-top-color: #f59e0b; }
.card.bad { border-top-color: var(--bad); } .card.muted { border-top-color: #cbd5e1; }
.card .label { font-size: 11px; font-weight: 700; letter-spacing: .07em; text-transform: uppercase;
  color: var(--muted); }
.card .value { font-size: 25px; font-weight: 700; margin: 4px 0 2px; font-variant-numeric: tabular-nums;
  letter-spacing: -.01em; }
.card.muted .value { color: var(--muted); font-size: 20px; }
.card .detail { font-size: 12.5px; color: var(--muted); }
.legend { margin: 16px 2px 0; font-size: 12.5px; color: var(--muted); display: flex; flex-wrap: wrap;
  gap: 6px 18px; }
.legend .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }
nav.toc { margin: 10px 2px 0; display: flex; flex-wrap: wrap; gap: 6px; }
nav.toc a { font-size: 12.5px; color: var(--accent); text-decoration: none; padding: 3px 10px;
  border-radius: 999px; background: #eef2ff; border: 1px solid #c7d2fe; }
section.panel { background: var(--panel); border-radius: 12px; padding: 22px 26px; margin: 18px 0;
  box-shadow: 0 1px 2px rgba(15,23,42,.05), 0 4px 14px rgba(15,23,42,.05); }
section.panel h2 { margin: 0 0 14px; font-size: 19px; letter-spacing: -.01em; }
section.panel h3 { margin: 26px 0 10px; font-size: 15px; padding-top: 16px;
  border-top: 1px solid var(--line); }
p { margin: 8px 0; color: #374151; font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 5px 18px;
  margin: 4px 0 14px; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.facts dd .fig { white-space: normal; }
dl.facts dd .pill { display: inline; padding: 0; background: none; border-radius: 0; font-size: inherit; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px;
  margin: 14px 0; align-items: start; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 8px 28px;
  align-items: start; }
.columns > div { min-width: 0; }
.columns > div > .plots { grid-template-columns: 1fr; }
.columns > div > :first-child { margin-top: 6px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px 10px;
  background: #fcfcfd; }
figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 13px; font-weight: 600; margin-bottom: 6px; display: flex; flex-wrap: wrap;
  justify-content: space-between; gap: 8px; }
figcaption .src { font-weight: 400; color: var(--muted); font-size: 12px; }
.table-wrap { overflow-x: auto; margin: 10px 0 6px; }
.caption { font-size: 12px; font-weight: 700; letter-spacing: .05em; text-transform: uppercase;
  color: var(--muted); margin: 16px 0 2px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th { text-align: left; font-weight: 600; color: var(--muted); padding: 7px 10px; white-space: nowrap;
  border-bottom: 2px solid var(--line); background: #f9fafb; }
td { padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.long { overflow-wrap: anywhere; min-width: 12em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover td { background: #f8fafc; }
tr.reference td { color: var(--muted); font-style: italic; }
tr.failed td { background: #fef2f2; }
tr.warn td { background: #fffbeb; }
details { margin: 12px 0; }
details summary { cursor: pointer; font-size: 13px; font-weight: 600; color: var(--accent); }
ul.notes { margin: 10px 0 4px; padding-left: 18px; font-size: 12.5px; color: #4b5563; }
ul.notes li { margin: 3px 0; }
.missing { border-left: 4px solid #f59e0b; background: #fffbeb; padding: 10px 14px; border-radius: 6px;
  font-size: 13px; margin: 8px 0; }
.missing strong { display: block; margin-bottom: 2px; }
.missing.problem { border-left-color: var(--bad); background: #fef2f2; }
.fig { white-space: nowrap; }
.fig sup { font-size: 9.5px; font-weight: 700; margin-left: 1px; }
.fig sup a { text-decoration: none; color: inherit; }
.k-measured sup, .kind.k-measured { color: var(--measured); }
.k-counted sup, .kind.k-counted { color: var(--counted); }
.k-estimated, .k-estimated sup { color: var(--estimated); }
.tag { font-size: 10px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; padding: 0 4px;
  border-radius: 3px; margin-left: 4px; background: #fef3c7; color: #92400e; vertical-align: 1px; }
.pill { display: inline-block; font-size: 11.5px; font-weight: 600; padding: 0 8px; border-radius: 999px; }
.pill.good { background: #dcfce7; color: #166534; } .pill.bad { background: #fee2e2; color: #991b1b; }
.pill.info { background: #e0e7ff; color: #3730a3; } .pill.muted { background: #f3f4f6; color: #6b7280; }
.timeline { display: flex; gap: 3px; margin: 6px 0 4px; height: 34px; }
.timeline .seg { min-width: 72px; border-radius: 6px; color: #fff; font-size: 11.5px; padding: 3px 8px;
  line-height: 1.25; overflow: hidden; white-space: nowrap; }
.timeline .seg.good { background: #2563eb; } .timeline .seg.info { background: #94a3b8; }
.timeline .seg.muted { background: #cbd5e1; color: #334155; }
.timeline .seg span { display: block; opacity: .85; font-size: 10.5px; }
ol.footnotes { font-size: 12.5px; color: #374151; padding-left: 26px; margin: 4px 0; }
ol.footnotes li { margin: 4px 0; }
ol.footnotes .kind { font-weight: 700; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 36px; }
@media print {
  body { background: #fff; }
  section.panel, .card { box-shadow: none; border: 1px solid var(--line); }
  header.top { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

# Autoescaped: every text from the JSON files reaches the page through {{ }} and is escaped.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="edgeq {{ version }}">
<title>{{ report.title }}</title>
<style>{{ css }}</style>
</head>
<body>
{%- macro value(v) -%}
{%- if v.kind -%}
<span class="fig k-{{ v.kind }}" title="{{ v.kind }}: {{ v.how }}">{{ v.text }}
{%- if v.kind == "estimated" %}<span class="tag">est</span>{% endif -%}
<sup><a href="#note-{{ v.note }}">{{ v.note }}</a></sup></span>
{%- elif v.tone -%}<span class="pill {{ v.tone }}">{{ v.text }}</span>
{%- else -%}{{ v.text }}{%- endif -%}
{%- endmacro %}
{%- macro table(t) -%}
<div class="table-wrap"><table>
<thead><tr>
{%- for c in t.columns %}<th{% if t.numeric[loop.index0] %} class="num"{% endif %}>{{ value(c) }}</th>
{%- endfor %}</tr></thead>
<tbody>
{%- for row in t.rows %}
<tr{% if t.styles and t.styles[loop.index0] %} class="{{ t.styles[loop.index0] }}"{% endif %}>
{%- for cell in row %}
{%- if t.numeric[loop.index0] %}<td class="num">
{%- elif cell.text|length > 32 %}<td class="long">
{%- else %}<td>{% endif %}{{ value(cell) }}</td>
{%- endfor %}</tr>
{%- endfor %}
</tbody></table></div>
{%- endmacro %}
{%- macro render(b) -%}
{%- if b.block == "paragraph" %}
<p>{{ b.text }}</p>
{%- elif b.block == "heading" %}
<h3>{{ b.text }}</h3>
{%- elif b.block == "facts" %}
<dl class="facts">{% for name, v in b.items %}<dt>{{ name }}</dt><dd>{{ value(v) }}</dd>{% endfor %}</dl>
{%- elif b.block == "plots" %}
<div class="plots">
{%- for plot in b.plots %}
<figure><figcaption>{{ plot.title }}<span class="src">
{%- for s in plot.sources %}{{ value(s) }}{% if not loop.last %} · {% endif %}{% endfor -%}
</span></figcaption>
<img src="{{ plot.data_uri }}" alt="{{ plot.title }}"></figure>
{%- endfor %}
</div>
{%- elif b.block == "table" and b.collapsed %}
<details><summary>{{ b.caption }}</summary>{{ table(b) }}</details>
{%- elif b.block == "table" %}
{% if b.caption %}<div class="caption">{{ b.caption }}</div>{% endif %}{{ table(b) }}
{%- elif b.block == "bullets" and b.items %}
<ul class="notes">{% for item in b.items %}<li>{{ item }}</li>{% endfor %}</ul>
{%- elif b.block == "missing" %}
<div class="missing"><strong>{{ b.title }}</strong>{{ b.text }}</div>
{%- elif b.block == "timeline" %}
<div class="timeline">
{%- for s in b.segments %}
<div class="seg {{ s.tone }}" style="flex: {{ s.weight }} 1 0"
 title="{{ s.label }}: {{ '%.2f' % s.seconds }} s">{{ s.label }}<span>{{ '%.1f' % s.seconds }} s</span></div>
{%- endfor %}
</div>
{%- elif b.block == "columns" %}
<div class="columns"><div>{% for inner in b.left %}{{ render(inner) }}{% endfor %}</div>
<div>{% for inner in b.right %}{{ render(inner) }}{% endfor %}</div></div>
{%- endif %}
{%- endmacro %}
<header class="top"><div class="wrap">
<div class="eyebrow">edgeq report</div>
<h1>{{ report.title }}</h1>
<div class="sub">{{ report.subtitle }}</div>
<div class="chips">
{%- for chip in report.chips %}<span class="chip {{ chip.tone }}">{{ chip.text }}</span>{% endfor -%}
</div>
</div></header>
<main class="wrap">
<div class="cards">
{%- for card in report.cards %}
<div class="card {{ card.tone }}"><div class="label">{{ card.label }}</div>
<div class="value">{{ value(card.value) }}</div><div class="detail">{{ card.detail }}</div></div>
{%- endfor %}
</div>
<div class="legend"><span>Every figure says where it comes from:</span>
<span><i class="dot" style="background: #0f766e"></i>measured</span>
<span><i class="dot" style="background: #4f46e5"></i>counted</span>
<span><i class="dot" style="background: #d97706"></i>estimated (~, <span class="tag">est</span>)</span>
<span>hover a figure for how; its small number is the note at the end that says so.</span></div>
<nav class="toc">
{%- for section in report.sections %}<a href="#{{ section.anchor }}">{{ section.title }}</a>{% endfor -%}
<a href="#notes">How figures were obtained</a></nav>
{%- for problem in report.problems %}
<div class="missing problem"><strong>Could not read</strong>{{ problem }}</div>
{%- endfor %}
{%- for section in report.sections %}
<section class="panel" id="{{ section.anchor }}">
<h2>{{ section.title }}</h2>
{%- for b in section.blocks %}{{ render(b) }}{% endfor %}
</section>
{%- endfor %}
<section class="panel" id="notes">
<h2>How each figure was obtained</h2>
<ol class="footnotes">
{%- for note in report.footnotes %}
<li id="note-{{ note.number }}">
<span class="kind k-{{ note.kind }}">{{ note.kind }}</span>: {{ note.how }}</li>
{%- endfor %}
</ol>
</section>
</main>
<footer>Written by edgeq {{ version }} (edgeq report) from the JSON files of the run folder.
A static page: no scripts, no network.</footer>
</body>
</html>
"""
