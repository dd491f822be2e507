"""Every benchmark runner behind one protocol, and the dispatch of ``--on``'s targets to them.

A runner takes all of its targets in one call, so what they share is done once: the Cortex-M
runner makes each model's reference outputs once for all its boards. Runners run in the order
listed here; the results keep the order of the models and of the targets as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edgeq.bench.aarch64 import Aarch64Runner
from edgeq.bench.adb import ADB_RUNNER
from edgeq.bench.cortexm import CortexMRunner
from edgeq.bench.host import HostRunner
from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult
from edgeq.bench.runs import BenchModel, Progress
from edgeq.bench.serial import SERIAL_RUNNER
from edgeq.bench.ssh import SSH_RUNNER
from edgeq.errors import InputError


class Runner(Protocol):
    """Benchmarks models on the targets of one kind (this machine, emulated boards, a device)."""

    forms: tuple[str, ...]
    """How its targets are written, for messages: names (``cortex-m4``) or patterns (``adb[:SERIAL]``)."""

    def accepts(self, target: str) -> bool:
        """Whether ``target`` is one of this runner's; InputError when it is written as one but is
        malformed (``ssh://host:99999``), naming the form it takes."""
        ...

    def environment(self) -> dict[str, str]:
        """Versions of the programs this runner uses, for the report's environment."""
        ...

    def run(
        self, models: Sequence[BenchModel], targets: Sequence[str], options: BenchOptions, say: Progress
    ) -> dict[str, list[BenchResult]]:
        """For each target, one result per model, in order. A model that fails on a target gets
        its failed row (from a BenchFailure), and so does every model on a device that cannot be
        reached (DeviceError); what ends the benchmark is a missing program (ToolchainError) or
        the host's one timing process failing (BenchFailure)."""
        ...


RUNNERS: tuple[Runner, ...] = (
    HostRunner(),
    CortexMRunner(),
    Aarch64Runner(),
    SSH_RUNNER,
    ADB_RUNNER,
    SERIAL_RUNNER,
)
FORMS = tuple(form for runner in RUNNERS for form in runner.forms)


def runner_for(target: str) -> Runner:
    """The runner of ``target``; InputError naming every valid target when there is none."""
    found = next((runner for runner in RUNNERS if runner.accepts(target)), None)
    if found is None:
        raise InputError(f"unknown target {target!r} in --on: choose from {', '.join(FORMS)}")
    return found


def parse_targets(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"host,cortex-m4"`` → ("host", "cortex-m4"), duplicates dropped; InputError for a target
    no runner accepts, naming the valid ones (device targets are checked for their form too)."""
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not names:
        raise InputError(f"--on needs at least one target: {', '.join(FORMS)}")
    for name in names:
        runner_for(name)
    return tuple(dict.fromkeys(names))


def dispatch(targets: Sequence[str]) -> list[tuple[Runner, list[str]]]:
    """Each runner with its targets (in the order given), for the runners that have any."""
    chosen = [runner_for(target) for target in targets]
    return [
        (runner, [t for t, r in zip(targets, chosen, strict=True) if r is runner])
        for runner in RUNNERS
        if runner in chosen
    ]
