"""``edgeq export mcu --template c --core``: the engine generated for one core's kernel path, the
path recorded in edgeq_kernels.h and report.json, the one-line errors; and the per-board stack
reservation that lets the MLPerf Tiny keyword-spotting model fit the 16 KB Cortex-M0 board."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

import edgeq
from edgeq.cli import run
from tests.conftest import require_tool

M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
STRICT = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")


@pytest.mark.parametrize(
    ("core", "path", "line"),
    [
        ("cortex-m4", "dsp", "kernels: the dsp path for cortex-m4, Arm DSP extension (SMLAD, SXTB16)"),
        ("cortex-m55", "mve", "kernels: the mve path for cortex-m55, Arm Helium (MVE, 16 int8 lanes)"),
        ("portable", "portable", "kernels: the portable path, portable C99 (runs on any core)"),
        (None, "portable", "kernels: the portable path, portable C99 (runs on any core)"),
    ],
)
def test_the_core_picks_the_kernel_path_recorded_in_the_header_and_the_report(
    tiny_int8, tmp_path, capsys, core, path, line
):
    folder = tmp_path / "fw"
    options = () if core is None else ("--core", core)
    assert run(["export", "mcu", str(tiny_int8), "--template", "c", "--name", "tiny", "-o", str(folder),
                *options]) == 0  # fmt: skip
    assert line in capsys.readouterr().out.splitlines()
    header = (folder / "edgeq_kernels.h").read_text()
    assert f'#define EDGEQ_KERNEL_PATH "{path}"' in header
    assert f"; path: {path} (" in header.splitlines()[0]  # the banner names the path
    report = json.loads((folder / "report.json").read_text())
    assert report["core"] == (core or "portable") and report["kernel_path"] == path
    assert report["kernel_path_description"] and "report.json" in report["files"]


def test_the_api_takes_the_core_and_a_core_name_gives_the_same_files_as_its_path(tiny_int8, tmp_path):
    by_core = edgeq.export_mcu(tiny_int8, tmp_path / "m7", template="c", name="tiny", core="cortex-m7")
    by_path = edgeq.export_mcu(tiny_int8, tmp_path / "dsp", template="c", name="tiny", core="dsp")
    assert by_core.kernels is not None and by_core.kernels.name == "dsp" and by_core.core == "cortex-m7"
    assert by_path.kernels == by_core.kernels and by_path.core == "dsp"
    for file in by_core.files:
        if file != "report.json":
            assert (tmp_path / "m7" / file).read_bytes() == (tmp_path / "dsp" / file).read_bytes()


def test_core_with_a_tflm_template_is_a_one_line_input_error(tiny_int8, tmp_path, capsys):
    code = run(["export", "mcu", str(tiny_int8), "--core", "cortex-m4", "-o", str(tmp_path / "fw")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: --core cortex-m4 ") and "--template c" in lines[0]
    assert not (tmp_path / "fw").exists()


def test_an_unknown_core_is_a_one_line_error_listing_the_valid_names(tiny_int8, tmp_path, capsys):
    code = run(["export", "mcu", str(tiny_int8), "--template", "c", "--core", "cortex-m99", "-o",
                str(tmp_path / "fw")])  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert "'cortex-m99'" in lines[0]
    for name in ("portable", "cortex-m0", "cortex-m4", "cortex-m33", "cortex-m55"):
        assert re.search(rf"\b{name}\b", lines[0])
    assert not (tmp_path / "fw").exists()


def test_the_cortex_m4_output_compiles_strictly_for_the_m4_and_refuses_the_m3(tiny_int8, tmp_path):
    arm_gcc = require_tool("arm-none-eabi-gcc")
    folder = tmp_path / "fw"
    edgeq.export_mcu(tiny_int8, folder, template="c", name="tiny", core="cortex-m4")
    for unit in ("tiny.c", "edgeq_kernels.c"):
        done = subprocess.run(
            [arm_gcc, *M4_FLAGS, *STRICT, "-c", str(folder / unit), "-o", str(tmp_path / f"{unit}.o")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"{unit}.o").stat().st_size > 0
    refused = subprocess.run(
        [arm_gcc, "-mcpu=cortex-m3", "-mthumb", *STRICT, "-c", str(folder / "edgeq_kernels.c"), "-o",
         str(tmp_path / "m3.o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "#error" in refused.stderr


def test_the_m0_board_reserves_a_smaller_stack_and_others_keep_8_kb():
    from edgeq.bench.boards import BOARDS

    assert BOARDS["cortex-m0"].stack_bytes == 2048
    assert all(board.stack_bytes == 8192 for target, board in BOARDS.items() if target != "cortex-m0")
    assert BOARDS["cortex-m0"].limited(None, 8 << 10).stack_bytes == 2048


def test_the_mlperf_keyword_spotting_model_fits_the_m0_bit_exact(tmp_path):
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    from edgeq.zoo import ZOO, calibration_data

    ZOO["kws"]().save(tmp_path / "kws.keras")
    np.savez(tmp_path / "kws.npz", x=calibration_data("kws"))
    converted = edgeq.convert(tmp_path / "kws.keras", calib=tmp_path / "kws.npz", mode="int8")
    model = tmp_path / "kws_int8.tflite"
    model.write_bytes(converted.mode("int8").tflite)
    (result,) = edgeq.benchmark([model], ["cortex-m0"]).results
    assert result.ok, result.error
    assert result.output_check.passed and "TensorFlow Lite Micro" in result.output_check.compared_with
    ram = result.memory["ram"]
    assert 0 < ram["stack_peak"] < 2048  # measured, inside the board's reservation
    assert result.memory["ram_bytes"] >= ram["activation_buffer"] + ram["stack_peak"]
    assert result.memory["ram_bytes"] <= 16 << 10
