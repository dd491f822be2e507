"""Many generated engines in a few bare-metal firmware images per emulated Cortex-M board.

Building one firmware per model and board (what ``edgeq.benchmark`` does) costs a compile, a link
and a QEMU start each; here every engine is generated under its own name (``m0``, ``m1``, ...),
compiled once per board with one shared ``edgeq_kernels.c``, and linked into as few images as the
board's flash and RAM allow, each with a small main that runs every engine it holds on a few
embedded inputs and prints the output bytes in hex. Start-up and linker script are edgeq's own
benchmark templates (``firmware_templates/bench/cortex-m``), rendered as
``edgeq.bench.cortexm.build_firmware`` renders them, with its compiler and linker flags.
"""

from __future__ import annotations

import importlib
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from engine_cases import Case, random_inputs

from edgeq import templates
from edgeq.bench.boards import Board
from edgeq.bench.cortexm import CFLAGS, LDFLAGS, QEMU_TIMEOUT_S
from edgeq.cnames import c_float, c_ints
from edgeq.engine.generate import EngineSource, generate_engine, kernel_files
from edgeq.engine.host import NUMPY_TYPES
from edgeq.errors import EdgeqError
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.version import __version__

MARKER = "EDGEQ engine "
# Kept free in every image when packing engines, besides the kernels' and start-up's objects and
# the output buffer: main's tables and code, the C library, alignment.
RAM_RESERVE = 1024
FLASH_RESERVE = 4096


@dataclass(frozen=True)
class Converted:
    """One case converted once for every board: its model, graph and the inputs all runtimes get."""

    name: str
    case: Case
    tflite: bytes
    graph: ModelGraph
    inputs: np.ndarray  # (samples, *input shape)

    @property
    def opcodes(self) -> tuple[str, ...]:
        return tuple(op.opcode for op in self.graph.main.operators)


@dataclass(frozen=True)
class BoardRun:
    """What the engines printed on one board: case name -> one byte string per input; the cases
    that could not be generated, or that do not fit the board, with why; the kernel path, the
    images linked, and the seconds spent generating, compiling, and linking and running."""

    outputs: dict[str, list[bytes]]
    generation_errors: dict[str, str]
    does_not_fit: dict[str, str]
    path: str
    images: int
    seconds: tuple[float, float, float]


Suite = tuple[str, list[Case], Callable[[Any, str, float, float, int], bytes]]


def _convert_share(
    module: str, search_path: list[str], share: int, jobs: int
) -> dict[tuple[int, int], bytes]:
    """In a worker process: every ``jobs``-th case (from ``share``) of ``module``'s SUITES, converted
    with the seeds ``engine_cases.check_cases`` gives it; (suite, case number) -> model."""
    sys.path[:0] = search_path
    from engine_cases import keras_module

    keras = keras_module()
    suites: list[Suite] = importlib.import_module(module).SUITES
    numbered = [(s, n, case) for s, (_, cases, _) in enumerate(suites) for n, case in enumerate(cases)]
    models = {}
    for s, number, case in numbered[share::jobs]:
        keras.utils.set_random_seed(number)
        models[s, number] = suites[s][2](case.build(), case.io, case.low, case.high, number)
    return models


def convert_suites(module: str, samples: int, jobs: int = 2) -> list[Converted]:
    """Every case of the suites listed in ``module``'s SUITES ((prefix, cases, converter) each),
    converted once in ``jobs`` worker processes (TensorFlow's converter keeps to one core), with
    ``samples`` random inputs each (``engine_cases.random_inputs``, seeded per case)."""
    suites: list[Suite] = importlib.import_module(module).SUITES
    search_path = [str(Path(__file__).parent), str(Path(sys.modules[module].__file__).parent)]
    context = multiprocessing.get_context("spawn")  # a fresh TensorFlow in each worker
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        shares = [pool.submit(_convert_share, module, search_path, k, jobs) for k in range(jobs)]
        models = {key: tflite for share in shares for key, tflite in share.result().items()}
    converted = []
    for s, (prefix, cases, _) in enumerate(suites):
        for number, case in enumerate(cases):
            graph = read_tflite(models[s, number])
            tensor = graph.main.tensors[graph.main.inputs[0]]
            rng = np.random.default_rng([s, number])
            inputs = random_inputs(tensor, samples, rng, case.low, case.high)
            converted.append(Converted(f"{prefix}{case.name}", case, models[s, number], graph, inputs))
    return converted


