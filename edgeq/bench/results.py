"""One result schema for every benchmark target: figures that say whether they were measured,
counted or estimated, and how."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeq.errors import BenchFailure
from edgeq.outputs import write_file_atomic
from edgeq.results import schema
from edgeq.version import __version__

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

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Figure:
        """Read ``to_dict``'s output, which the result keys by ``name``."""
        return cls(name, data["value"], str(data.get("unit", "")), data["kind"], str(data.get("how", "")))


def differing_bytes(got: np.ndarray, reference: np.ndarray) -> int:
    """Bytes that differ between ``got`` and ``reference`` (taken as ``got``'s type); every byte
    when the element counts differ."""
    a = np.ascontiguousarray(got).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(np.asarray(reference).astype(got.dtype)).reshape(-1).view(np.uint8)
    return int((a != b).sum()) if a.shape == b.shape else int(a.size)


# Float outputs compared across machines: |got - reference| <= FLOAT_ATOL + FLOAT_RTOL * |reference|
# (numpy.isclose). aarch64 builds of LiteRT fuse multiply-adds (one rounding where x86 has two),
# which moves float outputs by a few ulp per layer; 1e-4 relative is far above that and far
# below any real error (a wrong kernel is off by whole percents).
FLOAT_RTOL = 1e-4
FLOAT_ATOL = 1e-6


@dataclass(frozen=True)
class Tolerance:
    """How close float outputs must be: ``|got - reference| <= atol + rtol * |reference|``."""

    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"|difference| <= {self.atol:g} + {self.rtol:g} x |reference|"

    def to_dict(self) -> dict[str, float]:
        return {"rtol": self.rtol, "atol": self.atol}


FLOAT_TOLERANCE = Tolerance(FLOAT_RTOL, FLOAT_ATOL)


@dataclass(frozen=True)
class OutputCheck:
    """Whether the target's outputs equal those of the references for the same input: byte for
    byte, or for float outputs compared across machines within ``tolerance`` (then
    ``max_abs_difference`` says how far they were)."""

    passed: bool
    compared_with: tuple[str, ...]
    bytes_compared: int
    differing_bytes: int
    detail: str = ""
    tolerance: Tolerance | None = None
    max_abs_difference: float | None = None

    @property
    def verdict(self) -> str:
        """One word or two for tables: identical, within tolerance, DIFFERENT."""
        if not self.passed:
            return "DIFFERENT"
        return "identical" if self.differing_bytes == 0 else "within tolerance"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "compared_with": list(self.compared_with),
            "bytes_compared": self.bytes_compared,
            "differing_bytes": self.differing_bytes,
            "detail": self.detail,
            "tolerance": self.tolerance.to_dict() if self.tolerance else None,
            "max_abs_difference": self.max_abs_difference,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputCheck:
        tolerance = data.get("tolerance")
        difference = data.get("max_abs_difference")
        return cls(
            passed=bool(data["passed"]),
            compared_with=tuple(data.get("compared_with") or ()),
            bytes_compared=int(data.get("bytes_compared") or 0),
            differing_bytes=int(data.get("differing_bytes") or 0),
            detail=str(data.get("detail") or ""),
            tolerance=Tolerance(float(tolerance["rtol"]), float(tolerance["atol"])) if tolerance else None,
            max_abs_difference=None if difference is None else float(difference),
        )


def compare_outputs(
    got: np.ndarray, reference: np.ndarray, compared_with: tuple[str, ...], detail: str = ""
) -> OutputCheck:
    """The check of ``got`` against ``reference``: integer outputs byte for byte (the tolerance
    of integer kernels is zero), float outputs within FLOAT_TOLERANCE (stated in the check)."""
    differing = differing_bytes(got, reference)
    if not np.issubdtype(got.dtype, np.floating):
        return OutputCheck(differing == 0, compared_with, int(got.nbytes), differing, detail)
    tolerance = FLOAT_TOLERANCE
    wanted = np.asarray(reference).astype(got.dtype).reshape(-1)
    values = np.asarray(got).reshape(-1)
    if values.shape != wanted.shape:
        return OutputCheck(False, compared_with, int(got.nbytes), differing, detail, tolerance)
    a, b = values.astype(np.float64), wanted.astype(np.float64)
    close = np.isclose(a, b, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True)
    finite = np.isfinite(a) & np.isfinite(b)
    largest = float(np.abs(a - b)[finite].max()) if finite.any() else 0.0
    words = f"float outputs within {tolerance} (max |difference| {largest:.3g})"
    return OutputCheck(
        bool(close.all()), compared_with, int(got.nbytes), differing,
        f"{detail}; {words}" if detail else words, tolerance, largest,
    )  # fmt: skip


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """Read ``to_dict``'s output (``ok`` follows from the error and the output check); what
        describes the target (sha256, platform, toolchain) may be absent."""
        check = data.get("output_check")
        return cls(
            model=str(data["model"]),
            sha256=str(data.get("model_sha256") or ""),
            target=str(data["target"]),
            platform=dict(data.get("platform") or {}),
            runtime=str(data.get("runtime") or ""),
            toolchain=dict(data.get("toolchain") or {}),
            figures=tuple(
                Figure.from_dict(name, figure) for name, figure in (data.get("figures") or {}).items()
            ),
            output_check=OutputCheck.from_dict(check) if check else None,
            memory=data.get("memory"),
            details=dict(data.get("details") or {}),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class BenchReport:
    """Every model x target of one ``edgeq bench`` call; ``edgeq_version`` is the one that ran it."""

    results: tuple[BenchResult, ...]
    environment: dict[str, str]
    edgeq_version: str = __version__

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def failure(self) -> BenchFailure | None:
        """The failure of the rows that failed (None when every row passed): how many of how
        many, the first one's model, target and reason, and that row's exit code."""
        failed = [result for result in self.results if not result.ok]
        if not failed:
            return None
        first = failed[0]
        reason = (
            first.error or "the output check failed: the target's output bytes differ from the references"
        )
        return BenchFailure(
            first.target,
            f"{len(failed)} of {len(self.results)} benchmarks failed; first: "
            f"{Path(first.model).name} on {first.target}: {reason}",
            int(first.details.get("exit_code", 1)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **schema.BENCH.header(),
            "edgeq_version": self.edgeq_version,
            "environment": self.environment,
            "results": [result.to_dict() for result in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchReport:
        """Read bench.json's content (``schema.BENCH.check`` it first). Raises KeyError, TypeError
        or ValueError for content ``to_dict`` cannot have written."""
        results = tuple(BenchResult.from_dict(result) for result in data.get("results") or ())
        return cls(results, dict(data.get("environment") or {}), str(data.get("edgeq_version") or ""))

    def save(self, path: str | Path) -> Path:
        return write_file_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")
