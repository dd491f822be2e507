"""Ask TensorFlow Lite Micro and LiteRT about a model, safely, and measure TFLM's arena.

Every run happens in a child process (``edgeq.runtimes.probe``): a crash there is reported as a
failed step, never a crash of edgeq. The arena measurement reads the total of TFLM's recording
allocator after a run with a large arena, then proves it: the real interpreter allocates and
invokes with exactly that many bytes and fails with 16 fewer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.errors import ToolchainError

PROBE_TIMEOUT_S = 120
FIRST_ARENA = 1 << 20
LARGEST_ARENA = 1 << 30
HOST_NOTE = (
    "measured with the tflite-micro Python package, a 64-bit host build: its interpreter structures "
    "are larger than on a 32-bit MCU, so this is an upper bound for Cortex-M"
)


@dataclass(frozen=True)
class StepResult:
    ok: bool
    crashed: bool = False
    error: str | None = None
    log: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failing_op(self) -> str | None:
        """The op TFLM or LiteRT named when it could not find or prepare a kernel."""
        text = "\n".join((*self.log, self.error or ""))
        for pattern in (
            r"Didn't find op for builtin opcode '([A-Z0-9_]+)'",
            r"Encountered unresolved custom op: ([\w.]+)",
            r"Op builtin_code out of range: (\d+)",
            r"Node number \d+ \(([A-Z0-9_]+)\) failed",
            r"Node ([A-Z0-9_]+) \(number \d+\) failed",
            r"Failed to get registration from op code ([A-Z0-9_]+)",
            r"([A-Z][A-Z0-9_]+) failed to (?:prepare|invoke)",
        ):
            match = re.search(pattern, text)
            if match:
                return match.group(1)
        return None

    def reason(self) -> str:
        """One line: the interpreter's last error message, else its exception text."""
        if self.crashed:
            return f"the interpreter crashed ({self.error})" if self.error else "the interpreter crashed"
        lines = [line.strip() for line in self.log if line.strip() and not line.startswith("INFO:")]
        text = lines[-1] if lines else (self.error or "failed").strip().splitlines()[0]
        return text[:200]


def run_probe(
    model: bytes,
    steps: list[dict[str, Any]],
    arrays: dict[str, Any] | None = None,
    models: dict[str, bytes] | None = None,
) -> list[StepResult]:
    """Run ``steps`` on ``model`` in one child process; restart after a crash for the rest.
    ``arrays`` are written as ``.npz`` files the steps name; ``models`` as further model files
    that steps may name with ``"model"``."""
    _require_packages()
    results: list[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="edgeq-probe-") as work:
        folder = Path(work)
        (folder / "model.tflite").write_bytes(model)
        for name, values in (arrays or {}).items():
            np.savez(folder / name, **values)
        for name, content in (models or {}).items():
            (folder / name).write_bytes(content)
        resolved = [
            {
                k: (str(folder / v) if k in ("inputs", "outputs", "samples", "model") and v else v)
                for k, v in step.items()
            }
            for step in steps
        ]
        while len(results) < len(resolved):
            remaining = resolved[len(results) :]
            request = folder / "request.json"
            request.write_text(json.dumps({"model": str(folder / "model.tflite"), "steps": remaining}))
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "edgeq.runtimes.probe", str(request)],
                    capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                )  # fmt: skip
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                crashed = done.returncode != 0
                how = exit_description(done.returncode)
            except subprocess.TimeoutExpired:
                lines, crashed, how = [], True, f"no answer within {PROBE_TIMEOUT_S} s"
            for line in lines:
                payload = json.loads(line)
                results.append(
                    StepResult(
                        ok=bool(payload.pop("ok")), error=payload.pop("error", None),
                        log=tuple(payload.pop("log", ())), data=payload,
                    )
                )  # fmt: skip
            if crashed and len(results) < len(resolved):
                results.append(StepResult(ok=False, crashed=True, error=how))
        outputs = {}
        for index, step in enumerate(resolved):
            if step.get("outputs") and results[index].ok:
                with np.load(step["outputs"]) as data:
                    outputs = {key: data[key] for key in data}
                results[index] = StepResult(
                    ok=True, log=results[index].log, data={**results[index].data, "arrays": outputs}
                )
    return results


