"""Every kernel path (portable, dsp, mve) on the emulated boards that pick it: randomized per-op
models and the MLPerf Tiny zoo built into firmware, run under QEMU and compared byte for byte with
the engine built for this machine and TensorFlow Lite Micro; and the sources of every path
compiling without a warning, and refusing (#error) a core without the path's instructions."""

from __future__ import annotations

import inspect
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool
from engine_cases import Case, convert_int8, keras_module
from test_engine_binary import binary_cases
from test_engine_core import conv_cases, dense_cases, pool_cases

import edgeq
from edgeq.bench.boards import BOARDS
from edgeq.engine.generate import generate_engine
from edgeq.tflite import read_tflite

# The kernel path each board must run, written out rather than read from edgeq.engine.paths.
EXPECTED_PATH = {
    "cortex-m0": "portable",
    "cortex-m3": "portable",
    "cortex-m4": "dsp",
    "cortex-m7": "dsp",
    "cortex-m33": "dsp",
    "cortex-m55": "mve",
    "lm3s6965": "portable",
}
ONE_BOARD_PER_PATH = ["cortex-m0", "cortex-m4", "cortex-m33", "cortex-m55"]
ZOO_BOARDS = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
DOES_NOT_FIT = "the model does not fit: "  # edgeq.bench.cortexm._raise_link_error


def _require_arm() -> None:
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)


def configuration(case: Case) -> dict[str, object]:
    """The seeded configuration a generator bound into ``case.build`` (its keyword defaults)."""
    bound = {name: p.default for name, p in inspect.signature(case.build).parameters.items()}
    return {k: f"array{v.shape}" if isinstance(v, np.ndarray) else v for k, v in bound.items()}


def _conv_features(cases: list[Case]) -> set[str]:
    """What the convolution cases exercise, so a change of the generators cannot quietly drop it."""
    features = set()
    for case in cases:
        c = configuration(case)
        kind = "depthwise" if c["depthwise"] else "conv"
        features |= {
            f"{kind} 1x1" if c["kernel"] == (1, 1) else "",
            f"{kind} dilated" if max(c["dilation"]) > 1 else "",
            f"{kind} stride 2" if 2 in c["strides"] else "",
            f"{kind} odd channels" if c["channels"] % 2 else "",
            "depthwise multiplier > 1" if c["depthwise"] and c["multiplier"] > 1 else "",
            "conv odd filters" if not c["depthwise"] and c["filters"] % 2 else "",
        }
    return features - {""}


PATH_CASES = [
    *conv_cases(16, 11),
    *dense_cases(2, 13),
    *pool_cases(2, 14),  # one average, one max
    # ADD and MUL of equal shapes, a broadcast ADD and an ADD of a constant
    *[case for number, case in enumerate(binary_cases(9, 20)) if number in (0, 1, 2, 8)],
]


def _row_problem(row, fit_required: bool) -> str | None:
    """Why ``row`` is not what it must be: ok, bit-exact with both references, on its board's
    path; or (when allowed) the one-line failure of a model that does not fit the board."""
    if row.error is not None:
        if not fit_required and row.error.startswith(DOES_NOT_FIT) and "\n" not in row.error:
            return None
        return f"failed: {row.error}"
    check = row.output_check
    if check is None or "TensorFlow Lite Micro" not in check.compared_with:
        return f"not compared with TensorFlow Lite Micro: {check}"
    if not row.ok or check.differing_bytes != 0:
        return f"{check.differing_bytes} of {check.bytes_compared} output bytes differ ({check.detail})"
    if row.details.get("kernel_path") != EXPECTED_PATH[row.target]:
        return f"kernel path {row.details.get('kernel_path')!r}, expected {EXPECTED_PATH[row.target]!r}"
    return None


