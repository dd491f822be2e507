"""Benchmarks on a microcontroller over its serial port: ``edgeq bench model.tflite --on
serial:/dev/ttyACM0 [--flash-cmd "..."]``.

The board runs a firmware bundle edgeq wrote (``edgeq export mcu``), whose self-test invokes the
model on the sample input embedded at export, compares the outputs with the expected ones and
prints one line::

    EDGEQ model=<name> result=ok|mismatch|error us=<invoke time> max_diff=<n> arena_used=<bytes> arena=<bytes>

edgeq opens the port first, then runs the user's flash command (which usually resets the board),
then reads lines until a complete EDGEQ line arrives or the timeout passes. The latency is the
board's own measurement (its microsecond clock around Invoke()), one inference.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult, Figure, OutputCheck
from edgeq.bench.runs import BenchModel, DeviceRunner, Progress
from edgeq.cnames import suggest_identifier
from edgeq.errors import DeviceError, InputError, ToolchainError

DEFAULT_BAUD = 115200
_LINE = re.compile(r"EDGEQ model=(?P<model>\S+) result=(?P<result>ok|mismatch|error)(?P<rest>.*)")
_FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class SerialTarget:
    """``serial:PORT[@BAUD]``."""

    port: str
    baud: int = DEFAULT_BAUD

    @property
    def name(self) -> str:
        return f"serial:{self.port}"


def parse_serial_target(text: str) -> SerialTarget:
    """``serial:/dev/ttyACM0`` or ``serial:/dev/ttyUSB0@921600`` → SerialTarget (InputError otherwise)."""
    body = text.strip()[len("serial:") :]
    port, _, baud = body.partition("@")
    if not port:
        raise InputError(f"--on {text!r}: a serial target names its port, e.g. serial:/dev/ttyACM0")
    if baud and not (baud.isascii() and baud.isdigit() and 50 <= int(baud) <= 20_000_000):
        raise InputError(
            f"--on {text!r}: the baud rate after @ must be 50 to 20000000, e.g. serial:{port}@115200"
        )
    return SerialTarget(port=port, baud=int(baud) if baud else DEFAULT_BAUD)


@dataclass(frozen=True)
class SelftestLine:
    """One EDGEQ line of a bundle's self-test."""

    model: str
    result: str
    fields: dict[str, str]
    text: str

    def number(self, key: str) -> int | None:
        value = self.fields.get(key)
        return int(value) if value is not None and re.fullmatch(r"-?[0-9]+", value) else None


def parse_selftest_line(line: str) -> SelftestLine | None:
    """The EDGEQ line in ``line`` (None when it holds none)."""
    match = _LINE.search(line.strip())
    if match is None:
        return None
    fields = dict(_FIELD.findall(match["rest"]))
    return SelftestLine(model=match["model"], result=match["result"], fields=fields, text=match.group(0))


def read_selftest(
    target: SerialTarget, flash_command: str | None = None, timeout: float = 60.0
) -> tuple[SelftestLine, list[str]]:
    """Open the port, run ``flash_command`` (if any), and return the first complete EDGEQ line
    with (up to 50 of) the lines read before it. Raises DeviceError on a missing port, a failed flash command
    or a timeout."""
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency of edgeq
        raise ToolchainError("pyserial is not installed: pip install pyserial") from None
    try:
        port = serial.Serial(target.port, target.baud, timeout=0.2)
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(f"cannot open {target.port}: {exc}") from None
    with port:
        port.reset_input_buffer()
        if flash_command:
            _flash(flash_command, timeout)
        seen: list[str] = []
        pending = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending += port.read(4096)
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                # a line cut off by opening the port mid-line has no "EDGEQ model=" and is skipped
                text = raw.decode("ascii", errors="replace").strip("\r")
                found = parse_selftest_line(text)
                if found is not None:
                    return found, seen
                seen = [*seen[-49:], text]  # the last lines, for the error message
    tail = f"; last line: {seen[-1][:120]!r}" if seen else "; nothing was received"
    raise DeviceError(f"no EDGEQ line on {target.port} within {timeout:.0f} s{tail}")


def _flash(command: str, timeout: float) -> None:
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise InputError(f"--flash-cmd: {exc.filename} not found") from None
    except subprocess.TimeoutExpired:
        raise DeviceError(f"--flash-cmd did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise DeviceError(f"--flash-cmd failed with exit status {done.returncode}: {said[:200]}")


def bench_serial(
    model: BenchModel,
    target: SerialTarget,
    flash_command: str | None = None,
    timeout: float = 60.0,
    expected_name: str | None = None,
) -> BenchResult:
    """Read the board's self-test line and turn it into a BenchResult: latency as the board
    measured it, the tensor arena it used, and its own output check (its outputs against the
    expected ones embedded at export)."""
    line, _ = read_selftest(target, flash_command, timeout)
    details: dict[str, Any] = {"line": line.text, "flash_command": flash_command, "baud": target.baud}
    if expected_name is not None and line.model != expected_name:
        raise DeviceError(
            f"the board on {target.port} runs model {line.model!r}, not {expected_name!r}: flash the bundle "
            f"exported from {Path(model.path).name} (a bundle exported with --name {line.model} is matched "
            f"by a model file named {line.model}.tflite)"
        )
    base = dict(model=model.path, sha256=model.sha256, target=target.name,
                platform={"port": target.port, "baud": target.baud},
                runtime=f"edgeq firmware bundle (model {line.model})", toolchain={})  # fmt: skip
    if line.result == "error":
        reason = line.fields.get("reason", "unknown")
        return BenchResult(**base, error=f"the board's self-test failed at {reason}", details=details)
    figures = []
    how = "the board's microsecond clock around one Invoke(), as printed by its self-test"
    if (us := line.number("us")) is not None:
        figures.append(Figure("latency_ms", us / 1000.0, "ms", "measured", how))
    if (used := line.number("arena_used")) is not None:
        how = "the interpreter's arena_used_bytes() (the engine: its planned arena)"
        figures.append(Figure("arena_used_bytes", used, "bytes", "measured", how))
    if (arena := line.number("arena")) is not None:
        how = "the tensor arena the bundle reserves"
        figures.append(Figure("arena_bytes", arena, "bytes", "measured", how))
    max_diff = line.number("max_diff")
    check = OutputCheck(
        passed=line.result == "ok", compared_with=("expected outputs embedded at export",),
        bytes_compared=0, differing_bytes=0,
        detail=f"the board compared its outputs: result={line.result}, largest difference {max_diff}",
    )  # fmt: skip
    return BenchResult(**base, figures=tuple(figures), output_check=check, details=details)


def _run_on_port(
    models: Sequence[BenchModel], target: str, options: BenchOptions, say: Progress
) -> list[BenchResult]:
    """The serial runner's one target: the self-test line of the bundle the board runs."""
    if len(models) != 1:
        raise InputError(f"--on {target}: the board runs one firmware bundle, so give exactly one model")
    port = parse_serial_target(target)
    say(f"reading the self-test of the bundle on {port.port}")
    expected = suggest_identifier(Path(models[0].path).stem)  # the bundle's default --name
    return [bench_serial(models[0], port, options.flash_command, options.device_timeout, expected)]


SERIAL_RUNNER = DeviceRunner(
    ("serial:PORT[@BAUD]",), parse_serial_target, _run_on_port, prefixes=("serial:",)
)
