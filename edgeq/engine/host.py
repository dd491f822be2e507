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
NUMPY_TYPES = {
    "int8_t": np.int8,
    "int16_t": np.int16,
    "int32_t": np.int32,
    "float": np.float32,
    "uint8_t": np.uint8,
}


Ports = tuple[tuple[str, str, int], ...]  # (name, C type, element count) per input or output


@dataclass(frozen=True)
class HostEngines:
    """A compiled host program holding one or more engines."""

    binary: Path
    io: dict[str, tuple[Ports, Ports]]  # name → (inputs, outputs)

    def run(self, name: str, inputs: np.ndarray) -> np.ndarray:
        """Run engine ``name`` (one input, one output) on each row of ``inputs``; returns one output
        row per input row."""
        return self.run_many(name, [inputs])[0]

    def run_many(self, name: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run engine ``name`` on samples of each of its inputs (``inputs[i]``: one row per sample
        for input i); returns one array per output, one row per sample."""
        ports_in, ports_out = self.io[name]
        if len(inputs) != len(ports_in):
            raise EdgeqError(f"engine {name} takes {len(ports_in)} inputs, got {len(inputs)}")
        rows = [
            np.ascontiguousarray(x, dtype=NUMPY_TYPES[ctype]).reshape(-1, size)
            for x, (_, ctype, size) in zip(inputs, ports_in, strict=True)
        ]
        count = len(rows[0])
        if any(len(r) != count for r in rows):
            raise EdgeqError(f"engine {name}: every input needs the same number of samples")
        stream = b"".join(b"".join(r[i].tobytes() for r in rows) for i in range(count))
        done = subprocess.run(
            [str(self.binary), name], input=stream, capture_output=True, timeout=600, check=False
        )
        if done.returncode != 0:
            raise EdgeqError(f"the host-compiled engine {name} failed (exit status {done.returncode})")
        dtype = np.dtype([(f"o{i}", NUMPY_TYPES[c], (n,)) for i, (_, c, n) in enumerate(ports_out)])
        records = np.frombuffer(done.stdout, dtype=dtype)
        if len(records) != count:
            raise EdgeqError(f"the host-compiled engine {name} wrote {len(records)} of {count} outputs")
        return [np.ascontiguousarray(records[f"o{i}"]) for i in range(len(ports_out))]


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
        io[name] = _ports(source)
        units.append(folder / f"{name}.c")
    for file, text in kernel_files(groups, paths.pop() if paths else "portable").items():
        (folder / file).write_text(text, encoding="utf-8")
    (folder / "edgeq_host_main.c").write_text(_driver(io), encoding="utf-8")
    binary = folder / "edgeq_host"
    units += [folder / "edgeq_kernels.c", folder / "edgeq_host_main.c"]
    # -lm: float kernels call expf, tanhf, logf, sqrtf
    command = [gcc, *STRICT_FLAGS, *flags, "-I", str(folder), *map(str, units), "-o", str(binary), "-lm"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
        raise ToolchainError(f"gcc could not build the generated engine: {first}")
    return HostEngines(binary=binary, io=io)


def _ports(source: EngineSource) -> tuple[Ports, Ports]:
    if source.inputs and source.outputs:
        return source.inputs, source.outputs
    (in_type, in_size), (out_type, out_size) = source.io
    return (("input", in_type, in_size),), (("output", out_type, out_size),)


def _driver(io: dict[str, tuple[Ports, Ports]]) -> str:
    """The host program: each sample's inputs one after another in, each sample's outputs out."""
    lines = ["#include <stdio.h>", "#include <string.h>", "#include <stdlib.h>"]
    lines += [f'#include "{name}.h"' for name in io]
    lines.append(
        "typedef struct { const char *name; size_t in_bytes, out_bytes; "
        "void (*run)(const void *, void *); } entry;"
    )

    def total(ports: Ports) -> str:
        return " + ".join(f"sizeof({ctype}) * {size}" for _, ctype, size in ports)

    for name, (ports_in, ports_out) in io.items():
        arguments = []
        for pointer, qualifier, ports in (("in", "const ", ports_in), ("out", "", ports_out)):
            offset = "0"
            for _, ctype, size in ports:
                arguments.append(
                    f"({qualifier}{ctype} *)({qualifier}void *)(({qualifier}char *){pointer} + {offset})"
                )
                offset = f"{offset} + sizeof({ctype}) * {size}"
        lines.append(
            f"static void run_{name}(const void *in, void *out) {{ {name}_invoke({', '.join(arguments)}); }}"
        )
    table = ", ".join(
        f'{{"{name}", {total(ports_in)}, {total(ports_out)}, run_{name}}}'
        for name, (ports_in, ports_out) in io.items()
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
