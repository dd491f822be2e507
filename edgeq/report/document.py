"""The report as a document: cards, then sections of facts, plots and tables, every figure tagged
measured / counted / estimated with the number of the note saying how. The sections build it,
the page template and ``markdown`` render it."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


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


def flat(blocks: Iterable[Block]) -> Iterator[Block]:
    """The blocks with those of every Columns in its place, left then right."""
    for block in blocks:
        if isinstance(block, Columns):
            yield from flat(block.left)
            yield from flat(block.right)
        else:
            yield block


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    blocks: tuple[Block, ...]
