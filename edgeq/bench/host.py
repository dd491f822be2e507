"""Benchmarks on this machine: the LiteRT interpreter in a child process (``device_runner.py``),
every model loaded in one process and timed interleaved."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult, Figure
from edgeq.bench.runs import BenchModel, Progress
from edgeq.errors import BenchFailure

# a self-contained script copied to the device (or a temporary folder) and run there
RUNNER = resources.files("edgeq.bench") / "device_runner.py"
RESOLVERS = {"default": "XNNPACK", "no_xnnpack": "no XNNPACK", "reference": "reference kernels"}


def run_runner(
    python: list[str],
    models: list[BenchModel],
    request: dict[str, Any],
    timeout: float,
    work: Path,
    target: str,
    outputs: bool = False,
) -> dict[str, Any]:
    """Write the models and their inputs into ``work``, run ``device_runner.py`` with ``python``
    (a command, e.g. a QEMU command line ending in the guest's python) and return its JSON.
    Raises BenchFailure (for ``target``) when the runner times out or fails."""
    entries = []
    for index, model in enumerate(models):
        model_path, input_path = work / f"model{index}.tflite", work / f"input{index}.npy"
        model_path.write_bytes(model.tflite)
        np.save(input_path, model.sample)
        entry = {"path": str(model_path), "input": str(input_path)}
        if outputs:
            entry["output"] = str(work / f"output{index}.npy")
        entries.append(entry)
    request_path = work / "request.json"
    request_path.write_text(json.dumps({**request, "models": entries}))
    runner = work / "device_runner.py"
    runner.write_bytes(RUNNER.read_bytes())
    try:
        done = subprocess.run(
            [*python, str(runner), str(request_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchFailure(target, f"the LiteRT runner did not finish within {timeout:.0f} s") from None
    line = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("{")), None)
    if line is None:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchFailure(target, f"the LiteRT runner failed (exit status {done.returncode}): {said[:200]}")
    result = json.loads(line)
    if not result.get("ok"):  # LiteRT raised on the model (loading or invoking it): the model's fault
        raise BenchFailure(target, f"LiteRT cannot run the model: {result.get('error')}", exit_code=2)
    return result


def bench_host(
    models: list[BenchModel], runs: int = 100, warmup: int = 10, threads: int = 1, resolver: str = "default"
) -> list[BenchResult]:
    """Latency of each model in LiteRT on this machine: p50 / p90 / min of ``runs`` timed invokes
    after ``warmup``, load and first-invoke time, memory."""
    request = {"runs": runs, "warmup": warmup, "threads": threads, "resolver": resolver}
    with tempfile.TemporaryDirectory(prefix="edgeq-host-") as work:
        result = run_runner([sys.executable], models, request, timeout=1800, work=Path(work), target="host")
    platform_info = {"machine": platform.machine(), "processor": _cpu_name(), "python": result["python"]}
    return runner_results(models, result, "host", platform_info, request)


class HostRunner:
    """``host``: LiteRT on this machine. A failure of the one process that times every model is
    not one model's: its BenchFailure ends the benchmark."""

    forms = ("host",)

    def accepts(self, target: str) -> bool:
        return target == "host"

    def environment(self) -> dict[str, str]:
        return {}

    def run(
        self, models: Sequence[BenchModel], targets: Sequence[str], options: BenchOptions, say: Progress
    ) -> dict[str, list[BenchResult]]:
        runs, threads = options.runs, options.threads
        say(f"timing {len(models)} model(s) in LiteRT on this machine ({runs} runs each, interleaved)")
        return {"host": bench_host(list(models), runs, options.warmup, threads, options.litert_resolver)}


def runner_results(
    models: list[BenchModel], result: dict[str, Any], target: str, platform_info: dict[str, Any],
    request: dict[str, Any],
) -> list[BenchResult]:  # fmt: skip
    """BenchResults from ``device_runner.py``'s answer ``result`` to ``request``, wherever it ran."""
    runs, warmup, threads, resolver = (request[k] for k in ("runs", "warmup", "threads", "resolver"))
    package = "LiteRT" if result["runtime"] == "ai_edge_litert" else result["runtime"]
    runtime = (
        f"{package} {result['runtime_version']} {RESOLVERS[resolver]}, {threads} thread{'s' * (threads > 1)}"
    )
    how_t = f"time.perf_counter around invoke(), {runs} runs after {warmup} warm-up, models interleaved"
    results = []
    for model, measured in zip(models, result["models"], strict=True):
        times_ms = np.array(measured["times_s"]) * 1e3
        figures = [
            Figure("latency_p50_ms", round(float(np.percentile(times_ms, 50)), 4), "ms", "measured", how_t),
            Figure("latency_p90_ms", round(float(np.percentile(times_ms, 90)), 4), "ms", "measured", how_t),
            Figure("latency_min_ms", round(float(times_ms.min()), 4), "ms", "measured", how_t),
            Figure(
                "load_ms",
                round(measured["load_s"] * 1e3, 3),
                "ms",
                "measured",
                "Interpreter() and allocate_tensors()",
            ),
            Figure(
                "first_invoke_ms",
                round(measured["first_invoke_s"] * 1e3, 3),
                "ms",
                "measured",
                "the first invoke() after loading",
            ),
        ]
        if measured.get("resident_growth_kb") is not None:
            figures.append(
                Figure(
                    "memory_kb",
                    measured["resident_growth_kb"],
                    "KiB",
                    "measured",
                    "growth of the process's resident set from loading to after the first invoke",
                )
            )
        results.append(
            BenchResult(
                model=model.path,
                sha256=model.sha256,
                target=target,
                platform=platform_info,
                runtime=runtime,
                toolchain={result["runtime"]: result["runtime_version"], "numpy": result["numpy"]},
                figures=tuple(figures),
                details={
                    "peak_resident_kb_of_runner": result.get("peak_resident_kb"),
                    "runs": runs,
                    "warmup": warmup,
                    "threads": threads,
                    "resolver": resolver,
                },
            )
        )
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
