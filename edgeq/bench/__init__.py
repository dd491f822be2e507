"""``edgeq bench``: latency, instructions, flash and RAM of models on this machine, on emulated
Cortex-M boards (QEMU system mode, edgeq's C engine), on emulated aarch64 Linux (QEMU user
mode, LiteRT) and on real devices (a Linux board over SSH, an Android phone over adb, a
microcontroller's serial port), with one result schema for all."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from edgeq.bench.boards import BOARDS, board
from edgeq.bench.host import BenchModel, bench_host
from edgeq.bench.results import BenchReport, BenchResult
from edgeq.errors import EdgeqError, InputError, ToolchainError

__all__ = ["TARGETS", "bench", "parse_clock", "parse_targets"]

AARCH64_TARGETS = ("rpi4", "rpi5")
TARGETS = ("host", *BOARDS, *AARCH64_TARGETS)
DEVICE_TARGETS = ("ssh://user@host[:port]", "adb[:SERIAL]", "serial:PORT[@BAUD]")
Progress = Callable[[str], None]


def parse_targets(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"host,cortex-m4"`` → ("host", "cortex-m4"); InputError naming the valid targets.

    Device targets (``ssh://...``, ``adb``, ``adb:SERIAL``, ``serial:PORT``) are checked here too.
    """
    from edgeq.bench.adb import parse_adb_target
    from edgeq.bench.serial import parse_serial_target
    from edgeq.bench.ssh import parse_ssh_target

    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    valid = ", ".join((*TARGETS, *DEVICE_TARGETS))
    if not names:
        raise InputError(f"--on needs at least one target: {valid}")
    for name in names:
        if name.startswith("ssh://"):
            parse_ssh_target(name)
        elif name == "adb" or name.startswith("adb:"):
            parse_adb_target(name)
        elif name.startswith("serial:"):
            parse_serial_target(name)
        elif name not in TARGETS:
            raise InputError(f"unknown target {name!r} in --on: choose from {valid}")
    return tuple(dict.fromkeys(names))


def parse_clock(text: str | float) -> float:
    """``"120MHz"``, ``"1.2GHz"``, ``"48000000"`` → Hz."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)(?:[hH][zZ])?\s*", text)
        if not match:
            raise InputError(f"--clock takes a frequency like 120MHz or 48000000, got {text!r}")
        value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2).lower()]
    if not 1e3 <= value <= 1e10:
        raise InputError(f"--clock {text!r} is outside 1 kHz to 10 GHz")
    return value


def parse_size(option: str, text: str | int | None) -> int | None:
    """``"256KB"``, ``"1MB"``, ``"65536"`` → bytes (KB = 1024 bytes)."""
    if text is None or isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]+)\s*([kKmM]?)(?:i?[bB])?\s*", text)
    if not match:
        raise InputError(f"{option} takes a size like 256KB or 1MB, got {text!r}")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]


def load_model(path: str | Path, seed: int = 0) -> tuple[BenchModel, object]:
    """The model's bytes, parsed graph and one seeded random input (InputError for bad files)."""
    from edgeq.engine.validate import random_inputs
    from edgeq.tflite import read_tflite
    from edgeq.tflite.reader import read_model_bytes

    data = read_model_bytes(Path(path))
    graph = read_tflite(data, str(path))
    tensor = graph.main.tensors[graph.main.inputs[0]]
    sample = random_inputs(graph, tensor, 1, seed)[0]
    return BenchModel(str(path), data, hashlib.sha256(data).hexdigest(), sample), graph


def bench(
    models: Sequence[str | Path],
    targets: str | Sequence[str] = ("host",),
    clock: str | float = "120MHz",
    runs: int = 100,
    warmup: int = 10,
    threads: int = 1,
    xnnpack: bool = True,
    flash: str | int | None = None,
    ram: str | int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    remote_python: str = "python3",
    ssh_config: str | Path | None = None,
    benchmark_model: str | Path | None = None,
    flash_command: str | None = None,
    device_timeout: float = 600.0,
) -> BenchReport:
    """Benchmark every model on every target.

    ``host``: LiteRT latency on this machine. ``cortex-m3|m4|m7|m55``, ``lm3s6965``: edgeq's C
    engine built with arm-none-eabi-gcc and run under QEMU, output-checked against the engine
    compiled for this machine and TFLite Micro; instructions counted, cycles and latency at
    ``clock`` estimated, flash and RAM from the linker map (``flash``/``ram`` shrink the board to
    a real part's budget). ``rpi4|rpi5``: LiteRT in an emulated aarch64 Debian with a pinned core.
    ``ssh://user@host[:port]``: LiteRT on a Linux board, run by ``remote_python`` there (the
    user's SSH config, or ``ssh_config``). ``adb[:SERIAL]``: TFLite's ``benchmark_model`` on an
    Android phone (``benchmark_model`` names the binary). ``serial:PORT[@BAUD]``: the self-test
    line of an edgeq firmware bundle, after running ``flash_command``; ``device_timeout`` bounds
    each device run.

    Returns a BenchReport; failures of one model on one target are recorded in its result.
    Raises InputError for bad arguments or files, ToolchainError when a needed program is missing,
    DeviceError when a device cannot be reached.
    """
    say = progress or (lambda _message: None)
    names = parse_targets(targets)
    clock_hz = parse_clock(clock)
    flash_limit, ram_limit = parse_size("--flash", flash), parse_size("--ram", ram)
    if not models:
        raise InputError("give at least one .tflite model")
    if runs < 1 or warmup < 0 or threads < 1:
        raise InputError("--runs and --threads must be at least 1, --warmup at least 0")
    loaded = [load_model(path, seed) for path in models]
    results: dict[tuple[int, str], BenchResult] = {}
    if "host" in names:
        say(f"timing {len(loaded)} model(s) in LiteRT on this machine ({runs} runs each, interleaved)")
        resolver = "default" if xnnpack else "no_xnnpack"
        for index, result in enumerate(bench_host([m for m, _ in loaded], runs, warmup, threads, resolver)):
            results[(index, "host")] = result
    boards = [board(name).limited(flash_limit, ram_limit) for name in names if name in BOARDS]
    if boards:
        _bench_boards(loaded, boards, clock_hz, results, say)
    aarch64 = [name for name in names if name in AARCH64_TARGETS]
    if aarch64:
        from edgeq.bench.aarch64 import bench_aarch64

        for name in aarch64:
            for index, (model, _) in enumerate(loaded):
                say(f"{Path(model.path).name} on {name} (QEMU aarch64 user mode)")
                results[(index, name)] = _guarded(
                    model, name, lambda m=model, n=name: bench_aarch64(m, n, say, xnnpack)
                )
    for name in names:
        _bench_device(name, loaded, results, say, runs, warmup, threads, xnnpack, remote_python,
                      ssh_config, benchmark_model, flash_command, device_timeout)  # fmt: skip
    ordered = tuple(results[(i, name)] for i in range(len(loaded)) for name in names)
    return BenchReport(results=ordered, environment=_environment(names))


