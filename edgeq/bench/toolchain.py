"""Finding the programs benchmarks need, and saying which Debian packages provide missing ones."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from edgeq.errors import ToolchainError

# program → Debian packages that provide it (and what it needs beside it)
PACKAGES = {
    "gcc": ("gcc",),
    "arm-none-eabi-gcc": ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi"),
    "qemu-system-arm": ("qemu-system-arm",),
    "qemu-aarch64": ("qemu-user",),
    "debootstrap": ("debootstrap",),
}


def require(program: str, purpose: str) -> str:
    """The path of ``program``; ToolchainError naming its Debian packages when it is missing."""
    path = shutil.which(program)
    if path is None:
        packages = " ".join(PACKAGES.get(program, (program,)))
        raise ToolchainError(
            f"{program} is missing, needed {purpose}: install it with apt-get install {packages}"
        )
    return path


@functools.cache
def version(program: str) -> str:
    """The first line ``program --version`` prints (for the results' environment record)."""
    path = shutil.which(program)
    if path is None:
        return "not installed"
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def cache_dir() -> Path:
    """edgeq's cache folder: $EDGEQ_CACHE_DIR, else $XDG_CACHE_HOME/edgeq, else ~/.cache/edgeq."""
    explicit = os.environ.get("EDGEQ_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgeq"


def read_counts(path: Path) -> tuple[int, tuple[int, ...], dict[str, int]]:
    """The counting plugin's output: (all instructions, instructions per marked section,
    instructions per mnemonic summed over the sections)."""
    total, sections, mnemonics = 0, [], {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "total":
            total = int(parts[1])
        elif parts[0] == "section":
            sections.append(int(parts[1]))
        elif parts[0] == "mnemonic" and int(parts[2]):
            mnemonics[parts[1]] = int(parts[2])
    return total, tuple(sections), mnemonics


def counting_plugin() -> Path:
    """edgeq's QEMU instruction-counting plugin, compiled with the host gcc on first use and cached
    under a name derived from its source's hash (a changed source builds a new one)."""
    source = Path(__file__).with_name("native") / "edgeq_count.c"
    text = source.read_bytes()
    digest = hashlib.sha256(text).hexdigest()[:16]
    target = cache_dir() / "plugins" / f"edgeq_count-{digest}.so"
    if target.is_file():
        return target
    gcc = require("gcc", "to build edgeq's QEMU instruction-counting plugin")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    command = [
        gcc,
        "-std=c99",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-shared",
        "-fPIC",
        str(source),
        "-o",
        str(staging),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        staging.unlink(missing_ok=True)
        raise ToolchainError(
            f"gcc could not build edgeq's QEMU plugin: {done.stderr.strip().splitlines()[0]}"
        )
    os.replace(staging, target)
    return target