def tflm_outputs(models: list[Converted]) -> dict[str, list[bytes] | str]:
    """TensorFlow Lite Micro's output bytes for every input of every model (one child process),
    or the reason it could not run a model."""
    from edgeq.runtimes.runners import run_probe

    files = {f"t{number}.tflite": model.tflite for number, model in enumerate(models)}
    arrays, steps, owners = {}, [], []
    for number, model in enumerate(models):
        for sample, values in enumerate(model.inputs):
            arrays[f"t{number}_in{sample}.npz"] = {"input_0": values}
            steps.append(
                {"run": "tflm", "arena": 1 << 20, "model": f"t{number}.tflite",
                 "inputs": f"t{number}_in{sample}.npz", "outputs": f"t{number}_out{sample}.npz"}
            )  # fmt: skip
            owners.append(model.name)
    results = run_probe(models[0].tflite, steps, arrays, models=files)
    expected: dict[str, list[bytes] | str] = {model.name: [] for model in models}
    for owner, result in zip(owners, results, strict=True):
        if isinstance(expected[owner], str):
            continue
        if not result.ok:
            expected[owner] = f"TFLM: {result.reason()}"
            continue
        expected[owner].append(np.ascontiguousarray(result.data["arrays"]["output_0"]).tobytes())
    return expected


def _c_values(values: np.ndarray, ctype: str) -> str:
    flat = values.reshape(-1)
    if ctype == "float":
        return "\n".join(
            "  " + ", ".join(c_float(float(v)) for v in flat[i : i + 8]) + "," for i in range(0, flat.size, 8)
        )
    return c_ints(flat.tolist())


def _output_bytes(source: EngineSource) -> int:
    out_type, out_size = source.io[1]
    return out_size * np.dtype(NUMPY_TYPES[out_type]).itemsize


def main_source(engines: dict[str, EngineSource], inputs: dict[str, np.ndarray], banner: str) -> str:
    """A bare-metal main that runs each engine on each of its inputs and prints, per engine, a
    marker line and then one line of output bytes in hex per input."""
    lines = [
        f"/* {banner} */",
        "/* Runs every engine of this image on its embedded inputs; prints each output in hex. */",
        "#include <stdint.h>",
        "",
        '#include "edgeq_bench.h"',
        *(f'#include "{name}.h"' for name in engines),
        "",
        "typedef struct {",
        "  const char *marker;",
        "  const void *inputs;",
        "  uint32_t samples, in_bytes, out_bytes;",
        "  void (*run)(const void *, void *);",
        "} entry;",
        "",
    ]
    largest_output = max(_output_bytes(source) for source in engines.values())
    for name, source in engines.items():
        (in_type, in_size), (out_type, _) = source.io
        values = np.ascontiguousarray(inputs[name], dtype=NUMPY_TYPES[in_type])
        lines += [
            f"static const {in_type} {name}_inputs[{len(values)} * {in_size}] = {{",
            _c_values(values, in_type),
            "};",
            f"static void run_{name}(const void *in, void *out) "
            f"{{ {name}_invoke((const {in_type} *)in, ({out_type} *)out); }}",
        ]
    table = ",\n".join(
        f'  {{"{MARKER}{name}\\n", {name}_inputs, {len(inputs[name])}u, '
        f"(uint32_t)sizeof {name}_inputs / {len(inputs[name])}u, "
        f"{_output_bytes(source)}u, run_{name}}}"
        for name, source in engines.items()
    )
    lines += [
        "static const entry entries[] = {",
        table,
        "};",
        f"static union {{ uint8_t bytes[{largest_output}]; int32_t align; }} output;",
        "",
        """static void print_hex(const uint8_t *bytes, uint32_t count) {
  static const char digits[] = "0123456789abcdef";
  char chunk[2 * 64 + 1];
  uint32_t i = 0, n;
  while (i < count) {
    for (n = 0; n < 64 && i < count; ++n, ++i) {
      chunk[2 * n] = digits[bytes[i] >> 4];
      chunk[2 * n + 1] = digits[bytes[i] & 15u];
    }
    chunk[2 * n] = '\\0';
    edgeq_print(chunk);
  }
  edgeq_print("\\n");
}

int main(void) {
  uint32_t e, sample;
  for (e = 0; e < sizeof entries / sizeof entries[0]; ++e) {
    edgeq_print(entries[e].marker);
    for (sample = 0; sample < entries[e].samples; ++sample) {
      entries[e].run((const uint8_t *)entries[e].inputs + sample * entries[e].in_bytes, output.bytes);
      print_hex(output.bytes, entries[e].out_bytes);
    }
  }
  edgeq_print("EDGEQ done\\n");
  return 0;
}""",
    ]
    return "\n".join(lines) + "\n"


