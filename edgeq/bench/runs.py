"""What every runner shares: the model it benchmarks, loaded once, the row a failed run leaves,
and (DeviceRunner) the shape of the runners of real devices."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult
from edgeq.errors import BenchFailure, DeviceError, EdgeqError, ToolchainError
from edgeq.tflite import ModelGraph

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchModel:
    """A model to benchmark: its path, bytes, sha256, one input tensor (raw values) and the parsed
    graph (read once, for the runners that generate code from it)."""

    path: str
    tflite: bytes
    sha256: str
    sample: np.ndarray
    graph: ModelGraph = field(compare=False, repr=False)


def load_model(path: str | Path, seed: int = 0) -> tuple[BenchModel, ModelGraph]:
    """The model's bytes, parsed graph and one seeded random input (InputError for bad files)."""
    from edgeq.engine.validate import random_inputs
    from edgeq.tflite import read_tflite
    from edgeq.tflite.reader import read_model_bytes

    data = read_model_bytes(Path(path))
    graph = read_tflite(data, str(path))
    tensor = graph.main.tensors[graph.main.inputs[0]]
    sample = random_inputs(graph, tensor, 1, seed)[0]
    return BenchModel(str(path), data, hashlib.sha256(data).hexdigest(), sample, graph), graph


def as_failure(target: str, exc: EdgeqError) -> BenchFailure:
    """``exc`` as the failure of a run on ``target``, keeping its message and exit code."""
    return exc if isinstance(exc, BenchFailure) else BenchFailure(target, str(exc), exc.exit_code)


def attempt(model: BenchModel, target: str, run: Callable[[], BenchResult]) -> BenchResult:
    """``run()``'s result, or the row of the failed run. A missing toolchain is no one run's
    failure: its ToolchainError ends the whole benchmark."""
    try:
        return run()
    except ToolchainError:
        raise
    except EdgeqError as exc:
        return failed_result(model, as_failure(target, exc))


def failed_result(model: BenchModel, failure: BenchFailure) -> BenchResult:
    """The row of ``model`` on the failure's target: the reason as its error, no figures."""
    return BenchResult(
        model=model.path,
        sha256=model.sha256,
        target=failure.target,
        platform={},
        runtime="",
        toolchain={},
        error=failure.reason,
        details={"exit_code": failure.exit_code},
    )


@dataclass(frozen=True)
class DeviceRunner:
    """A runner of real devices: a target is its by name or prefix (``ssh://``), is checked by
    ``parse`` (InputError naming its form), and ``run_one`` benchmarks on one device at a time."""

    forms: tuple[str, ...]
    parse: Callable[[str], object]
    run_one: Callable[[Sequence[BenchModel], str, BenchOptions, Progress], list[BenchResult]]
    prefixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # targets written without a suffix, e.g. "adb"

    def accepts(self, target: str) -> bool:
        if target not in self.names and not target.startswith(self.prefixes):
            return False
        self.parse(target)
        return True

    def environment(self) -> dict[str, str]:
        return {}

    def run(
        self, models: Sequence[BenchModel], targets: Sequence[str], options: BenchOptions, say: Progress
    ) -> dict[str, list[BenchResult]]:
        """Each target's rows. A device that cannot be reached, or lacks the runtime, fails every
        model on it (one failed row each, its DeviceError's reason and exit code): the other
        targets' rows are kept, as a Cortex-M board that fails keeps the host's."""
        results = {}
        for target in targets:
            try:
                results[target] = self.run_one(models, target, options, say)
            except (DeviceError, BenchFailure) as exc:  # an option given wrong (InputError) still ends it
                failure = as_failure(target, exc)
                results[target] = [failed_result(model, failure) for model in models]
        return results
