"""``edgeq bench`` on the Cortex-M33 (QEMU mps2-an505, Secure state) and the Cortex-M0 (QEMU
microbit, 16 KB of RAM): real arm-none-eabi-gcc, real qemu-system-arm, edgeq's counting plugin."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeq.cli import run
from tests.conftest import require_tool

M0_LINE = "cortex-m0 (BBC micro:bit (Nordic nRF51822, Cortex-M0, 256 KB flash, 16 KB SRAM)) has 16 KB"


def _require_arm() -> None:
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)


@pytest.fixture(scope="module")
def wide_int8(tmp_path_factory) -> Path:
    """An int8 model whose 48x48x8 input alone (18 KB) is more than the M0 board's RAM."""
    import edgeq
    from tests.engine_cases import keras_module

    keras = keras_module()
    keras.utils.set_random_seed(3)
    inputs = keras.Input((48, 48, 8))
    x = keras.layers.Conv2D(4, 1, activation="relu")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    folder = tmp_path_factory.mktemp("wide")
    keras.Model(inputs, outputs).save(folder / "wide.keras")
    np.savez(folder / "c.npz", x=np.random.default_rng(3).random((8, 48, 48, 8), dtype=np.float32))
    path = folder / "wide_int8.tflite"
    path.write_bytes(
        edgeq.convert(folder / "wide.keras", calib=folder / "c.npz", mode="int8").mode("int8").tflite
    )
    return path


def test_a_tiny_model_is_bit_exact_with_tflm_on_the_m33_and_the_m0(tiny_int8):
    _require_arm()
    from edgeq.api import bench

    report = bench([tiny_int8], ["cortex-m33", "cortex-m0"])
    rows = {result.target: result for result in report.results}
    assert list(rows) == ["cortex-m33", "cortex-m0"]
    for target, machine in (("cortex-m33", "mps2-an505"), ("cortex-m0", "microbit")):
        result = rows[target]
        assert result.ok, f"{target}: {result.error}"
        check = result.output_check
        assert check.passed and check.differing_bytes == 0 and check.bytes_compared == 3
        assert "TensorFlow Lite Micro" in check.compared_with
        instructions = result.figure("instructions_per_inference").value
        assert instructions > 0 and result.details["instructions_by_inference"][-1] == instructions
        assert result.figure("cycles_per_inference").value > instructions * 0.9
        assert (result.platform["machine"], result.platform["cpu"]) == (machine, target)
    assert "-mfpu=fpv5-sp-d16" in rows["cortex-m33"].toolchain["flags"]
    assert rows["cortex-m33"].platform["ram_bytes"] == 4 << 20
    # ARMv6-M has no multiply-accumulate, divide or FPU: none of them can have run on the M0
    classes = rows["cortex-m0"].details["instruction_classes"]
    assert classes["mac"] == classes["long_mul"] == classes["div"] == classes["fp"] == classes["vector"] == 0
    assert classes["mul"] > 0 and classes["undecoded"] == 0
    assert rows["cortex-m0"].platform["ram_bytes"] == 16 << 10


def test_the_m33_build_has_the_dsp_extension_and_an_fpu_and_the_m0_build_neither():
    gcc = require_tool("arm-none-eabi-gcc")
    from edgeq.bench.boards import BOARDS

    def macros(target: str) -> str:
        command = [gcc, *BOARDS[target].gcc_flags, "-dM", "-E", "-"]
        return subprocess.run(command, input="", capture_output=True, text=True, check=True).stdout

    m33, m0 = macros("cortex-m33"), macros("cortex-m0")
    assert "#define __ARM_FEATURE_DSP 1" in m33 and "#define __ARM_FP " in m33
    assert "#define __ARM_ARCH_8M_MAIN__ 1" in m33
    assert "__ARM_FEATURE_DSP" not in m0 and "__ARM_FP " not in m0 and "#define __ARM_ARCH_6M__ 1" in m0


def test_a_model_needing_more_than_16_kb_of_ram_does_not_fit_the_m0(wide_int8, capsys):
    _require_arm()
    from edgeq.api import bench

    report = bench([wide_int8], ["cortex-m0", "cortex-m33"])
    m0, m33 = report.results
    assert m33.ok and m33.output_check.passed, m33.error  # the 4 MB of the M33 board hold it
    assert not m0.ok and m0.details["exit_code"] == 2
    needs = re.fullmatch(
        r"the model does not fit: needs ([\d.]+) KB RAM, (.*? has \d+ KB)( \(.*\))?", m0.error
    )
    assert needs is not None and needs.group(2) == M0_LINE, m0.error
    assert float(needs.group(1)) >= 18 + 0.5  # at least the 18 KB input and the least stack (512 B)
    code = run(["bench", str(wide_int8), "--on", "cortex-m0"])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and line.startswith("error: 1 of 1 benchmarks failed") and M0_LINE in line
