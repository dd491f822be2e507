"""The host harness: generated engines compiled with the system gcc into one program that edgeq
drives through pipes (``edgeq validate``, the tests).

The program takes a model name as its argument, reads that model's raw input tensors from
standard input one after another, and writes each output tensor's raw bytes to standard output.
Several engines share one build, so hundreds of small models compile with one gcc call.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeq.engine.generate import EngineSource, kernel_files
from edgeq.errors import EdgeqError, ToolchainError

STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
NUMPY_TYPES = {"int8_t": np.int8, "int16_t": np.int16, "float": np.float32, "uint8_t": np.uint8}


@dataclass(frozen=True)
class HostEngines:
    """A compiled host program holding one or more engines."""

    binary: Path
    io: dict[str, tuple[tuple[str, int], tuple[str, int]]]  # name → ((in ctype, n), (out ctype, n))

    def run(self, name: str, inputs: np.ndarray) -> np.ndarray:
        """Run engine ``name`` on each row of ``inputs``; returns one output row per input row."""
        (in_type, in_size), (out_type, out_size) = self.io[name]
        rows = np.ascontiguousarray(inputs, dtype=NUMPY_TYPES[in_type]).reshape(-1, in_size)
        done = subprocess.run(
            [str(self.binary), name], input=rows.tobytes(), capture_output=True, timeout=600, check=False
        )
        if done.returncode != 0:
            raise EdgeqError(f"the host-compiled engine {name} failed (exit status {done.returncode})")
        return np.frombuffer(done.stdout, dtype=NUMPY_TYPES[out_type]).reshape(len(rows), out_size)


def compile_host(
    sources: dict[str, EngineSource], folder: Path, flags: tuple[str, ...] = ("-O2",)
) -> HostEngines:
    """Write the engines and a driver into ``folder`` and build them with gcc (strict warnings)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ToolchainError("gcc is missing: install it (apt-get install gcc) to run the engine here")
    folder.mkdir(parents=True, exist_ok=True)
    groups = sorted({group for source in sources.values() for group in source.groups})
    paths = {source.path for source in sources.values()}
    if len(paths) > 1:
        raise EdgeqError(
            f"engines for different kernel paths ({', '.join(sorted(paths))}) cannot share one build"
        )
    io = {}
    units = []
    for name, source in sources.items():
        for file, text in source.files.items():
            if not file.startswith("edgeq_kernels."):
                (folder / file).write_text(text, encoding="utf-8")
        io[name] = source.io
        units.append(folder / f"{name}.c")
    for file, text in kernel_files(groups, paths.pop() if paths else "portable").items():
        (folder / file).write_text(text, encoding="utf-8")
    (folder / "edgeq_host_main.c").write_text(_driver(io), encoding="utf-8")
    binary = folder / "edgeq_host"
    units += [folder / "edgeq_kernels.c", folder / "edgeq_host_main.c"]
    command = [gcc, *STRICT_FLAGS, *flags, "-I", str(folder), *map(str, units), "-o", str(binary)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
        raise ToolchainError(f"gcc could not build the generated engine: {first}")
    return HostEngines(binary=binary, io=io)


def _driver(io: dict[str, tuple[tuple[str, int], tuple[str, int]]]) -> str:
    lines = ["#include <stdio.h>", "#include <string.h>", "#include <stdlib.h>"]
    lines += [f'#include "{name}.h"' for name in io]
    lines.append(
        "typedef struct { const char *name; size_t in_bytes, out_bytes; "
        "void (*run)(const void *, void *); } entry;"
    )
    for name, ((in_type, _), (out_type, _)) in io.items():
        lines.append(
            f"static void run_{name}(const void *in, void *out) "
            f"{{ {name}_invoke((const {in_type} *)in, ({out_type} *)out); }}"
        )
    table = ", ".join(
        f'{{"{name}", sizeof({t_in}) * {n_in}, sizeof({t_out}) * {n_out}, run_{name}}}'
        for name, ((t_in, n_in), (t_out, n_out)) in io.items()
    )
    lines.append(f"static const entry entries[] = {{{table}}};")
    lines.append(
        """int main(int argc, char **argv) {
  size_t i;
  for (i = 0; argc > 1 && i < sizeof entries / sizeof entries[0]; ++i) {
    if (strcmp(argv[1], entries[i].name) == 0) {
      void *in = malloc(entries[i].in_bytes), *out = malloc(entries[i].out_bytes);
      if (!in || !out) return 3;
      while (fread(in, 1, entries[i].in_bytes, stdin) == entries[i].in_bytes) {
        entries[i].run(in, out);
        if (fwrite(out, 1, entries[i].out_bytes, stdout) != entries[i].out_bytes) return 4;
      }
      free(in);
      free(out);
      return 0;
    }
  }
  fprintf(stderr, "usage: edgeq_host MODEL < inputs > outputs\\n");
  return 2;
}"""
    )
    return "\n".join(lines) + "\n"