def _bench_device(name, loaded, results, say, runs, warmup, threads, xnnpack, remote_python, ssh_config,
                  benchmark_model, flash_command, timeout) -> None:  # fmt: skip
    """The real-device targets: DeviceError (unreachable, untrusted, missing runtime) propagates."""
    models = [model for model, _ in loaded]
    if name.startswith("ssh://"):
        from edgeq.bench.ssh import bench_ssh, parse_ssh_target

        target = parse_ssh_target(name)
        say(f"timing {len(models)} model(s) in LiteRT on {target.name} ({runs} runs each, interleaved)")
        resolver = "default" if xnnpack else "no_xnnpack"
        found = bench_ssh(models, target, runs, warmup, threads, resolver, remote_python, ssh_config, timeout)
    elif name == "adb" or name.startswith("adb:"):
        from edgeq.bench.adb import bench_adb, parse_adb_target

        found = bench_adb(models, benchmark_model, parse_adb_target(name), runs, warmup, threads, xnnpack,
                          say, timeout)  # fmt: skip
    elif name.startswith("serial:"):
        from edgeq.bench.serial import bench_serial, parse_serial_target
        from edgeq.cnames import suggest_identifier

        if len(models) != 1:
            raise InputError(f"--on {name}: the board runs one firmware bundle, so give exactly one model")
        target = parse_serial_target(name)
        say(f"reading the self-test of the bundle on {target.port}")
        expected = suggest_identifier(Path(models[0].path).stem)  # the bundle's default --name
        found = [bench_serial(models[0], target, flash_command, timeout, expected)]
    else:
        return
    for index, result in enumerate(found):
        results[(index, name)] = result


def _bench_boards(loaded, boards, clock_hz, results, say) -> None:
    from edgeq.bench.cortexm import bench_cortex_m, reference_outputs
    from edgeq.engine.generate import generate_engine
    from edgeq.toolchain import require

    require("qemu-system-arm", "to emulate Cortex-M boards")
    require("arm-none-eabi-gcc", "to build firmware for emulated Cortex-M boards")
    for index, (model, graph) in enumerate(loaded):
        name = Path(model.path).name
        try:
            source = generate_engine(graph, "model")
            say(f"{name}: reference outputs from the engine built with gcc and from TensorFlow Lite Micro")
            with tempfile.TemporaryDirectory(prefix="edgeq-ref-") as work:
                expected = reference_outputs(model.tflite, source, model.sample, Path(work))
        except ToolchainError:
            raise
        except EdgeqError as exc:
            for target in boards:
                results[(index, target.target)] = _failed(model, target.target, exc)
            continue
        for target in boards:
            say(f"{name} on {target.target}: arm-none-eabi-gcc, then on QEMU {target.machine}")

            def run(m=model, s=source, e=expected, t=target) -> BenchResult:
                return bench_cortex_m(m, s, e, t, clock_hz)

            results[(index, target.target)] = _guarded(model, target.target, run)


def _guarded(model: BenchModel, target: str, run: Callable[[], BenchResult]) -> BenchResult:
    try:
        return run()
    except ToolchainError:
        raise
    except EdgeqError as exc:
        return _failed(model, target, exc)


def _failed(model: BenchModel, target: str, exc: EdgeqError) -> BenchResult:
    return BenchResult(
        model=model.path,
        sha256=model.sha256,
        target=target,
        platform={},
        runtime="",
        toolchain={},
        error=str(exc),
        details={"exit_code": exc.exit_code},
    )


def _environment(names: Sequence[str]) -> dict[str, str]:
    import platform

    from edgeq.toolchain import version

    environment = {"python": platform.python_version(), "machine": platform.machine()}
    if any(name in BOARDS for name in names):
        for program in ("arm-none-eabi-gcc", "qemu-system-arm"):
            environment[program] = version(program)
    if any(name in AARCH64_TARGETS for name in names):
        environment["qemu-aarch64"] = version("qemu-aarch64")
    return environment
