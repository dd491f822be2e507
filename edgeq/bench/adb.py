"""Benchmarks on an Android phone over adb: ``edgeq bench model.tflite --on adb[:SERIAL]``.

TensorFlow Lite's own ``benchmark_model`` (the prebuilt native binary for the phone's ABI, which
the user downloads) and the models are pushed into a fresh folder under /data/local/tmp;
benchmark_model times each model there, its printed statistics become edgeq's figures, and the
folder is removed afterwards whatever happened. Every adb call has a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import secrets
import shlex
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult, Figure
from edgeq.bench.runs import BenchModel, DeviceRunner, Progress, as_failure
from edgeq.errors import BenchFailure, DeviceError, EdgeqError, InputError
from edgeq.toolchain import require

DOCS = "https://ai.google.dev/edge/litert/models/measurement"
BINARY_ENV = "EDGEQ_BENCHMARK_MODEL"
REMOTE_ROOT = "/data/local/tmp"  # the one folder adb's shell user may write and execute in
QUICK_TIMEOUT_S = 30.0  # devices, getprop, mkdir, chmod, rm: instant on a healthy phone
PUSH_TIMEOUT_S = 600.0  # a few hundred MB over USB 2 at its slowest
_OK = "EDGEQ_OK"  # printed after a command that succeeded: old phones' adb shell drops exit codes
_EXIT = "EDGEQ_EXIT="

# ELF e_machine → what to call it; Android ABI → (e_machine, prebuilt benchmark_model to download)
MACHINES = {183: "aarch64", 40: "32-bit ARM", 62: "x86-64", 3: "32-bit x86", 243: "RISC-V"}
ABIS = {
    "arm64-v8a": (183, "android_aarch64_benchmark_model"),
    "armeabi-v7a": (40, "android_arm_benchmark_model"),
    "armeabi": (40, "android_arm_benchmark_model"),
    "x86_64": (62, "android_x86_64_benchmark_model"),
    "x86": (3, "android_x86_benchmark_model"),
}
_PROPS = (
    "ro.product.manufacturer",
    "ro.product.model",
    "ro.product.cpu.abi",
    "ro.product.cpu.abilist",
    "ro.build.version.release",
    "ro.build.version.sdk",
    "ro.soc.model",
    "ro.board.platform",
)
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
_NUMBER = r"[-+]?(?:nan|inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_TIMINGS = re.compile(
    rf"Inference timings in us:\s*Init:\s*(?P<init>{_NUMBER}),\s*First inference:\s*(?P<first>{_NUMBER}),"
    rf"\s*Warmup \(avg\):\s*(?P<warmup>{_NUMBER}),\s*Inference \(avg\):\s*(?P<avg>{_NUMBER})"
)
# the statistics of one run phase, alone on its line after the optional "INFO: " of newer versions
_STATS = re.compile(r"^\s*(?:[A-Z]+:\s*)?count=(?P<count>\d+)\b(?P<rest>.*)$")
_MEMORY = re.compile(
    rf"(?P<what>Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):"
    rf"\s*init=(?P<init>{_NUMBER})\s+overall=(?P<overall>{_NUMBER})"
)
_VERSION = re.compile(r"Tensorflow Version\s*:\s*(?P<version>\S+)", re.IGNORECASE)
_DELEGATED = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]+)\)")


@dataclass(frozen=True)
class Phone:
    """The attached Android device edgeq talks to, and the facts ``getprop`` gave about it."""

    serial: str
    manufacturer: str
    model: str
    abi: str
    abilist: tuple[str, ...]
    android: str
    sdk: str
    soc: str

    @property
    def name(self) -> str:
        model = self.model or self.serial
        if self.manufacturer and not model.lower().startswith(self.manufacturer.lower()):
            return f"{self.manufacturer} {model}"
        return model

    def platform(self) -> dict[str, Any]:
        return {
            "device": self.name,
            "serial": self.serial,
            "abi": self.abi,
            "android": self.android,
            "sdk": self.sdk,
            "soc": self.soc,
        }


@dataclass(frozen=True)
class ElfHeader:
    """What edgeq checks of an executable: its machine, word size and program interpreter."""

    machine: int
    bits: int
    interpreter: str | None

    @property
    def machine_name(self) -> str:
        return MACHINES.get(self.machine, f"ELF machine {self.machine}")


@dataclass(frozen=True)
class BenchmarkOutput:
    """What one ``benchmark_model`` run printed, in its own units (microseconds and MB).

    ``runs`` and the spread come from the statistics line of the timed runs; ``None`` where the
    version that ran does not print a value. ``first_inference_us`` is None without warm-up runs.
    """

    init_us: float
    first_inference_us: float | None
    warmup_avg_us: float | None
    inference_avg_us: float
    runs: int | None = None
    warmup_runs: int | None = None
    min_us: float | None = None
    max_us: float | None = None
    std_us: float | None = None
    median_us: float | None = None
    p95_us: float | None = None
    memory_line: str | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    version: str | None = None
    delegation: tuple[str, ...] = ()


def parse_adb_target(text: str) -> str | None:
    """``"adb"`` → None (the one attached phone), ``"adb:SERIAL"`` → SERIAL.

    Raises InputError for anything else, naming the form the target takes.
    """
    name, colon, serial = text.strip().partition(":")
    if name != "adb" or (colon and not _SERIAL.fullmatch(serial)):
        raise InputError(
            f"--on {text!r}: an Android phone is adb, or adb:SERIAL with a serial from `adb devices`"
        )
    return serial or None


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """The timings, spread and memory figures in ``benchmark_model``'s printed output.

    Understands the plain lines of TensorFlow 2.4 to 2.8 and the ``INFO:``-prefixed ones of later
    versions, with or without the percentiles of the newest. Raises EdgeqError, with one line
    saying what is missing or malformed, when the output has no usable timings.
    """
    lines = text.splitlines()
    found = [(index, match) for index, line in enumerate(lines) if (match := _TIMINGS.search(line))]
    if not found:
        if "Inference timings in us" in text:
            line = next(line for line in lines if "Inference timings in us" in line)
            raise EdgeqError(f"benchmark_model's timings line is malformed: {line.strip()[:160]!r}")
        raise EdgeqError(
            f"benchmark_model printed no 'Inference timings in us' line; its last line: {_last_line(text)!r}"
        )
    at, timings = found[-1]
    init, first, warmup_avg, average = (float(timings[key]) for key in ("init", "first", "warmup", "avg"))
    if not (math.isfinite(init) and math.isfinite(average) and init >= 0 and average > 0):
        raise EdgeqError(f"benchmark_model's timings line has impossible values: {lines[at].strip()[:160]!r}")
    # the run phases print their statistics in order before the timings: warm-up, then timed runs
    phases = [match for line in lines[:at] if (match := _STATS.match(line))]
    timed = _statistics(phases[-1]) if phases else {}
    warmup = _statistics(phases[-2]) if len(phases) > 1 else {}
    warmed = math.isfinite(warmup_avg) and warmup.get("count") != 0
    memory = next((m for line in lines if (m := _MEMORY.search(line))), None)
    version = next((m["version"] for line in lines if (m := _VERSION.search(line))), None)
    delegation = tuple(
        f"{m[1]} of {m[2]} nodes to {m[3]}" for line in lines for m in _DELEGATED.finditer(line)
    )
    return BenchmarkOutput(
        init_us=init,
        first_inference_us=first if warmed else None,
        warmup_avg_us=warmup_avg if warmed else None,
        inference_avg_us=average,
        runs=timed.get("count"),
        warmup_runs=warmup.get("count"),
        min_us=timed.get("min"),
        max_us=timed.get("max"),
        std_us=timed.get("std"),
        median_us=timed.get("median"),
        p95_us=timed.get("p95"),
        memory_line=memory["what"] if memory else None,
        memory_init_mb=float(memory["init"]) if memory else None,
        memory_overall_mb=float(memory["overall"]) if memory else None,
        version=version,
        delegation=delegation,
    )


def _statistics(match: re.Match[str]) -> dict[str, Any]:
    """``count=50 first=.. curr=.. min=.. max=.. avg=.. std=.. [p5=.. median=.. p95=..]`` as a
    dict; ``count=N curr=T(all same)`` means every run took T."""
    count = int(match["count"])
    values = {key: float(value) for key, value in re.findall(rf"(\w+)=({_NUMBER})", match["rest"])}
    if count and "min" not in values and "curr" in values:
        values.update(min=values["curr"], max=values["curr"], avg=values["curr"], std=0.0)
    return {"count": count, **values}


def read_elf_header(data: bytes) -> ElfHeader | None:
    """The machine, word size and program interpreter of an ELF executable's bytes; None when
    ``data`` does not start like an ELF file or its header is cut short."""
    if len(data) < 52 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    bits = 32 if data[4] == 1 else 64
    order = "<" if data[5] == 1 else ">"
    (machine,) = struct.unpack_from(order + "H", data, 18)
    if bits == 64:
        if len(data) < 64:
            return None
        (phoff,) = struct.unpack_from(order + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 54)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 42)
    interpreter = None
    for index in range(phnum):
        start = phoff + index * phentsize
        if start + (56 if bits == 64 else 32) > len(data):
            return None
        (kind,) = struct.unpack_from(order + "I", data, start)
        if kind != 3:  # PT_INTERP: the path of the dynamic linker
            continue
        word, at_offset, at_size = ("Q", 8, 32) if bits == 64 else ("I", 4, 16)
        (offset,) = struct.unpack_from(order + word, data, start + at_offset)
        (size,) = struct.unpack_from(order + word, data, start + at_size)
        interpreter = data[offset : offset + size].rstrip(b"\0").decode(errors="replace")
    return ElfHeader(machine=machine, bits=bits, interpreter=interpreter)


def check_binary(path: Path, data: bytes, phone: Phone) -> ElfHeader:
    """The ELF header of ``benchmark_model`` when the phone can run it.

    Raises InputError naming the binary to download instead when it is not an ELF executable, is
    built for another processor than the phone's ABIs, or is a desktop Linux (glibc) build.
    """
    wanted = ABIS.get(phone.abi, (None, f"android_{phone.abi}_benchmark_model"))[1]
    get = f"use the prebuilt {wanted} from {DOCS}"
    header = read_elf_header(data)
    if header is None:
        raise InputError(f"{path} is not an ELF executable, so the phone cannot run it: {get}")
    runnable = dict.fromkeys(ABIS[abi][0] for abi in (phone.abi, *phone.abilist) if abi in ABIS)
    if runnable and header.machine not in runnable:  # an ABI edgeq does not know is not judged
        raise InputError(
            f"{path} is a {header.machine_name} program but {phone.name} ({phone.abi}) runs "
            f"{' or '.join(MACHINES[machine] for machine in runnable)} programs: {get}"
        )
    if header.interpreter is not None and not header.interpreter.startswith("/system/bin/linker"):
        raise InputError(
            f"{path} is a desktop Linux build (it needs {header.interpreter}), which Android cannot run: "
            + get
        )
    return header


def find_benchmark_model(explicit: str | Path | None = None) -> Path:
    """The benchmark_model binary to push: ``explicit``, else $EDGEQ_BENCHMARK_MODEL, else
    ``benchmark_model`` on PATH. Raises InputError saying where to get one when there is none."""
    for given, origin in ((explicit, "--benchmark-model"), (os.environ.get(BINARY_ENV), f"${BINARY_ENV}")):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise InputError(f"{origin} {given}: no such file")
            return path
    found = shutil.which("benchmark_model")
    if found:
        return Path(found)
    raise InputError(
        "benchmarking on a phone needs TensorFlow Lite's benchmark_model: download the prebuilt "
        f"android_aarch64_benchmark_model from {DOCS} and give it with --benchmark-model PATH "
        f"(or ${BINARY_ENV})"
    )


def parse_devices(text: str) -> list[tuple[str, str]]:
    """``adb devices`` output → [(serial, state)], e.g. ("R58M123ABC", "device"). Raises
    DeviceError when the output is not a device list."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("List of devices attached")), None)
    if start is None:
        raise DeviceError(f"`adb devices` did not list devices: {_last_line(text)!r}")
    entries = []
    for line in lines[start + 1 :]:
        serial, _, state = line.strip().partition("\t")
        if serial and not serial.startswith("*"):
            entries.append((serial, state.strip() or "unknown"))
    return entries


