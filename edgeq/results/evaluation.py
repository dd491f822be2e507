"""How close a converted model is to the float model: per-output fidelity, accuracy, and TFLite
Micro's outputs against LiteRT's reference kernels, as data (``edgeq.conversion.evaluate`` computes
them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class OutputFidelity:
    """How close one output of a converted model is to the float model's, over all samples."""

    output: int
    relative_l2: float
    cosine: float
    max_abs_error: float
    rmse: float
    mae: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "relative_l2": _json_float(self.relative_l2),
            "cosine": _json_float(self.cosine),
            "max_abs_error": _json_float(self.max_abs_error),
            "rmse": _json_float(self.rmse),
            "mae": _json_float(self.mae),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputFidelity:
        """Read ``to_dict``'s output: JSON has no infinity, so a null error reads as infinite and a
        null cosine as NaN."""
        errors = {
            key: _read_float(data[key], math.inf) for key in ("relative_l2", "max_abs_error", "rmse", "mae")
        }
        return cls(output=int(data["output"]), cosine=_read_float(data["cosine"], math.nan), **errors)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and fidelity of one model on the evaluation set.

    ``top1`` is a fraction (None without labels or for non-classifiers); ``agreement`` is the
    fraction of samples whose arg-max equals the float model's (None for non-classifiers).
    """

    samples: int
    top1: float | None
    agreement: float | None
    outputs: tuple[OutputFidelity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "top1": self.top1,
            "agreement": self.agreement,
            "outputs": [fidelity.to_dict() for fidelity in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(
            samples=int(data["samples"]),
            top1=data.get("top1"),
            agreement=data.get("agreement"),
            outputs=tuple(OutputFidelity.from_dict(output) for output in data.get("outputs") or ()),
        )


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _read_float(value: float | None, missing: float) -> float:
    return missing if value is None else float(value)
