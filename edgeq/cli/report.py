"""``edgeq report``: one self-contained HTML page and a Markdown twin from an ``edgeq run`` folder,
or from one ``edgeq convert -o`` wrote."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeq.cli.common import stdout


def report(
    folder: Path = typer.Argument(
        ..., help="An output folder of edgeq run (run.json, convert/, ...) or of edgeq convert -o."
    ),
    open_page: bool = typer.Option(False, "--open", help="Open report.html in the web browser."),
) -> None:
    """Write FOLDER/report.html (plots and tables in one file, no network) and FOLDER/report.md."""
    from edgeq.report.page import build_report

    result = build_report(folder)
    html_path, markdown_path = result.save(folder)
    stdout.print(
        f"wrote {html_path} ({len(result.plots)} plots, {len(result.tables)} tables) and {markdown_path}"
    )
    if result.missing:
        stdout.print(f"  not in the report: {', '.join(result.missing)} (it says how to add them)")
    for problem in result.problems:
        stdout.print(f"  [yellow]could not read[/yellow] {problem}", soft_wrap=True)
    if open_page:
        import webbrowser

        uri = html_path.resolve().as_uri()
        if not webbrowser.open(uri):
            stdout.print(f"  no web browser found: open {uri}")
    if result.problems:  # the report was written without them: say so in the exit code too
        from edgeq.errors import InputError

        raise InputError(
            f"{len(result.problems)} file(s) of {folder} could not be read and are left out of the report "
            "(listed above): rerun the command that writes them"
        )