def _run(command: list[str], folder: Path, what: str) -> str:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EdgeqError(f"{what} failed: {done.stderr.strip()[:2000]}")
    return done.stdout


def _object_sizes(objects: list[str], folder: Path) -> dict[str, tuple[int, int]]:
    """(flash, RAM) bytes of each object: text + data, data + bss (arm-none-eabi-size)."""
    table = _run(["arm-none-eabi-size", *objects], folder, "arm-none-eabi-size")
    sizes = {}
    for line in table.splitlines()[1:]:
        text, data, bss, *_, file = line.split()
        sizes[file] = (int(text) + int(data), int(data) + int(bss))
    return sizes


def _pack(
    names: list[str], needs: dict[str, tuple[int, int, int]], flash: int, ram: int
) -> tuple[list[list[str]], list[str]]:
    """Engines, in order, into images of at most ``flash`` / ``ram`` bytes, given each engine's
    (flash, RAM, output) bytes: an image's RAM holds its engines' and one buffer for the largest
    output. Also returns the engines too large for an image of their own."""
    images: list[list[str]] = [[]]
    alone_too_big = []

    def fits(image: list[str]) -> bool:
        used_flash = sum(needs[name][0] for name in image)
        used_ram = sum(needs[name][1] for name in image) + max(needs[name][2] for name in image)
        return used_flash <= flash and used_ram <= ram

    for name in names:
        if not fits([name]):
            alone_too_big.append(name)
        elif fits([*images[-1], name]):
            images[-1].append(name)
        else:
            images.append([name])
    return [image for image in images if image], alone_too_big


