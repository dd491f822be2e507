"""Frozen results returned by the public API, with ``to_dict()`` for JSON and ``save()`` for files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeq.conversion.evaluate import Evaluation
from edgeq.outputs import atomic_output_dir
from edgeq.runtimes.tensors import TensorInfo

if TYPE_CHECKING:
    from edgeq.conversion.mixed import Trial
    from edgeq.conversion.qat import QATLayer
    from edgeq.conversion.sensitivity import LayerError
    from edgeq.runtimes.runners import TFLMCheck

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModeResult:
    """One converted .tflite file: its bytes, size, ops, I/O tensors and evaluation."""

    key: str
    label: str
    scheme: str
    io: str
    file_name: str
    tflite: bytes = field(repr=False)
    conversion_seconds: float
    ops: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    runs_in_litert: bool
    evaluation: Evaluation | None = None
    problem: str | None = None

    @property
    def size_bytes(self) -> int:
        return len(self.tflite)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "scheme": self.scheme,
            "io": self.io,
            "file": self.file_name,
            "size_bytes": self.size_bytes,
            "conversion_seconds": round(self.conversion_seconds, 3),
            "ops": list(self.ops),
            "inputs": [info.to_dict() for info in self.inputs],
            "outputs": [info.to_dict() for info in self.outputs],
            "runs_in_litert": self.runs_in_litert,
            "evaluation": self.evaluation.to_dict() if self.evaluation else None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class SizeBaseline:
    """What size ratios divide by: the float32 .tflite when converted, else 4 bytes per parameter."""

    kind: str
    size_bytes: int

    def describe(self) -> str:
        if self.kind == "float32_tflite":
            return f"the float32 .tflite file ({self.size_bytes:,} bytes)"
        return (
            f"float32 weights, 4 bytes per parameter ({self.size_bytes:,} bytes; no float32 file converted)"
        )


@dataclass(frozen=True)
class MixedPrecision:
    """The outcome of ``--max-drop``: which ops left int8, what that cost, whether TFLM runs it.

    ``metric`` names what ``budget`` bounds (top-1 drop in points, or relative L2 error);
    ``outcome`` is ``int8`` (full int8 meets it), ``mixed`` or ``unreachable``; ``io`` is the
    chosen model's input/output type (float32 when int8 input/output could not meet the budget).
    """

    budget: float
    metric: str
    outcome: str
    int8_value: float
    value: float | None
    float_layers: tuple[LayerError, ...]
    float_kernels: tuple[str, ...]
    mode_key: str | None
    int8_size_bytes: int
    size_bytes: int | None
    trials: tuple[Trial, ...]
    tflm: TFLMCheck | None
    message: str
    io: str = "int8"

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "io": self.io,
            "metric": self.metric,
            "outcome": self.outcome,
            "int8_value": round(self.int8_value, 6),
            "value": round(self.value, 6) if self.value is not None else None,
            "float_layers": [layer.to_dict() for layer in self.float_layers],
            "float_kernels": list(self.float_kernels),
            "mode": self.mode_key,
            "int8_size_bytes": self.int8_size_bytes,
            "size_bytes": self.size_bytes,
            "conversions_tried": len(self.trials),
            "trials": [trial.to_dict() for trial in self.trials],
            "tflm": self.tflm.to_dict() if self.tflm else None,
            "message": self.message,
        }


@dataclass(frozen=True)
class QATReport:
    """How ``edgeq qat`` trained: settings, loss per epoch, the quantized layers, the TFLM check."""

    epochs: int
    batch_size: int
    learning_rate: float
    train_samples: int
    loss: str
    history: dict[str, tuple[float, ...]]
    input_range: tuple[float, float]
    layers: tuple[QATLayer, ...]
    method: str
    mode_key: str
    tflm: TFLMCheck | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "train_samples": self.train_samples,
            "loss": self.loss,
            "history": {key: [round(v, 6) for v in values] for key, values in self.history.items()},
            "input_range": list(self.input_range),
            "layers": [layer.to_dict() for layer in self.layers],
            "method": self.method,
            "mode": self.mode_key,
            "tflm": self.tflm.to_dict() if self.tflm else None,
        }


@dataclass(frozen=True)
class ConvertResult:
    """Everything ``edgeq convert`` produced and measured.

    ``reference`` is the float Keras/SavedModel model's own evaluation (None without --eval).
    """

    source: dict[str, Any]
    modes: tuple[ModeResult, ...]
    size_baseline: SizeBaseline
    preprocessing: dict[str, Any]
    calibration: dict[str, Any] | None
    evaluation_data: dict[str, Any] | None
    reference: Evaluation | None
    kernels: str
    seed: int
    environment: dict[str, str]
    edgeq_version: str
    layer_errors: tuple[LayerError, ...] | None = None
    mixed_precision: MixedPrecision | None = None
    qat: QATReport | None = None

    def size_ratio(self, mode: ModeResult) -> float:
        return mode.size_bytes / self.size_baseline.size_bytes

    def top1_drop_points(self, mode: ModeResult) -> float | None:
        """Float model's top-1 minus this mode's, in percentage points (positive = worse)."""
        if self.reference is None or self.reference.top1 is None:
            return None
        if mode.evaluation is None or mode.evaluation.top1 is None:
            return None
        return (self.reference.top1 - mode.evaluation.top1) * 100.0

    def mode(self, key: str) -> ModeResult:
        """The result for ``key`` (e.g. ``int8``); raises KeyError when it was not converted."""
        for mode in self.modes:
            if mode.key == key:
                return mode
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        modes = []
        for mode in self.modes:
            entry = mode.to_dict()
            entry["size_ratio"] = round(self.size_ratio(mode), 4)
            drop = self.top1_drop_points(mode)
            entry["top1_drop_points"] = round(drop, 4) if drop is not None else None
            modes.append(entry)
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "edgeq.convert",
            "edgeq_version": self.edgeq_version,
            "source": self.source,
            "size_baseline": {"kind": self.size_baseline.kind, "size_bytes": self.size_baseline.size_bytes},
            "preprocessing": self.preprocessing,
            "calibration": self.calibration,
            "evaluation_data": self.evaluation_data,
            "evaluation_kernels": self.kernels,
            "seed": self.seed,
            "reference": self.reference.to_dict() if self.reference else None,
            "modes": modes,
            "layer_errors": self._ranked_layer_errors(),
            "mixed_precision": self.mixed_precision.to_dict() if self.mixed_precision else None,
            "qat": self.qat.to_dict() if self.qat else None,
            "environment": self.environment,
        }

    def _ranked_layer_errors(self) -> list[dict[str, Any]] | None:
        if self.layer_errors is None:
            return None
        from edgeq.conversion.sensitivity import ranked

        return [{"rank": rank, **error.to_dict()} for rank, error in enumerate(ranked(self.layer_errors), 1)]

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write every .tflite file, ``report.json`` and ``report.md`` into the folder ``path``.

        The folder appears complete or not at all. Raises InputError if it exists and not ``force``.
        """
        with atomic_output_dir(path, force) as staging:
            self.write_into(staging)
        return Path(path)

    def write_into(self, folder: Path) -> None:
        """Write the .tflite files and both reports into an existing folder."""
        from edgeq.report.convert import to_markdown

        for mode in self.modes:
            (folder / mode.file_name).write_bytes(mode.tflite)
        (folder / "report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        (folder / "report.md").write_text(to_markdown(self), encoding="utf-8")
