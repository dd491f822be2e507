"""The report as Markdown: the same content as the page, plots named and pointing to it. Text from
the JSON files stays on one line and inert as HTML."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from edgeq.report.document import (
    HTML_NAME,
    Bullets,
    Facts,
    Heading,
    Missing,
    Paragraph,
    Plots,
    Table,
    Value,
    flat,
)
from edgeq.version import __version__

if TYPE_CHECKING:
    from edgeq.report.page import Report


def render(report: Report) -> str:
    """The whole report; a Timeline adds nothing (the stages table has its seconds)."""
    lines = [f"# {_md(report.title)}", "", _md(report.subtitle), ""]
    lines += [" · ".join(_md(chip.text) for chip in report.chips), "", "## Summary", ""]
    lines += [
        f"- **{_md(card.label)}**: {_md_value(card.value)} — {_md(card.detail)}" for card in report.cards
    ]
    lines += ["", "Figures are measured, counted or estimated (~); [n] is the note saying how.", ""]
    lines += [f"> **Could not read**: {_md(problem)}\n" for problem in report.problems]
    for section in report.sections:
        lines += [f"## {_md(section.title)}", ""]
        for block in flat(section.blocks):
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
    lines += ["## How each figure was obtained", ""]
    lines += [f"{note.number}. **{note.kind}**: {_md(note.how)}" for note in report.footnotes]
    lines += ["", f"Written by edgeq {__version__} (edgeq report)."]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
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