def _qemu(board: Board, elf: Path, timeout: float) -> str:
    """The semihosting console of ``elf`` run on ``board`` (run_firmware's QEMU command line,
    without the instruction counter)."""
    with tempfile.TemporaryDirectory(prefix="edgeq-batch-qemu-") as work:
        console = Path(work) / "console.txt"
        command = [
            "qemu-system-arm", "-machine", board.machine, "-cpu", board.cpu, "-display", "none",
            "-monitor", "none", "-serial", "none", "-nodefaults", "-nic", "none",
            "-chardev", f"file,id=console,path={console}",
            "-semihosting-config", "enable=on,target=native,chardev=console",
            "-kernel", str(elf),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        printed = console.read_text(errors="replace") if console.exists() else ""
    if done.returncode != 0 or "EDGEQ done" not in printed:
        tail = " ".join((printed + done.stderr).splitlines()[-3:])[-500:]
        raise EdgeqError(f"{elf.name} failed on {board.machine} (QEMU exit status {done.returncode}): {tail}")
    return printed


def parse_console(printed: str) -> dict[str, list[bytes]]:
    """Engine name -> its output bytes, one per input, from the firmware's console."""
    outputs: dict[str, list[bytes]] = {}
    current = None
    for line in printed.splitlines():
        if line.startswith(MARKER):
            current = outputs.setdefault(line[len(MARKER) :].strip(), [])
        elif line.startswith("EDGEQ"):
            current = None
        elif current is not None:
            current.append(bytes.fromhex(line.strip()))
    return outputs


def run_on_board(
    models: list[Converted], board: Board, folder: Path, jobs: int = 2, timeout: float = QEMU_TIMEOUT_S
) -> BoardRun:
    """Generate every model's engine for ``board``'s core, compile them all once, link them into
    as few images as fit the board, run each under QEMU and collect what every engine printed."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    engines: dict[str, EngineSource] = {}
    case_of: dict[str, str] = {}
    inputs: dict[str, np.ndarray] = {}
    generation_errors: dict[str, str] = {}
    for number, model in enumerate(models):
        name = f"m{number}"
        try:
            engines[name] = generate_engine(model.graph, name, board.cpu)
        except EdgeqError as exc:
            generation_errors[model.name] = str(exc)
            continue
        case_of[name], inputs[name] = model.name, model.inputs
    paths = {source.path for source in engines.values()}
    assert len(paths) == 1, paths
    path = paths.pop()
    generated = time.monotonic()
    groups = sorted({group for source in engines.values() for group in source.groups})
    files = {
        file: text
        for source in engines.values()
        for file, text in source.files.items()
        if not file.startswith("edgeq_kernels.")
    }
    files.update(kernel_files(groups, path))
    context = {
        "banner": f"generated by edgeq {__version__} for {board.machine} — do not edit",
        "board": board,
        "stack_bytes": board.stack_bytes,
        "uart": None,
    }
    environment = templates.environment()
    for file in ("startup.c", "edgeq_bench.h", "link.ld"):
        files[file] = environment.get_template(f"bench/cortex-m/{file}.j2").render(context)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    compile_command = ["arm-none-eabi-gcc", *board.gcc_flags, *CFLAGS, "-I", ".", "-c"]
    units = ["edgeq_kernels.c", "startup.c", *(f"{name}.c" for name in engines)]
    compiler = f"arm-none-eabi-gcc for {board.target}"
    with ThreadPoolExecutor(jobs) as pool:
        parts = [
            pool.submit(_run, [*compile_command, *units[i::jobs]], folder, compiler) for i in range(jobs)
        ]
        for part in parts:
            part.result()
    compiled = time.monotonic()
    sizes = _object_sizes(["edgeq_kernels.o", "startup.o", *(f"{name}.o" for name in engines)], folder)
    shared_flash = sizes["edgeq_kernels.o"][0] + sizes["startup.o"][0]
    shared_ram = sizes["edgeq_kernels.o"][1] + sizes["startup.o"][1]
    ram = board.ram_size - board.stack_bytes - RAM_RESERVE - shared_ram
    flash = board.flash_size - FLASH_RESERVE - shared_flash
    needs = {
        name: (sizes[f"{name}.o"][0] + inputs[name].nbytes, sizes[f"{name}.o"][1], _output_bytes(source))
        for name, source in engines.items()
    }
    images, too_big = _pack(list(engines), needs, flash, ram)
    does_not_fit = {
        case_of[name]: f"needs {needs[name][1] + needs[name][2]:,} B of RAM and {needs[name][0]:,} B "
        f"of flash; {board.target} has {ram:,} and {flash:,} free for an engine"
        for name in too_big
    }

    def link_and_run(number: int) -> dict[str, list[bytes]]:
        image = images[number]
        main = f"main{number}"
        text = main_source({name: engines[name] for name in image}, inputs, context["banner"])
        (folder / f"{main}.c").write_text(text, encoding="utf-8")
        _run([*compile_command, f"{main}.c"], folder, compiler)
        objects = ["startup.o", f"{main}.o", "edgeq_kernels.o", *(f"{name}.o" for name in image)]
        link = ["arm-none-eabi-gcc", *board.gcc_flags, "-T", "link.ld", *LDFLAGS]
        _run([*link, *objects, "-o", f"{main}.elf"], folder, f"linking {main}.elf for {board.target}")
        return parse_console(_qemu(board, folder / f"{main}.elf", timeout))

    with ThreadPoolExecutor(jobs) as pool:
        printed = list(pool.map(link_and_run, range(len(images))))
    outputs = {case_of[name]: values for part in printed for name, values in part.items()}
    seconds = (generated - started, compiled - generated, time.monotonic() - compiled)
    return BoardRun(outputs, generation_errors, does_not_fit, path, len(images), seconds)


def differences(model: Converted, got: list[bytes], expected: list[bytes]) -> tuple[int, str]:
    """Bytes of ``got`` that differ from ``expected`` over every input, and where the first
    differing output value is (-1 when the engine printed the wrong number of bytes)."""
    if len(got) != len(expected) or any(len(g) != len(e) for g, e in zip(got, expected, strict=False)):
        return -1, f"printed {[len(g) for g in got]} bytes, TFLM gave {[len(e) for e in expected]}"
    dtype = np.dtype(model.graph.main.tensors[model.graph.main.outputs[0]].dtype)
    differing, first = 0, ""
    for sample, (g, e) in enumerate(zip(got, expected, strict=True)):
        mask = np.frombuffer(g, np.uint8) != np.frombuffer(e, np.uint8)
        differing += int(np.count_nonzero(mask))
        if mask.any() and not first:
            values_got, values_expected = np.frombuffer(g, dtype), np.frombuffer(e, dtype)
            bits = f"u{dtype.itemsize}"  # compared as bits: -0.0 and 0.0 differ, NaN equals itself
            index = int(np.flatnonzero(np.frombuffer(g, bits) != np.frombuffer(e, bits))[0])
            first = (
                f"first at input {sample}, output value {index} of {values_got.size}: "
                f"engine {values_got[index]}, TFLM {values_expected[index]}"
            )
    return differing, first