def choose_device(entries: Sequence[tuple[str, str]], serial: str | None) -> str:
    """The serial of the phone to use from ``adb devices``' ``entries``.

    Raises DeviceError with one line saying what to do when the phone asked for is missing or not
    ready, when none is attached, or when several are and no serial chooses one.
    """
    if serial is not None:
        state = dict(entries).get(serial)
        if state is None:
            attached = ", ".join(s for s, _ in entries) or "none"
            raise DeviceError(f"no Android device {serial!r} is attached (adb devices lists: {attached})")
        if state != "device":
            raise DeviceError(_not_ready(serial, state))
        return serial
    ready = [s for s, state in entries if state == "device"]
    if len(ready) == 1:
        return ready[0]
    if ready:
        raise DeviceError(
            f"{len(ready)} Android devices are attached ({', '.join(ready)}): choose one with --on adb:SERIAL"
        )
    if entries:
        raise DeviceError(_not_ready(*entries[0]))
    raise DeviceError(
        "no Android device is attached: connect the phone by USB with USB debugging on "
        "(Settings > Developer options), then check that `adb devices` lists it"
    )


def _not_ready(serial: str, state: str) -> str:
    if state == "unauthorized":
        return (
            f"the phone {serial} has not authorized this computer: unlock it and accept the "
            "'Allow USB debugging?' prompt"
        )
    if state == "offline":
        return f"the phone {serial} is offline: reconnect it, or run `adb kill-server` and try again"
    if state.startswith("no permissions"):
        return (
            f"adb may not open the USB device {serial}: install the udev rules "
            "(apt-get install android-sdk-platform-tools-common) and reconnect it"
        )
    return f"the device {serial} is in state {state!r}, not running Android: boot it normally"


