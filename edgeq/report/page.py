"""``edgeq report``: one self-contained HTML page, and the same content as Markdown, from the output
folder of ``edgeq run``. The folder is read into typed results (``folder``), each section builds
its blocks from them (``sections``), and the Report is rendered twice: HTML through the page
template (autoescaped: every text from the JSON files is escaped), Markdown by ``markdown``.
Nothing time-dependent is added, so the same folder gives the same bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edgeq import templates
from edgeq.errors import InputError, first_line
from edgeq.outputs import write_file_atomic
from edgeq.report import markdown
from edgeq.report.document import (
    HTML_NAME,
    MARKDOWN_NAME,
    Block,
    Card,
    Columns,
    Footnote,
    Missing,
    Plot,
    Plots,
    Section,
    Table,
    Value,
    flat,
)
from edgeq.report.folder import UNEXPECTED, read_run_folder
from edgeq.report.sections import (
    Context,
    accuracy,
    bench,
    environment,
    firmware,
    layers,
    model,
    stages,
    summary,
)
from edgeq.version import __version__

PACKAGE = "edgeq.report"  # the page template and its stylesheet are this package's data
PAGE_TEMPLATE = "templates/page.html.j2"
STYLESHEET = "templates/report.css"


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
        blocks = (b for section in self.sections for b in flat(section.blocks))
        return tuple(plot for b in blocks if isinstance(b, Plots) for plot in b.plots)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(b for section in self.sections for b in flat(section.blocks) if isinstance(b, Table))

    def to_html(self) -> str:
        """The page: CSS inline, plots as data: URIs, no scripts, every text escaped."""
        page = templates.environment(PACKAGE, autoescape=True).get_template(PAGE_TEMPLATE)
        return page.render(report=self, css=templates.read_text(PACKAGE, STYLESHEET), version=__version__)

    def to_markdown(self) -> str:
        """The same content as Markdown; plots are named and point to the HTML page."""
        return markdown.render(self)

    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``report.html`` and ``report.md`` into ``folder``, each through a temporary file and
        a rename; returns their paths. Both are rendered before either is written, so a failure
        leaves neither half of the pair; a value of the folder's JSON files of an unexpected type
        (edited by hand, or by another program) is an InputError naming it."""
        try:
            html, markdown = self.to_html(), self.to_markdown()
        except UNEXPECTED as exc:
            raise InputError(
                f"{folder}: its JSON files hold a value of an unexpected type ({type(exc).__name__}: "
                f"{first_line(exc, 100)}): rerun the command that wrote them"
            ) from exc
        html_path = write_file_atomic(Path(folder) / HTML_NAME, html)
        return html_path, write_file_atomic(Path(folder) / MARKDOWN_NAME, markdown)


def build_report(folder: str | Path) -> Report:
    """Read ``folder`` and build its report. Raises InputError (see ``read_run_folder``), and
    ToolchainError when matplotlib, which draws the plots, is not installed."""
    context = Context(read_run_folder(folder))

    def run_section() -> Iterator[Block]:
        yield from stages.blocks(context)
        if context.folder.written_by == "edgeq run":
            yield Columns((stages.configuration(context),), tuple(environment.blocks(context)))
        else:
            yield from environment.blocks(context)

    sections = (
        _section(context, "accuracy", "Accuracy and size", "convert/report.json", accuracy.blocks),
        _section(context, "layers", "Per-layer quantization error", "convert/report.json", layers.blocks),
        _section(context, "bench", "Benchmarks", "bench.json", bench.blocks, optional=True),
        _section(context, "model", "Model", "inspect/", model.blocks, optional=True),
        _section(context, "firmware", "Firmware bundle", "mcu/", firmware.blocks, optional=True),
        _section(context, "run", "Run and environment", "run.json", lambda _: run_section()),
    )
    cards = summary.cards(context)  # after the sections: the notes are numbered in the sections' order
    return Report(
        title=summary.title(context),
        subtitle=summary.subtitle(context),
        chips=summary.chips(context),
        cards=cards,
        sections=sections,
        footnotes=context.notes.footnotes(),
        missing=tuple(context.missing),
        problems=context.folder.problems,
    )


def write_report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``folder``; returns their paths. Raises what
    ``build_report`` raises."""
    return build_report(folder).save(folder)


def _section(
    context: Context,
    anchor: str,
    title: str,
    file: str,
    build: Callable[[Context], Iterable[Block]],
    optional: bool = False,
) -> Section:
    """A section; content the typed reading let through but the section cannot show gives a note
    instead of a crash for an optional file, one line naming the file for a required one."""
    try:
        return Section(anchor, title, tuple(build(context)))
    except UNEXPECTED as exc:
        problem = f"unexpected content ({type(exc).__name__} {exc})"
        if not optional:
            raise InputError(
                f"{context.folder.path / file}: {problem}; rerun edgeq run to rewrite it"
            ) from exc
        context.missing.append(file)
        return Section(anchor, title, (Missing(f"{file} could not be read", problem),))