def test_randomized_ops_are_bit_exact_on_every_kernel_path(tmp_path):
    _require_arm()
    assert {
        "conv 1x1", "conv dilated", "conv stride 2", "conv odd channels", "conv odd filters",
        "depthwise 1x1", "depthwise dilated", "depthwise stride 2", "depthwise odd channels",
        "depthwise multiplier > 1",
    } <= _conv_features([c for c in PATH_CASES if "conv_2d" in c.name])  # fmt: skip
    keras = keras_module()
    started = time.monotonic()
    paths = []
    for number, case in enumerate(PATH_CASES):
        keras.utils.set_random_seed(100 + number)
        tflite = convert_int8(case.build(), case.io, case.low, case.high, 100 + number)
        opcodes = {op.opcode for op in read_tflite(tflite).main.operators}
        assert set(case.opcodes) <= opcodes, (case.name, opcodes)
        paths.append(tmp_path / f"{case.name}.tflite")
        paths[-1].write_bytes(tflite)
    converted = time.monotonic()
    report = edgeq.benchmark(paths, ONE_BOARD_PER_PATH)
    benched = time.monotonic()
    assert len(report.results) == len(PATH_CASES) * len(ONE_BOARD_PER_PATH)
    by_name = {case.name: case for case in PATH_CASES}
    problems = []
    for row in report.results:
        problem = _row_problem(row, fit_required=True)
        if problem is not None:
            case = by_name[Path(row.model).stem]
            problems.append(f"{case.name} on {row.target}: {problem}; {configuration(case)}")
    print(
        f"{len(PATH_CASES)} cases x {len(ONE_BOARD_PER_PATH)} boards = {len(report.results)} rows checked; "
        f"converting {converted - started:.1f} s, benchmarking {benched - converted:.1f} s"
    )
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def zoo_file(zoo_int8, tmp_path_factory) -> tuple[str, Path]:
    name, _, int8 = zoo_int8
    path = tmp_path_factory.mktemp(f"paths_{name}") / f"{name}_int8.tflite"
    path.write_bytes(int8.tflite)
    return name, path


def test_zoo_models_are_bit_exact_on_every_board_they_fit(zoo_file):
    _require_arm()
    name, path = zoo_file
    started = time.monotonic()
    report = edgeq.benchmark([path], ZOO_BOARDS)
    seconds = time.monotonic() - started
    assert [row.target for row in report.results] == ZOO_BOARDS
    problems = [
        f"{name} on {row.target}: {problem}"
        for row in report.results
        if (problem := _row_problem(row, fit_required=False)) is not None
    ]
    ran = [row.target for row in report.results if row.error is None]
    refused = [f"{row.target}: {row.error}" for row in report.results if row.error is not None]
    print(f"{name}: bit-exact on {', '.join(ran)} in {seconds:.1f} s; {'; '.join(refused) or 'fits on all'}")
    assert not problems, "\n".join(problems)
    # the boards with megabytes of memory hold every model of the zoo
    assert {"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"} <= set(ran)


def _compile(compiler: str, flags: list[str], source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compiler, *flags, "-c", str(source), "-o", str(source.with_suffix(".o"))],
        capture_output=True,
        text=True,
        check=False,
    )


def _write(files: dict[str, str], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def test_every_path_compiles_without_warnings_for_its_boards(tiny_int8, tmp_path):
    arm_gcc = require_tool("arm-none-eabi-gcc")
    gcc = require_tool("gcc")
    graph = read_tflite(tiny_int8.read_bytes())
    for target, board in BOARDS.items():
        source = generate_engine(graph, "model", board.cpu)
        assert source.path == EXPECTED_PATH[target]
        folder = _write(source.files, tmp_path / target)
        flags = [*board.gcc_flags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
        for unit in ("model.c", "edgeq_kernels.c"):
            done = _compile(arm_gcc, flags, folder / unit)
            assert done.returncode == 0, (target, source.path, unit, done.stderr)
    folder = _write(generate_engine(graph, "model", "host").files, tmp_path / "host")
    for unit in ("model.c", "edgeq_kernels.c"):
        done = _compile(gcc, ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"], folder / unit)
        assert done.returncode == 0, ("host", unit, done.stderr)


@pytest.mark.parametrize(
    ("core", "target", "path"),
    [
        ("cortex-m4", "cortex-m0", "dsp"),
        ("cortex-m55", "cortex-m0", "mve"),
        ("cortex-m55", "cortex-m4", "mve"),
    ],
)
def test_a_path_refuses_to_compile_for_a_core_without_its_instructions(
    tiny_int8, tmp_path, core, target, path
):
    arm_gcc = require_tool("arm-none-eabi-gcc")
    source = generate_engine(read_tflite(tiny_int8.read_bytes()), "model", core)
    assert source.path == path
    folder = _write(source.files, tmp_path / "src")
    done = _compile(arm_gcc, [*BOARDS[target].gcc_flags, "-std=c99", "-O2"], folder / "edgeq_kernels.c")
    assert done.returncode != 0
    assert f'#error "edgeq generated these kernels for the {path} path' in done.stderr, done.stderr