class _Adb:
    """adb for one phone (or for the adb server when ``serial`` is None), every call timed out."""

    def __init__(self, program: str, serial: str | None = None) -> None:
        self.program, self.serial = program, serial

    def run(
        self, args: Sequence[str], timeout: float, what: str, merge: bool = False
    ) -> subprocess.CompletedProcess[str]:
        command = [self.program, *(("-s", self.serial) if self.serial else ()), *args]
        try:
            return subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                text=True, errors="replace", timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"{what} did not finish within {timeout:.0f} s: is the phone still connected and unlocked?"
            ) from None

    def shell_ok(self, command: str, what: str) -> None:
        """Run ``command`` on the phone; DeviceError with adb's last line unless it succeeded."""
        done = self.run(["shell", f"{command} && echo {_OK}"], QUICK_TIMEOUT_S, what)
        if _OK not in done.stdout:
            said = _last_line(done.stderr) if done.stderr.strip() else _last_line(done.stdout)
            raise DeviceError(f"could not {what} on the phone: {said}")

    def push(self, local: Path, remote: str) -> None:
        done = self.run(["push", str(local), remote], PUSH_TIMEOUT_S, f"adb push of {local.name}")
        if done.returncode != 0:
            said = _last_line(done.stderr) if done.stderr.strip() else _last_line(done.stdout)
            raise DeviceError(f"adb push of {local.name} to {remote} failed: {said}")


