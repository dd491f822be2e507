"""Every randomized per-op case of the engine suites (core, activations, binary, data, reduce) on
an emulated board of every kernel path, byte for byte against TensorFlow Lite Micro: each case is
converted once, its engine generated for each board's core, and all of a board's engines run from
one firmware image (a few on the 16 KB cortex-m0) under QEMU (tests/board_batch.py).

Converting the 340 cases is the largest part of the run: 40-60 s in two processes, of 90-115 s."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import board_batch
import test_engine_data
import test_engine_reduce
from board_batch import Converted, convert_suites, differences, run_on_board, tflm_outputs
from conftest import require_tool
from engine_cases import convert_int8
from test_engine_activations import ACTIVATION_CASES
from test_engine_binary import BINARY_CASES
from test_engine_core import CORE_CASES
from test_engine_paths import EXPECTED_PATH, configuration

from edgeq.bench.boards import BOARDS

# Every emulated core: cortex-m3 (portable, 4 MB of RAM), cortex-m4, m7 and m33 (dsp, each built
# with its own -mcpu), cortex-m55 (mve); and the cortex-m0 (portable again, built for ARMv6-M),
# whose 16 KB of RAM and 256 KB of flash cannot hold the whole suite: its engines are split over
# several images, and the few whose activations alone exceed its RAM are counted as not fitting
# (every other board must fit all).
BOARDS_CHECKED = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m0"]
MAY_NOT_FIT = {"cortex-m0"}
SAMPLES = 3  # inputs per case, the same ones given to TFLM


def _reduce_convert(model, io: str, low: float, high: float, seed: int) -> bytes:
    """The reduce suite's converter: the harness's, then the flatbuffer rewrites it lists."""
    tflite = convert_int8(model, io, low, high, seed)
    rewrite = test_engine_reduce.PATCHES.get(model.name)
    return test_engine_reduce.patched(tflite, **rewrite) if rewrite else tflite


# (name prefix, cases, converter); converted in worker processes that import this module
SUITES = [
    ("core/", CORE_CASES, convert_int8),
    ("activations/", ACTIVATION_CASES, convert_int8),
    ("binary/", BINARY_CASES, convert_int8),
    ("data/", test_engine_data.DATA_CASES, test_engine_data.convert),
    ("reduce/", test_engine_reduce.REDUCE_CASES, _reduce_convert),
]


def _problem(model: Converted, board: str, run: board_batch.BoardRun, expected) -> str | None:
    if model.name in run.generation_errors:
        return f"generation failed: {run.generation_errors[model.name]}"
    if model.name in run.does_not_fit:
        return None if board in MAY_NOT_FIT else f"does not fit: {run.does_not_fit[model.name]}"
    if isinstance(expected, str):
        return expected
    if model.name not in run.outputs:
        return "the firmware printed nothing for it"
    differing, first = differences(model, run.outputs[model.name], expected)
    if differing < 0:
        return first
    if differing:
        total = sum(len(output) for output in expected)
        return f"{differing} of {total} output bytes differ, {first}"
    return None


def test_every_randomized_case_is_bit_exact_on_every_kernel_path(tmp_path):
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"):
        require_tool(tool)
    started = time.monotonic()
    models = convert_suites(__name__, SAMPLES)
    assert len(models) == 340
    for model in models:
        assert set(model.case.opcodes) <= set(model.opcodes), (model.name, model.opcodes)
    converted = time.monotonic()
    with ThreadPoolExecutor(len(BOARDS_CHECKED) + 1) as pool:
        tflm = pool.submit(tflm_outputs, models)
        runs = {
            board: pool.submit(run_on_board, models, BOARDS[board], tmp_path / board)
            for board in BOARDS_CHECKED
        }
        expected = tflm.result()
        runs = {board: future.result() for board, future in runs.items()}
    finished = time.monotonic()
    problems, checked = [], 0
    for board, run in runs.items():
        assert run.path == EXPECTED_PATH[board], (board, run.path)
        for model in models:
            problem = _problem(model, board, run, expected[model.name])
            checked += model.name in run.outputs
            if problem is not None:
                problems.append(
                    f"{model.name} on {board} ({run.path}): {problem}; opcodes {list(model.opcodes)}; "
                    f"{configuration(model.case)}"
                )
    unfit = {board: sorted(run.does_not_fit) for board, run in runs.items() if run.does_not_fit}
    print(
        f"{len(models)} cases x {len(runs)} boards: {checked} case-board runs of {SAMPLES} inputs compared with TFLM "
        f"({', '.join(f'{b}: {r.images} image(s)' for b, r in runs.items())}; not fitting: {unfit or 'none'}); "
        f"converting {converted - started:.1f} s, boards and TFLM {finished - converted:.1f} s ("
        + ", ".join(
            f"{b}: generate/compile/link+run {'/'.join(f'{s:.0f}' for s in r.seconds)} s"
            for b, r in runs.items()
        )
        + ")"
    )
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
