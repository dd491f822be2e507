"""Flash and RAM of a linked firmware image, split by what the bytes are for.

GNU ld's map file lists every input section that made it into the image with its size and the
object file (or archive member) it came from; edgeq compiles each part of the firmware into its own
object file, so the split is exact: nothing is estimated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# What each object file is, by its file name.
PARTS = {
    "model.o": "model",
    "edgeq_kernels.o": "kernels",
    "startup.o": "harness",
    "bench_main.o": "harness",
}
# Output sections of edgeq's linker script that occupy flash or RAM (the stack is counted by its peak).
_ALLOCATED = (".text", ".ARM.exidx", ".data", ".bss")
_OUTPUT = re.compile(r"^(\.[\w.]+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")
_INPUT = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_NAME_ONLY = re.compile(r"^ (\S+)$")
_CONTINUED = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_FILL = re.compile(r"^ \*fill\*\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")


@dataclass(frozen=True)
class MemorySplit:
    """Bytes of flash and RAM by purpose. ``stack_bytes`` is the measured peak, not the reserve."""

    model_constants: int
    engine_code: int
    runtime_library_flash: int
    harness_flash: int
    activation_buffer: int
    runtime_library_ram: int
    harness_ram: int
    other_ram: int
    stack_bytes: int

    @property
    def flash_bytes(self) -> int:
        """What the model costs a firmware in flash: everything but the benchmark harness."""
        return self.model_constants + self.engine_code + self.runtime_library_flash

    @property
    def ram_bytes(self) -> int:
        """What the model costs in RAM: everything but the harness's own buffers, with the stack peak."""
        return self.activation_buffer + self.runtime_library_ram + self.other_ram + self.stack_bytes

    @property
    def image_flash_bytes(self) -> int:
        return self.flash_bytes + self.harness_flash

    def to_dict(self) -> dict[str, object]:
        return {
            "flash_bytes": self.flash_bytes,
            "image_flash_bytes": self.image_flash_bytes,
            "flash": {
                "model_constants": self.model_constants,
                "engine_code": self.engine_code,
                "runtime_library": self.runtime_library_flash,
                "benchmark_harness": self.harness_flash,
            },
            "ram_bytes": self.ram_bytes,
            "ram": {
                "activation_buffer": self.activation_buffer,
                "stack_peak": self.stack_bytes,
                "runtime_library": self.runtime_library_ram,
                "benchmark_harness": self.harness_ram,
                "other": self.other_ram,
            },
        }


@dataclass(frozen=True)
class Piece:
    output: str  # output section: .text, .data, .bss, ...
    section: str  # input section name
    size: int
    source: str  # object file or archive(member)


def read_map(path: Path) -> list[Piece]:
    """The input sections placed in the image (with fill bytes given to the piece before them)."""
    lines = path.read_text(errors="replace").splitlines()
    try:
        start = lines.index("Linker script and memory map") + 1
    except ValueError:
        raise ValueError(f"{path} is not a GNU ld map file") from None
    pieces: list[Piece] = []
    output = ""
    pending: str | None = None
    for line in lines[start:]:
        if line.startswith("/DISCARD/"):
            output = "/DISCARD/"
            continue
        match = _OUTPUT.match(line)
        if match:
            output, pending = match.group(1), None
            continue
        if output in ("", "/DISCARD/"):
            continue
        match = _FILL.match(line)
        if match:
            if pieces and pieces[-1].output == output:
                last = pieces[-1]
                pieces[-1] = Piece(
                    last.output, last.section, last.size + int(match.group(2), 16), last.source
                )
            continue
        match = _INPUT.match(line)
        if match and not line.startswith(" *("):
            pieces.append(Piece(output, match.group(1), int(match.group(3), 16), match.group(4).strip()))
            pending = None
            continue
        match = _NAME_ONLY.match(line)
        if match and not line.startswith(" *"):
            pending = match.group(1)
            continue
        match = _CONTINUED.match(line)
        if match and pending is not None:
            pieces.append(Piece(output, pending, int(match.group(2), 16), match.group(3).strip()))
            pending = None
    return [piece for piece in pieces if piece.size > 0]


def part_of(source: str) -> str:
    """model, kernels, harness or runtime (the C library and libgcc)."""
    name = Path(source.split("(")[0]).name
    if "(" in source or name.endswith(".a"):
        return "runtime"
    return PARTS.get(name, "runtime")


def split_memory(pieces: Iterable[Piece], stack_peak: int) -> MemorySplit:
    flash = {"constants": 0, "engine": 0, "runtime": 0, "harness": 0}
    ram = {"activations": 0, "runtime": 0, "harness": 0, "other": 0}
    for piece in pieces:
        part = part_of(piece.source)
        in_flash = piece.output not in (".bss", ".stack")
        in_ram = piece.output in (".data", ".bss")
        if piece.output not in _ALLOCATED:
            continue  # the reserved stack (its measured peak counts instead), debug information
        if in_flash:
            if part == "model" and piece.section.startswith(".rodata"):
                flash["constants"] += piece.size
            elif part in ("model", "kernels"):
                flash["engine"] += piece.size
            else:
                flash[part] += piece.size
        if in_ram:
            if part == "model" and piece.output == ".bss":
                ram["activations"] += piece.size
            elif part in ("runtime", "harness"):
                ram[part] += piece.size
            else:
                ram["other"] += piece.size
    return MemorySplit(
        model_constants=flash["constants"],
        engine_code=flash["engine"],
        runtime_library_flash=flash["runtime"],
        harness_flash=flash["harness"],
        activation_buffer=ram["activations"],
        runtime_library_ram=ram["runtime"],
        harness_ram=ram["harness"],
        other_ram=ram["other"],
        stack_bytes=stack_peak,
    )