def read_phone(adb: _Adb) -> Phone:
    """The phone's model, ABIs and Android version, from ``getprop``. Raises DeviceError when the
    phone does not answer."""
    done = adb.run(["shell", "; ".join(f"getprop {prop}" for prop in _PROPS)], QUICK_TIMEOUT_S, "getprop")
    values = [line.strip() for line in done.stdout.splitlines()]
    values += [""] * (len(_PROPS) - len(values))
    facts = dict(zip(_PROPS, values, strict=False))
    if done.returncode != 0 or not facts["ro.product.cpu.abi"]:
        raise DeviceError(f"could not read the phone's properties with getprop: {_last_line(done.stderr)}")
    abilist = tuple(abi for abi in facts["ro.product.cpu.abilist"].split(",") if abi)
    return Phone(
        serial=adb.serial or "",
        manufacturer=facts["ro.product.manufacturer"],
        model=facts["ro.product.model"],
        abi=facts["ro.product.cpu.abi"],
        abilist=abilist or (facts["ro.product.cpu.abi"],),
        android=facts["ro.build.version.release"],
        sdk=facts["ro.build.version.sdk"],
        soc=facts["ro.soc.model"] or facts["ro.board.platform"],
    )


def bench_adb(
    models: Sequence[BenchModel],
    benchmark_model: str | Path | None = None,
    serial: str | None = None,
    runs: int = 100,
    warmup: int = 10,
    threads: int = 1,
    xnnpack: bool = True,
    progress: Progress | None = None,
    timeout: float = 1800.0,
) -> list[BenchResult]:
    """Time every model on an Android phone with TensorFlow Lite's ``benchmark_model``.

    ``serial`` picks one of several attached phones (target ``adb:SERIAL``); ``benchmark_model``
    is the binary to push (default: $EDGEQ_BENCHMARK_MODEL, else ``benchmark_model`` on PATH).
    Each model runs ``runs`` times after ``warmup`` warm-up runs with ``threads`` threads, XNNPACK
    on or off; ``timeout`` bounds one model's run. The temporary folder on the phone is removed
    afterwards, also after a failure or a timeout.

    Returns one BenchResult per model, in order; a model that benchmark_model could not run gets
    a result with ``error`` set. Raises ToolchainError when adb is missing (package ``adb``),
    InputError for bad options or an unusable benchmark_model binary, DeviceError when no phone
    is ready or it stops answering.
    """
    say = progress or (lambda _message: None)
    if runs < 1 or warmup < 0 or threads < 1:
        raise InputError("--runs and --threads must be at least 1, --warmup at least 0")
    target = "adb" if serial is None else f"adb:{serial}"
    program = require("adb", "to benchmark on an Android phone")
    binary = find_benchmark_model(benchmark_model)
    listing = _Adb(program).run(["devices"], QUICK_TIMEOUT_S, "adb devices")
    if listing.returncode != 0:
        raise DeviceError(f"`adb devices` failed: {_last_line(listing.stderr)}")
    adb = _Adb(program, choose_device(parse_devices(listing.stdout), serial))
    phone = read_phone(adb)
    data = binary.read_bytes()
    check_binary(binary, data, phone)
    toolchain = {
        "benchmark_model": binary.name,
        "benchmark_model_sha256": hashlib.sha256(data).hexdigest(),
        "adb": _first_line(_Adb(program).run(["version"], QUICK_TIMEOUT_S, "adb version").stdout),
    }
    folder = f"{REMOTE_ROOT}/edgeq-{secrets.token_hex(6)}"
    say(f"{phone.name} ({phone.abi}, Android {phone.android}) over adb: benchmark_model in {folder}")
    try:
        adb.shell_ok(f"mkdir {shlex.quote(folder)}", f"make the temporary folder {folder}")
        adb.push(binary, f"{folder}/benchmark_model")
        adb.shell_ok(
            f"chmod 755 {shlex.quote(folder + '/benchmark_model')}", "make benchmark_model executable"
        )
        results = []
        with tempfile.TemporaryDirectory(prefix="edgeq-adb-") as work:
            for index, model in enumerate(models):
                local = Path(work) / f"model{index}.tflite"
                local.write_bytes(model.tflite)
                adb.push(local, f"{folder}/{local.name}")
                say(f"{Path(model.path).name} on {target}: benchmark_model, {runs} runs, {warmup} warm-up")
                run = _Run(folder, f"{folder}/{local.name}", runs, warmup, threads, xnnpack)
                results.append(_bench_one(adb, phone, target, model, run, toolchain, timeout))
        return results
    finally:
        _remove(adb, folder, say)


