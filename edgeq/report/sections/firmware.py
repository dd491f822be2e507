"""The firmware bundle: how mcu/ was configured and the files it holds."""

from __future__ import annotations

from collections.abc import Iterator

from edgeq.report.document import Block, Cell, Columns, Facts, Missing, Table
from edgeq.report.figures import plain
from edgeq.report.sections import Context


def blocks(context: Context) -> Iterator[Block]:
    firmware = context.folder.firmware
    if firmware is None:
        context.missing.append("mcu/")
        yield Missing(
            "No firmware bundle",
            "no mcu/ folder: add an [export] section to edgeq.toml, or run "
            "edgeq export mcu OUT/convert/MODEL.tflite -o OUT/mcu.",
        )
        return
    facts: list[tuple[str, Cell]] = []
    export = context.folder.run.config.get("export") or {}
    if export:
        facts.append(("configured", ", ".join(f"{key} {plain(value)}" for key, value in export.items())))
    files = firmware.files
    facts.append(("files", f"{len(files)} files, {sum(size for _, size in files):,} bytes"))
    facts += [
        (key, value) for key, value in (("template", firmware.template), ("name", firmware.name)) if value
    ]
    if firmware.ops:
        facts.append(("ops", ", ".join(firmware.ops)))
    table = Table.of(("file", "bytes"), [(name, f"{size:,}") for name, size in files], (False, True))
    yield Columns((Facts.of(facts),), (table,))
