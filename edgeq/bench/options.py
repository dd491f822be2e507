"""How ``edgeq bench`` runs: one frozen BenchOptions, validated once, that every runner reads."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from edgeq.errors import InputError


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


@dataclass(frozen=True)
class BenchOptions:
    """Everything but the models and targets that decides how ``edgeq bench`` runs.

    ``clock`` (Hz, or text like ``"120MHz"``) sets the Cortex-M latency estimate; ``flash`` and
    ``ram`` (bytes, or text like ``"1MB"``) shrink the emulated boards to a real part's budget.
    Text is parsed on construction, so a built BenchOptions always holds Hz and bytes.
    ``runs``/``warmup``/``threads``/``xnnpack`` apply to LiteRT and benchmark_model targets;
    ``seed`` draws the random input. ``remote_python`` and ``ssh_config`` are for ``ssh://``,
    ``benchmark_model`` for ``adb``, ``flash_command`` for ``serial:``; ``device_timeout``
    bounds each device run. Raises InputError, naming the option and its valid values.
    """

    runs: int = 100
    warmup: int = 10
    threads: int = 1
    xnnpack: bool = True
    clock: float = 120e6
    flash: int | None = None
    ram: int | None = None
    seed: int = 0
    remote_python: str = "python3"
    ssh_config: Path | None = None
    benchmark_model: Path | None = None
    flash_command: str | None = None
    device_timeout: float = 600.0

    def __post_init__(self) -> None:
        # frozen: normalise text and path-likes through object.__setattr__, once, here
        normalised = {
            "clock": parse_clock(self.clock),
            "flash": parse_size("--flash", self.flash),
            "ram": parse_size("--ram", self.ram),
            "ssh_config": None if self.ssh_config is None else Path(self.ssh_config),
            "benchmark_model": None if self.benchmark_model is None else Path(self.benchmark_model),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        for name, low in (("runs", 1), ("warmup", 0), ("threads", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"--{name} must be a whole number of at least {low}, got {value!r}")
        for name in ("flash", "ram"):
            if (value := getattr(self, name)) is not None and value < 1:
                raise InputError(f"--{name} must be at least 1 byte (e.g. 256KB), got {value}")
        timeout = self.device_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise InputError(f"--device-timeout must be a number of seconds above 0, got {timeout!r}")
        if not isinstance(self.remote_python, str) or not self.remote_python.strip():
            raise InputError(f"--remote-python must name the board's Python, got {self.remote_python!r}")

    @property
    def litert_resolver(self) -> str:
        """The op resolver ``device_runner.py`` gives LiteRT: with XNNPACK or without."""
        return "default" if self.xnnpack else "no_xnnpack"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: clock in Hz, sizes in bytes, paths as text."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchOptions:
        """Read ``to_dict``'s output; InputError naming a key that is not an option."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown bench option {unknown[0]!r}: choose from {', '.join(sorted(known))}")
        return cls(**data)