@dataclass(frozen=True)
class _Run:
    folder: str
    graph: str
    runs: int
    warmup: int
    threads: int
    xnnpack: bool

    @property
    def flags(self) -> list[str]:
        # min_secs and warmup_min_secs default to 1 s and 0.5 s, which would add runs to a fast model
        return [
            f"--graph={self.graph}",
            f"--num_runs={self.runs}",
            f"--warmup_runs={self.warmup}",
            "--min_secs=0",
            "--warmup_min_secs=0",
            f"--num_threads={self.threads}",
            f"--use_xnnpack={'true' if self.xnnpack else 'false'}",
        ]

    def runtime(self, version: str | None) -> str:
        """``TFLite benchmark_model (TensorFlow 2.15.0), XNNPACK, 1 thread`` (the version when printed)."""
        name = f"TFLite benchmark_model (TensorFlow {version})" if version else "TFLite benchmark_model"
        threads = f"{self.threads} thread{'s' * (self.threads > 1)}"
        return f"{name}, {'XNNPACK' if self.xnnpack else 'no XNNPACK'}, {threads}"

    @property
    def command(self) -> str:
        words = [f"{self.folder}/benchmark_model", *self.flags]
        return " ".join(map(shlex.quote, words)) + f"; echo {_EXIT}$?"


