"""Finding the programs benchmarks need, and saying which Debian packages provide missing ones."""

from __future__ import annotations

import functools
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
