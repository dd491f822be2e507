"""``edgeq bench``: latency, instructions, flash and RAM of models on this machine, on emulated
Cortex-M boards (QEMU system mode, edgeq's C engine), on emulated aarch64 Linux (QEMU user
mode, LiteRT) and on real devices (a Linux board over SSH, an Android phone over adb, a
microcontroller's serial port), with one result schema for all.

``run`` is the stage's driver: it loads the models once, hands each runner of the registry its
targets with one BenchOptions, and puts the rows in order. ``edgeq.api.bench`` is its public face.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path

from edgeq.bench.options import BenchOptions, parse_clock, parse_size
from edgeq.bench.registry import RUNNERS, Runner, dispatch, parse_targets
from edgeq.bench.results import BenchReport, BenchResult
from edgeq.bench.runs import BenchModel, Progress, load_model
from edgeq.errors import InputError

__all__ = [
    "RUNNERS",
    "BenchModel",
    "BenchOptions",
    "BenchReport",
    "Runner",
    "load_model",
    "parse_clock",
    "parse_size",
    "parse_targets",
    "run",
]


def run(
    models: Sequence[str | Path],
    targets: str | Sequence[str] = ("host",),
    options: BenchOptions | None = None,
    progress: Progress | None = None,
) -> BenchReport:
    """Benchmark every model on every target (see ``edgeq.api.bench``)."""
    say = progress or (lambda _message: None)
    options = options or BenchOptions()
    names = parse_targets(targets)
    if not models:
        raise InputError("give at least one .tflite model")
    loaded = [load_model(path, options.seed)[0] for path in models]
    results: dict[str, list[BenchResult]] = {}
    environment = {"python": platform.python_version(), "machine": platform.machine()}
    for runner, its_targets in dispatch(names):
        results.update(runner.run(loaded, its_targets, options, say))
        environment.update(runner.environment())
    ordered = tuple(results[name][index] for index in range(len(loaded)) for name in names)
    return BenchReport(results=ordered, environment=environment)
