"""What ``edgeq convert`` and ``edgeq qat`` return and write: one ModeResult per .tflite file and the
ConvertResult around them, with ``to_dict``/``from_dict`` for report.json and ``save()`` for the folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeq.outputs import atomic_output_dir
from edgeq.results import schema
from edgeq.results.evaluation import Evaluation
from edgeq.results.layers import LayerError, ranked
from edgeq.results.markdown import to_markdown
from edgeq.results.mixed import LowBitMix, MixedPrecision
from edgeq.results.qat import QATReport
from edgeq.runtimes.tensors import TensorInfo


@dataclass(frozen=True)
class ModeResult:
    """One converted .tflite file: its bytes, size, ops, I/O tensors and evaluation.

    ``tflite`` is None when the result was read back from report.json (the bytes are in the file
    ``file_name`` next to it); ``size_bytes`` is then the recorded size, else the bytes' length.
    """

    key: str
    label: str
    scheme: str
    io: str
    file_name: str
    tflite: bytes | None = field(repr=False, compare=False)
    conversion_seconds: float
    ops: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    runs_in_litert: bool
    evaluation: Evaluation | None = None
    problem: str | None = None
    size_bytes: int = -1
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.tflite is not None:
            if self.size_bytes not in (-1, len(self.tflite)):
                raise ValueError(
                    f"{self.file_name}: size_bytes {self.size_bytes} but {len(self.tflite)} bytes"
                )
            object.__setattr__(self, "size_bytes", len(self.tflite))
        elif self.size_bytes < 0:
            raise ValueError(f"{self.file_name}: a ModeResult needs the file's bytes or its size")

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
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModeResult:
        """Read one entry of report.json's ``modes`` (without the file's bytes; ``size_ratio`` and
        ``top1_drop_points`` are derived, so not read)."""
        return cls(
            key=str(data["key"]),
            label=str(data["label"]),
            scheme=str(data["scheme"]),
            io=str(data["io"]),
            file_name=str(data["file"]),
            tflite=None,
            size_bytes=int(data["size_bytes"]),
            conversion_seconds=float(data.get("conversion_seconds") or 0.0),
            ops=tuple(data.get("ops") or ()),
            inputs=tuple(TensorInfo.from_dict(info) for info in data.get("inputs") or ()),
            outputs=tuple(TensorInfo.from_dict(info) for info in data.get("outputs") or ()),
            runs_in_litert=bool(data.get("runs_in_litert")),
            evaluation=Evaluation.from_dict(data["evaluation"]) if data.get("evaluation") else None,
            problem=data.get("problem"),
            notes=tuple(data.get("notes") or ()),
        )


@dataclass(frozen=True)
class ModeFailure:
    """A requested mode that produced no file: the converter refused it or crashed.

    ``exit_code`` is the code a run of this mode alone exits with (2: the mode cannot express the
    model, 1: the converter failed or crashed); a run with failed modes exits with the largest.
    """

    key: str
    label: str
    scheme: str
    io: str
    reason: str
    crashed: bool = False
    exit_code: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "scheme": self.scheme,
            "io": self.io,
            "reason": self.reason,
            "crashed": self.crashed,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModeFailure:
        return cls(
            key=str(data["key"]),
            label=str(data["label"]),
            scheme=str(data["scheme"]),
            io=str(data["io"]),
            reason=str(data["reason"]),
            crashed=bool(data.get("crashed")),
            exit_code=int(data.get("exit_code") or 1),
        )


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
class ConvertResult:
    """Everything ``edgeq convert`` produced and measured.

    ``reference`` is the float Keras/SavedModel model's own evaluation (None without --eval).
    ``layer_errors`` holds every quantized op's error in model order; report.json keeps only the
    ranked ones (``ranked``), so a result read back holds those. ``failures`` are the requested
    modes that produced no file (``ok`` is False when there are any).
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
    lowbit_mixed: LowBitMix | None = None  # --max-drop on int4
    failures: tuple[ModeFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every requested mode produced a file."""
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 when every mode converted, else the largest of the failed modes' exit codes."""
        return max((failure.exit_code for failure in self.failures), default=0)

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
            **schema.CONVERT.header(),
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
            "failed_modes": [failure.to_dict() for failure in self.failures],
            "layer_errors": self._ranked_layer_errors(),
            "mixed_precision": self.mixed_precision.to_dict() if self.mixed_precision else None,
            "qat": self.qat.to_dict() if self.qat else None,
            "lowbit_mixed_precision": self.lowbit_mixed.to_dict() if self.lowbit_mixed else None,
            "environment": self.environment,
        }

    def _ranked_layer_errors(self) -> list[dict[str, Any]] | None:
        if self.layer_errors is None:
            return None
        return [{"rank": rank, **error.to_dict()} for rank, error in enumerate(ranked(self.layer_errors), 1)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConvertResult:
        """Read report.json's content (``schema.CONVERT.check`` it first); the modes come without
        their bytes. Raises KeyError, TypeError or ValueError for content ``to_dict`` cannot have written."""
        baseline = data["size_baseline"]
        layers = data.get("layer_errors")
        return cls(
            source=dict(data["source"]),
            modes=tuple(ModeResult.from_dict(mode) for mode in data["modes"]),
            size_baseline=SizeBaseline(str(baseline["kind"]), int(baseline["size_bytes"])),
            preprocessing=dict(data.get("preprocessing") or {}),
            calibration=data.get("calibration"),
            evaluation_data=data.get("evaluation_data"),
            reference=Evaluation.from_dict(data["reference"]) if data.get("reference") else None,
            kernels=str(data.get("evaluation_kernels") or ""),
            seed=int(data.get("seed") or 0),
            environment=dict(data.get("environment") or {}),
            edgeq_version=str(data.get("edgeq_version") or ""),
            layer_errors=None
            if layers is None
            else tuple(sorted((LayerError.from_dict(e) for e in layers), key=lambda e: e.op_index)),
            mixed_precision=MixedPrecision.from_dict(data["mixed_precision"])
            if data.get("mixed_precision")
            else None,
            qat=QATReport.from_dict(data["qat"]) if data.get("qat") else None,
            lowbit_mixed=LowBitMix.from_dict(data["lowbit_mixed_precision"])
            if data.get("lowbit_mixed_precision")
            else None,
            failures=tuple(ModeFailure.from_dict(f) for f in data.get("failed_modes") or ()),
        )

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write every .tflite file, ``report.json`` and ``report.md`` into the folder ``path``.

        The folder appears complete or not at all. Raises InputError if it exists and not ``force``.
        """
        with atomic_output_dir(path, force) as staging:
            self.write_into(staging)
        return Path(path)

    def write_into(self, folder: Path) -> None:
        """Write the .tflite files and both reports into an existing folder. Raises ValueError for a
        result read back from report.json, which has no bytes to write."""
        for mode in self.modes:
            if mode.tflite is None:
                raise ValueError(f"{mode.file_name}: read from report.json, its bytes are not in the result")
            (folder / mode.file_name).write_bytes(mode.tflite)
        (folder / "report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        (folder / "report.md").write_text(to_markdown(self), encoding="utf-8")