def _bench_one(
    adb: _Adb, phone: Phone, target: str, model: BenchModel, run: _Run, toolchain: dict[str, str],
    timeout: float,
) -> BenchResult:  # fmt: skip
    name = Path(model.path).name
    try:
        done = adb.run(["shell", run.command], timeout, f"benchmark_model on {name}", merge=True)
    except DeviceError:
        # the phone may still be running it: stop it before the folder goes
        _quietly(adb, f"pkill -f {shlex.quote(run.folder + '/benchmark_model')}")
        raise
    output, marker, tail = done.stdout.rpartition(_EXIT)
    if not marker or not tail.strip().isdigit():
        raise DeviceError(
            f"adb lost {phone.name} while benchmark_model ran {name}: {_last_line(done.stdout)}"
        )
    status = int(tail.strip())
    details: dict[str, Any] = {
        "command": " ".join(["benchmark_model", *run.flags]),
        "requested_runs": run.runs,
        "requested_warmup": run.warmup,
        "threads": run.threads,
        "xnnpack": run.xnnpack,
    }
    common = {"model": model.path, "sha256": model.sha256, "target": target, "platform": phone.platform()}
    try:
        if status != 0:
            why = _failure_reason(output)
            raise BenchFailure(
                target, f"benchmark_model failed on {phone.name} (exit status {status}): {why}"
            )
        parsed = parse_benchmark_output(output)
    except EdgeqError as exc:
        failure = as_failure(target, exc)
        details.update(exit_code=failure.exit_code, exit_status=status,
                       output_tail=[line for line in output.splitlines() if line.strip()][-15:])  # fmt: skip
        return BenchResult(
            **common, runtime=run.runtime(None), toolchain=toolchain, error=failure.reason, details=details
        )
    details.update(
        runs=parsed.runs, warmup=parsed.warmup_runs, delegation=list(parsed.delegation),
        warmup_avg_ms=None if parsed.warmup_avg_us is None else round(parsed.warmup_avg_us / 1e3, 4),
    )  # fmt: skip
    return BenchResult(
        **common,
        runtime=run.runtime(parsed.version),
        toolchain={**toolchain, "tensorflow": parsed.version or "not printed by benchmark_model"},
        figures=benchmark_figures(parsed),
        details=details,
    )


