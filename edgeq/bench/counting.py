"""edgeq's QEMU instruction-counting plugin: built from its C source (package data) on first use;
its output read back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from importlib import resources
from pathlib import Path

from edgeq.errors import ToolchainError
from edgeq.toolchain import cache_dir, require


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
    text = (resources.files("edgeq.bench") / "native" / "edgeq_count.c").read_bytes()
    digest = hashlib.sha256(text).hexdigest()[:16]
    target = cache_dir() / "plugins" / f"edgeq_count-{digest}.so"
    if target.is_file():
        return target
    gcc = require("gcc", "to build edgeq's QEMU instruction-counting plugin")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    # gcc reads a file: the source is package data, possibly inside a zip, so it is copied out first
    source = target.with_name(f".edgeq_count-{digest}.{os.getpid()}.c")
    source.write_bytes(text)
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
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        source.unlink(missing_ok=True)
    if done.returncode != 0:
        staging.unlink(missing_ok=True)
        raise ToolchainError(
            f"gcc could not build edgeq's QEMU plugin: {done.stderr.strip().splitlines()[0]}"
        )
    os.replace(staging, target)
    return target
