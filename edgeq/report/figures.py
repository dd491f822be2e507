"""How the report writes its figures: each tagged measured / counted / estimated and numbered with
the note saying how (one note per distinct how), the how texts several sections share, and the
number formats."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgeq.report.document import Footnote, Value

KINDS = ("measured", "counted", "estimated")

SIZE_HOW = "size of the .tflite file in bytes (KB = 1,024 bytes)"
STAGE_HOW = "wall-clock seconds of the stage in edgeq run (0 when reused: its inputs' sha256 was unchanged)"
PARAMETERS_HOW = "counted from the .tflite graph: elements of the constant (weight and bias) tensors"
MACS_HOW = "counted from the .tflite graph: multiply-accumulates implied by each operator's tensor shapes"
CONVERT_HOW = "wall-clock seconds of TensorFlow's converter, calibration included"


class Notes:
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


def distinct(values: Sequence[Value]) -> tuple[Value, ...]:
    """One value per footnote, in order."""
    seen: dict[int | None, Value] = {}
    for value in values:
        seen.setdefault(value.note, value)
    return tuple(seen.values())


def plain(value: Any) -> str:
    """A configuration value as text: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def kb(size: float) -> str:
    return f"{size / 1024:,.1f} KB"


def kb_number(size: float) -> str:
    return f"{size / 1024:,.1f}"


def ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"
