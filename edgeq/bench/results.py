"""One result schema for every benchmark target: figures that say whether they were measured,
counted or estimated, and how."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeq.outputs import write_file_atomic
from edgeq.version import __version__

SCHEMA_VERSION = 1
Kind = Literal["measured", "counted", "estimated"]


@dataclass(frozen=True)
class Figure:
    """One number: ``kind`` says whether it was measured (timed or read from the build), counted
    (executed instructions) or estimated (from a cost model), ``how`` says how."""

    name: str
    value: float
    unit: str
    kind: Kind
    how: str

    def __post_init__(self) -> None:
        if self.kind not in ("measured", "counted", "estimated"):
            raise ValueError(f"figure kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "kind": self.kind, "how": self.how}


def differing_bytes(got: np.ndarray, reference: np.ndarray) -> int:
    """Bytes that differ between ``got`` and ``reference`` (taken as ``got``'s type); every byte
    when the element counts differ."""
    a = np.ascontiguousarray(got).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(np.asarray(reference).astype(got.dtype)).reshape(-1).view(np.uint8)
    return int((a != b).sum()) if a.shape == b.shape else int(a.size)


@dataclass(frozen=True)
class OutputCheck:
    """Whether the target's output bytes equal those of the references for the same input."""

    passed: bool
    compared_with: tuple[str, ...]
    bytes_compared: int
    differing_bytes: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "compared_with": list(self.compared_with),
            "bytes_compared": self.bytes_compared,
            "differing_bytes": self.differing_bytes,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class BenchResult:
    """One model on one target. ``error`` is set (and figures may be empty) when it failed."""

    model: str
    sha256: str
    target: str
    platform: dict[str, Any]
    runtime: str
    toolchain: dict[str, str]
    figures: tuple[Figure, ...] = ()
    output_check: OutputCheck | None = None
    memory: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and (self.output_check is None or self.output_check.passed)

    def figure(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_sha256": self.sha256,
            "target": self.target,
            "platform": self.platform,
            "runtime": self.runtime,
            "toolchain": self.toolchain,
            "ok": self.ok,
            "error": self.error,
            "output_check": self.output_check.to_dict() if self.output_check else None,
            "figures": {f.name: f.to_dict() for f in self.figures},
            "memory": self.memory,
            "details": self.details,
        }


@dataclass(frozen=True)
class BenchReport:
    """Every model x target of one ``edgeq bench`` call."""

    results: tuple[BenchResult, ...]
    environment: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "edgeq.bench",
            "edgeq_version": __version__,
            "environment": self.environment,
            "results": [result.to_dict() for result in self.results],
        }

    def save(self, path: str | Path) -> Path:
        return write_file_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")
