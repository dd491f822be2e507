"""The sections of the report, one module each; every section reads the typed folder through one
Context, which numbers the figures' notes and collects what the folder lacks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeq.report.figures import Notes

if TYPE_CHECKING:
    from edgeq.report.folder import RunFolder


class Context:
    """What the sections share: the folder, its convert result, the notes, the mode label of each
    .tflite file name, and ``missing``, the parts of the run the folder lacks."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.convert = folder.convert
        self.notes = Notes()
        self.missing: list[str] = []
        self.labels = {mode.file_name: mode.label for mode in self.convert.modes}