def benchmark_figures(parsed: BenchmarkOutput) -> tuple[Figure, ...]:
    """edgeq's figures from one benchmark_model run: all measured on the phone, in ms and KiB."""
    over = f"over {_count(parsed.runs, 'run')}" if parsed.runs else "over the timed runs"
    after = f" after {_count(parsed.warmup_runs, 'warm-up run')}" if parsed.warmup_runs else ""
    figures = [
        Figure(
            "latency_avg_ms", round(parsed.inference_avg_us / 1e3, 4), "ms", "measured",
            f"benchmark_model's Inference (avg) {over}{after}, on the phone",
        ),
    ]  # fmt: skip
    for name, value, statistic in (
        ("latency_p50_ms", parsed.median_us, "median"),
        ("latency_p95_ms", parsed.p95_us, "95th percentile"),
        ("latency_min_ms", parsed.min_us, "min"),
        ("latency_max_ms", parsed.max_us, "max"),
        ("latency_std_ms", parsed.std_us, "standard deviation"),
    ):
        if value is not None:
            how = f"benchmark_model's {statistic} {over}, on the phone"
            figures.append(Figure(name, round(value / 1e3, 4), "ms", "measured", how))
    figures.append(
        Figure(
            "load_ms", round(parsed.init_us / 1e3, 3), "ms", "measured",
            "benchmark_model's Init: loading the model, building the interpreter, applying delegates, "
            "allocating tensors",
        )
    )  # fmt: skip
    if parsed.first_inference_us is not None:
        figures.append(
            Figure(
                "first_invoke_ms", round(parsed.first_inference_us / 1e3, 3), "ms", "measured",
                "benchmark_model's First inference: the first warm-up run",
            )
        )  # fmt: skip
    if parsed.memory_overall_mb is not None and parsed.memory_init_mb is not None:
        line = f"benchmark_model's '{parsed.memory_line}'"
        figures += [
            Figure(
                "memory_kb", round(parsed.memory_overall_mb * 1024, 1), "KiB", "measured",
                f"{line} overall=: growth of the tool's memory from its start to the end of the runs "
                "(approximate, by its own note)",
            ),
            Figure(
                "memory_init_kb", round(parsed.memory_init_mb * 1024, 1), "KiB", "measured",
                f"{line} init=: growth of the tool's memory from its start to the loaded model",
            ),
        ]  # fmt: skip
    return tuple(figures)


def _remove(adb: _Adb, folder: str, say: Progress) -> None:
    """Remove ``folder`` on the phone; when that fails, say so (never raise over another error)."""
    try:
        done = adb.run(["shell", f"rm -rf {shlex.quote(folder)}"], QUICK_TIMEOUT_S, f"removing {folder}")
    except DeviceError as exc:
        say(f"warning: could not remove {folder} on the phone: {exc}; remove it with adb shell rm -rf")
        return
    if done.returncode != 0:
        said = _last_line(done.stderr) if done.stderr.strip() else _last_line(done.stdout)
        say(f"warning: could not remove {folder} on the phone: {said}; remove it with adb shell rm -rf")


def _quietly(adb: _Adb, command: str) -> None:
    with contextlib.suppress(DeviceError):
        adb.run(["shell", command], QUICK_TIMEOUT_S, command)


def _failure_reason(output: str) -> str:
    """The line that says why benchmark_model failed: its first ERROR line, else its last line."""
    for line in output.splitlines():
        if line.strip().startswith("ERROR:"):
            return line.strip()[len("ERROR:") :].strip()[:200]
    return _last_line(output)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "unknown"


def _run_on_phone(
    models: Sequence[BenchModel], target: str, options: BenchOptions, say: Progress
) -> list[BenchResult]:
    """The adb runner's one target: a model benchmark_model cannot run gets a failed row, a phone
    that is not ready raises DeviceError (every model on it gets that failed row)."""
    return bench_adb(models, options.benchmark_model, parse_adb_target(target), options.runs, options.warmup,
                     options.threads, options.xnnpack, say, options.device_timeout)  # fmt: skip


ADB_RUNNER = DeviceRunner(
    ("adb[:SERIAL]",), parse_adb_target, _run_on_phone, prefixes=("adb:",), names=("adb",)
)