def exit_description(returncode: int) -> str:
    """How a child process ended: the signal's name for a negative code, else the exit status."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def _require_packages() -> None:
    import importlib.util

    for module, package in (("tflite_micro", "tflite-micro"), ("ai_edge_litert", "ai-edge-litert")):
        if importlib.util.find_spec(module) is None:
            raise ToolchainError(f"the Python package {package} is missing: pip install {package}")


@dataclass(frozen=True)
class ArenaMeasurement:
    """The smallest arena with which TFLM allocates and invokes the model, and its breakdown."""

    minimum_bytes: int
    fails_at_minus_16: bool
    head_bytes: int
    tail_bytes: int
    allocations: tuple[dict[str, Any], ...]
    note: str = HOST_NOTE

    def to_dict(self) -> dict[str, Any]:
        return {
            "minimum_bytes": self.minimum_bytes,
            "fails_with_16_bytes_less": self.fails_at_minus_16,
            "head_bytes": self.head_bytes,
            "tail_bytes": self.tail_bytes,
            "allocations": list(self.allocations),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArenaMeasurement:
        return cls(
            minimum_bytes=int(data["minimum_bytes"]),
            fails_at_minus_16=bool(data["fails_with_16_bytes_less"]),
            head_bytes=int(data["head_bytes"]),
            tail_bytes=int(data["tail_bytes"]),
            allocations=tuple(data.get("allocations") or ()),
            note=str(data["note"]),
        )


@dataclass(frozen=True)
class TFLMReport:
    """Whether TFLM runs the model; if it does, the measured arena."""

    runs: bool
    failing_op: str | None
    reason: str | None
    arena: ArenaMeasurement | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "failing_op": self.failing_op,
            "reason": self.reason,
            "arena": self.arena.to_dict() if self.arena else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TFLMReport:
        arena = data.get("arena")
        return cls(
            runs=bool(data["runs"]),
            failing_op=data.get("failing_op"),
            reason=data.get("reason"),
            arena=ArenaMeasurement.from_dict(arena) if arena else None,
        )


def check_tflm(model: bytes) -> TFLMReport:
    """Load and invoke ``model`` in TFLM (zero inputs) and measure its minimum arena."""
    arena = FIRST_ARENA
    while True:
        first = run_probe(model, [{"run": "tflm", "arena": arena, "allocations": True}])[0]
        too_small = not first.ok and "allocate" in (first.reason() + (first.error or "")).lower()
        if first.ok or not too_small or arena >= LARGEST_ARENA:
            break
        arena *= 8
    if not first.ok:
        return TFLMReport(runs=False, failing_op=first.failing_op, reason=first.reason(), arena=None)
    totals = first.data.get("totals", {})
    minimum, below = _smallest_arena(model, int(totals.get("total", 0)), arena)
    return TFLMReport(
        runs=True, failing_op=None, reason=None,
        arena=ArenaMeasurement(
            minimum_bytes=minimum, fails_at_minus_16=not below,
            head_bytes=int(totals.get("head", 0)), tail_bytes=int(totals.get("tail", 0)),
            allocations=tuple(first.data.get("allocations", ())),
        ),
    )  # fmt: skip


def _smallest_arena(model: bytes, recorded: int, known_good: int) -> tuple[int, bool]:
    """The smallest arena that allocates and invokes, and whether 16 bytes less also worked."""
    return smallest_arenas([model], [recorded], [known_good])[0]


def smallest_arenas(
    models: Sequence[bytes], recorded: Sequence[int], known_good: Sequence[int]
) -> list[tuple[int, bool]]:
    """Per model: the smallest arena that allocates and invokes, and whether 16 bytes less also
    worked. Every model is searched at once, one child process per round for all of them.

    The recording allocator's total is where each search starts: usually it is the answer, but
    kernels' temporary allocations during preparation can need more. Each round tries up to 16
    sizes per model: first ``recorded ± 16 * 2**k``, then evenly spaced sizes in the interval that
    holds the boundary, until it is one byte wide. Assumes a larger arena never fails.
    """
    names = {f"arena{i}.tflite": content for i, content in enumerate(models)}
    lows = [0] * len(models)  # the largest size known to fail
    highs = list(known_good)
    pending: dict[int, list[int]] = {}
    for i, (start, good) in enumerate(zip(recorded, known_good, strict=True)):
        around = {start + sign * 16 * 2**k for sign in (-1, 1) for k in range(15 if sign > 0 else 4)}
        pending[i] = sorted(size for size in {start, good, *around} if 0 < size <= good)
    while pending:
        steps = [
            {"run": "tflm", "arena": size, "model": f"arena{i}.tflite"}
            for i, sizes in pending.items()
            for size in sizes
        ]
        results = iter(_run_probe_split(models[0], steps, names))
        following: dict[int, list[int]] = {}
        for i, sizes in pending.items():
            answers = [(size, next(results).ok) for size in sizes]
            working = [size for size, ok in answers if ok]
            high = working[0] if working else known_good[i]
            lows[i] = max([size for size, ok in answers if not ok and size < high], default=lows[i])
            highs[i] = high
            if high - lows[i] > 1:
                count = min(16, high - lows[i] - 1)
                spaced = {lows[i] + (high - lows[i]) * (k + 1) // (count + 1) for k in range(count)}
                following[i] = sorted(size for size in spaced | {high} if size > lows[i])
        pending = following
    checks = [i for i, high in enumerate(highs) if high > 16]
    smaller = [{"run": "tflm", "arena": highs[i] - 16, "model": f"arena{i}.tflite"} for i in checks]
    below = _run_probe_split(models[0], smaller, names)
    fits = {i: result.ok for i, result in zip(checks, below, strict=True)}
    return [(high, fits.get(i, False)) for i, high in enumerate(highs)]


def _run_probe_split(model: bytes, steps: list[dict[str, Any]], models: dict[str, bytes]) -> list[StepResult]:
    """``run_probe`` with many steps shared among up to two child processes at once (each runs a
    contiguous part; results in step order)."""
    jobs = min(2, os.cpu_count() or 1) if len(steps) >= SPLIT_STEPS else 1
    if jobs == 1 or not steps:
        return run_probe(model, steps, models=models) if steps else []
    size = -(-len(steps) // jobs)
    parts = [steps[k : k + size] for k in range(0, len(steps), size)]
    with ThreadPoolExecutor(len(parts)) as pool:
        answers = list(pool.map(lambda part: run_probe(model, part, models=models), parts))
    return [result for answer in answers for result in answer]


SPLIT_STEPS = 64  # fewer steps than this run in one child process: a second one would cost more


def check_litert(model: bytes, shapes: bool = False) -> StepResult:
    """Load and invoke ``model`` in LiteRT with its default kernels (zero inputs). With ``shapes``,
    ``allocated_shapes(result)`` gives the tensor shapes the interpreter allocated."""
    return run_probe(model, [{"run": "litert", "shapes": True} if shapes else {"run": "litert"}])[0]


def allocated_shapes(step: StepResult) -> dict[int, tuple[int, ...]] | None:
    """Tensor index -> shape as LiteRT allocated it, from a ``check_litert(..., shapes=True)`` result;
    None when the interpreter could not allocate the model."""
    shapes = step.data.get("shapes")
    if not shapes:
        return None
    return {int(index): tuple(int(n) for n in shape) for index, shape in shapes.items()}


TFLM_CHECK_ARENA = 1 << 22


@dataclass(frozen=True)
class TFLMCheck:
    """Whether TFLM runs a model, and how its outputs compare with LiteRT's reference kernels.

    ``identical`` counts samples whose every output byte matches; ``max_abs_difference`` is in
    the output's own units (quantized steps for integer outputs).
    """

    runs: bool
    reason: str | None
    samples: int
    identical: int
    max_abs_difference: float
    first_differences: tuple[OpDifference, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "reason": self.reason,
            "samples": self.samples,
            "identical_to_litert_reference": self.identical,
            "max_abs_difference": self.max_abs_difference,
            "first_differences": [d.to_dict() for d in self.first_differences],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TFLMCheck:
        return cls(
            runs=bool(data["runs"]),
            reason=data.get("reason"),
            samples=int(data["samples"]),
            identical=int(data["identical_to_litert_reference"]),
            max_abs_difference=data["max_abs_difference"],
            first_differences=tuple(OpDifference.from_dict(d) for d in data.get("first_differences") or ()),
        )


# Differences between the two runtimes' integer kernels that edgeq has pinned down.
KNOWN_KERNEL_DIFFERENCES = {
    "FULLY_CONNECTED": (
        "LiteRT's reference FULLY_CONNECTED requantizes with one rounding, TFLM's with two "
        "(rounding doubling high multiply, then rounding shift), so they differ by 1 at ties"
    ),
}


@dataclass(frozen=True)
class OpDifference:
    """The op where TFLM's intermediate tensors first differ from LiteRT's, over the samples
    whose outputs differ: how many samples diverge there first, and by how much."""

    op_index: int
    op: str
    samples: int
    max_abs_difference: int

    @property
    def known_cause(self) -> str | None:
        return KNOWN_KERNEL_DIFFERENCES.get(self.op)

    def to_dict(self) -> dict[str, Any]:
        return {"op_index": self.op_index, "op": self.op, "samples": self.samples,
                "max_abs_difference": self.max_abs_difference, "known_cause": self.known_cause}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpDifference:
        """``known_cause`` is not read: it follows from the op."""
        return cls(data["op_index"], data["op"], data["samples"], data["max_abs_difference"])


def compare_tflm_with_reference(model: bytes, inputs: np.ndarray) -> TFLMCheck:
    """Run each sample of ``inputs`` (already in the model's input type, one per row) in TFLM and
    in LiteRT's reference kernels, in one child process, and compare the raw outputs; where they
    differ, find the op whose output differs first."""
    from edgeq.tflite import read_tflite

    main = read_tflite(model, "model").main
    op_outputs = [(i, op.opcode, t) for i, op in enumerate(main.operators) for t in op.outputs if t >= 0]
    tensors = sorted({t for _, _, t in op_outputs})
    arrays = {f"in_{i}.npz": {"input_0": sample[np.newaxis]} for i, sample in enumerate(inputs)}
    steps: list[dict[str, Any]] = []
    for i in range(len(inputs)):
        steps.append({"run": "tflm", "arena": TFLM_CHECK_ARENA, "inputs": f"in_{i}.npz",
                      "outputs": f"t_{i}.npz", "tensors": tensors})  # fmt: skip
        steps.append({"run": "litert", "reference": True, "inputs": f"in_{i}.npz", "outputs": f"l_{i}.npz",
                      "tensors": tensors})  # fmt: skip
    results = run_probe(model, steps, arrays)
    failed = next((r for r in results[0::2] if not r.ok), None)
    if failed is not None:
        op = f" at {failed.failing_op}" if failed.failing_op else ""
        return TFLMCheck(runs=False, reason=f"TFLM fails{op}: {failed.reason()}", samples=len(inputs),
                         identical=0, max_abs_difference=float("nan"))  # fmt: skip
    identical, largest = 0, 0.0
    first: dict[int, list[int]] = {}  # op index -> largest difference there, per diverging sample
    for tflm, litert in zip(results[0::2], results[1::2], strict=True):
        if not litert.ok:
            return TFLMCheck(runs=True, reason=f"LiteRT fails: {litert.reason()}", samples=len(inputs),
                             identical=0, max_abs_difference=float("nan"))  # fmt: skip
        ours, theirs = tflm.data["arrays"], litert.data["arrays"]
        outputs = [k for k in theirs if k.startswith("output_")]
        same = all(np.array_equal(ours[k], theirs[k]) for k in outputs)
        identical += same
        for key in outputs:
            largest = max(largest, _largest_difference(ours[key], theirs[key]))
        if not same:
            for index, _, tensor in op_outputs:
                key = f"tensor_{tensor}"
                a, b = ours[key].reshape(-1), theirs[key].reshape(-1)
                if not np.array_equal(a, b):
                    first.setdefault(index, []).append(int(_largest_difference(a, b)))
                    break
    names = {index: opcode for index, opcode, _ in op_outputs}
    differences = tuple(
        OpDifference(op_index=i, op=names[i], samples=len(found), max_abs_difference=max(found))
        for i, found in sorted(first.items())
    )
    return TFLMCheck(runs=True, reason=None, samples=len(inputs), identical=identical,
                     max_abs_difference=largest, first_differences=differences)  # fmt: skip


def _largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
