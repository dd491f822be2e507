"""``edgeq bench`` end to end: LiteRT on this machine, edgeq's engine on QEMU Cortex-M boards
(real arm-none-eabi-gcc, real qemu-system-arm, edgeq's instruction-counting plugin), LiteRT on
QEMU aarch64 with a pinned core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeq.cli import run
from tests.conftest import require_tool

ARM_TOOLS = ("gcc", "arm-none-eabi-gcc", "qemu-system-arm")


def _require_arm() -> None:
    for tool in ARM_TOOLS:
        require_tool(tool)


@pytest.fixture(scope="module")
def kws_file(tmp_path_factory) -> Path:
    """The int8 KWS DS-CNN of the zoo as a file (seeded random weights, calibrated int8)."""
    import numpy as np

    import edgeq
    from edgeq.zoo import ZOO, calibration_data

    folder = tmp_path_factory.mktemp("kws")
    ZOO["kws"]().save(folder / "kws.keras")
    np.savez(folder / "c.npz", x=calibration_data("kws"))
    path = folder / "kws_int8.tflite"
    path.write_bytes(
        edgeq.convert(folder / "kws.keras", calib=folder / "c.npz", mode="int8").mode("int8").tflite
    )
    return path


def _bench_json(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / f"bench{len(list(tmp_path.glob('bench*.json')))}.json"
    code = run(["bench", *args, "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_kws_on_cortex_m4_checks_outputs_counts_instructions_and_splits_memory(kws_file, tmp_path, capsys):
    _require_arm()
    started = time.monotonic()
    code, first = _bench_json(tmp_path, str(kws_file), "--on", "cortex-m4", "--clock", "120MHz")
    seconds = time.monotonic() - started
    printed = capsys.readouterr().out
    assert code == 0
    (result,) = first["results"]
    assert result["ok"] and result["output_check"]["passed"]
    assert result["output_check"]["compared_with"] == [
        "edgeq engine on this machine (gcc)",
        "TensorFlow Lite Micro",
    ]
    assert result["output_check"]["bytes_compared"] == 12 and result["output_check"]["differing_bytes"] == 0
    figures = result["figures"]
    instructions = figures["instructions_per_inference"]
    assert instructions["kind"] == "counted" and instructions["value"] > 1_000_000
    assert figures["cycles_per_inference"]["kind"] == "estimated"
    assert figures["latency_ms"]["kind"] == "estimated" and "120 MHz" in figures["latency_ms"]["how"]
    assert figures["latency_ms"]["value"] == pytest.approx(
        figures["cycles_per_inference"]["value"] / 120e3, rel=1e-3
    )
    assert "(est.)" in printed and "estimate" in printed
    # the same number twice, in one run (second and first inference) and across runs
    assert result["details"]["instructions_by_inference"][-1] == instructions["value"]
    _, second = _bench_json(tmp_path, str(kws_file), "--on", "cortex-m4")
    assert second["results"][0]["figures"]["instructions_per_inference"]["value"] == instructions["value"]
    # the split adds up, and the activation buffer is the engine's planned buffer
    memory = result["memory"]
    assert memory["flash_bytes"] == sum(
        memory["flash"][k] for k in ("model_constants", "engine_code", "runtime_library")
    )
    assert memory["image_flash_bytes"] == memory["flash_bytes"] + memory["flash"]["benchmark_harness"]
    # the buffer the engine plans for the board's own kernel path (activations and im2col scratch)
    from edgeq.bench import load_model
    from edgeq.engine.generate import generate_engine

    _, graph = load_model(kws_file)
    assert memory["ram"]["activation_buffer"] == generate_engine(graph, "model", "cortex-m4").arena_bytes
    assert 0 < memory["ram"]["stack_peak"] < 8192
    assert memory["flash"]["model_constants"] > 29_000  # weights, biases and per-channel multipliers
    print(f"edgeq bench KWS --on cortex-m4: {seconds:.1f} s wall, {instructions['value']:,} instructions")


def test_flash_and_ram_split_equals_the_elf_sizes(kws_file, tmp_path):
    """The map-file split against arm-none-eabi-size on the same image."""
    _require_arm()
    from edgeq.bench import load_model
    from edgeq.bench.boards import BOARDS
    from edgeq.bench.cortexm import build_firmware, run_firmware
    from edgeq.bench.elfmap import read_map, split_memory
    from edgeq.engine.generate import generate_engine

    model, graph = load_model(kws_file)
    firmware = build_firmware(generate_engine(graph, "model"), BOARDS["cortex-m7"], model.sample, tmp_path)
    done = subprocess.run(
        ["arm-none-eabi-size", "-A", str(firmware.elf)], capture_output=True, text=True, check=True
    )
    sizes = {
        p[0]: int(p[1]) for p in map(str.split, done.stdout.splitlines()) if len(p) == 3 and p[1].isdigit()
    }
    split = split_memory(read_map(firmware.map_file), stack_peak=0)
    assert split.image_flash_bytes == sizes[".text"] + sizes.get(".ARM.exidx", 0) + sizes.get(".data", 0)
    assert split.activation_buffer + split.runtime_library_ram + split.harness_ram + split.other_ram == (
        sizes.get(".data", 0) + sizes[".bss"]
    )
    assert run_firmware(firmware).stack_peak > 0


def test_every_board_runs_every_zoo_model_that_fits(zoo_int8, tmp_path):
    _require_arm()
    from edgeq.api import bench
    from edgeq.bench.boards import BOARDS

    name, _, mode = zoo_int8
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(mode.tflite)
    report = bench([path], list(BOARDS))
    by_target = {result.target: result for result in report.results}
    reference = by_target["cortex-m4"]
    assert reference.ok, reference.error
    image_flash = reference.memory["image_flash_bytes"]
    ram = (
        reference.memory["ram_bytes"] + reference.memory["ram"]["benchmark_harness"] + 8192
    )  # + stack reserve
    for target, result in by_target.items():
        board = BOARDS[target]
        fits = image_flash < board.flash_size * 0.98 and ram < board.ram_size * 0.98
        if fits:
            assert result.ok, f"{name} on {target}: {result.error}"
            assert result.output_check.passed and result.output_check.differing_bytes == 0
            assert result.figure("instructions_per_inference").value > 0
        elif result.error is not None:
            assert "does not fit: needs" in result.error and f"{target} (" in result.error, result.error
            assert result.details["exit_code"] == 2
    if name in ("vww", "ad"):  # 241 KB and 278 KB of constants cannot fit the LM3S6965's 256 KB flash
        assert by_target["lm3s6965"].error and "KB flash" in by_target["lm3s6965"].error


def test_a_model_that_does_not_fit_is_one_clear_line_and_exit_2(kws_file, capsys):
    _require_arm()
    code = run(["bench", str(kws_file), "--on", "cortex-m4", "--ram", "8KB"])
    err = capsys.readouterr().err
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: 1 of 1 benchmarks failed") and "needs" in line and "KB RAM" in line
    assert "cortex-m4 (Arm MPS2 AN386 (Cortex-M4F)) has 8 KB" in line


def test_host_latency_is_measured_and_models_share_one_table(kws_file, tiny_int8, tmp_path, capsys):
    code, report = _bench_json(tmp_path, str(kws_file), str(tiny_int8), "--on", "host", "--runs", "30")
    assert code == 0
    assert report["schema_version"] == 1 and report["kind"] == "edgeq.bench"
    assert [r["target"] for r in report["results"]] == ["host", "host"]
    for result in report["results"]:
        figures = result["figures"]
        assert {f["kind"] for f in figures.values()} == {"measured"}
        assert 0 < figures["latency_min_ms"]["value"] <= figures["latency_p50_ms"]["value"]
        assert figures["latency_p50_ms"]["value"] <= figures["latency_p90_ms"]["value"]
        assert figures["load_ms"]["value"] > 0 and result["details"]["runs"] == 30
        assert len(result["model_sha256"]) == 64
    out = capsys.readouterr().out
    assert "kws_int8.tflite" in out and "tiny_int8.tflite" in out and "LiteRT" in out


def test_missing_qemu_names_the_package_and_exits_3(tiny_int8, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "edgeq", "bench", str(tiny_int8), "--on", "cortex-m4"],
        capture_output=True, text=True, env={**os.environ, "PATH": str(empty)}, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: qemu-system-arm is missing, needed to emulate Cortex-M boards: "
        "install it with apt-get install qemu-system-arm"
    ]


def test_rpi4_output_is_bit_exact_with_x86_reference_kernels_and_the_rootfs_is_reused(kws_file, tmp_path):
    require_tool("qemu-aarch64")
    require_tool("gcc")
    from edgeq.bench.aarch64 import rootfs_info

    if rootfs_info() is None:
        require_tool("debootstrap")
    code, first = _bench_json(tmp_path, str(kws_file), "--on", "rpi4")
    assert code == 0
    (result,) = first["results"]
    assert result["output_check"]["passed"] and result["output_check"]["differing_bytes"] == 0
    assert result["output_check"]["bytes_compared"] == 12
    assert result["platform"]["cpu"] == "cortex-a72"
    counted = result["figures"]["instructions_per_inference"]
    assert counted["kind"] == "counted" and counted["value"] > 100_000
    assert "latency_ms" not in result["figures"] and "latency_p50_ms" not in result["figures"]
    built = rootfs_info()
    started = time.monotonic()
    code, again = _bench_json(tmp_path, str(kws_file), "--on", "rpi4")
    assert code == 0 and rootfs_info() == built  # not rebuilt
    assert time.monotonic() - started < 120
    spread = again["results"][0]["details"]["instructions_by_invoke"]
    assert max(spread) - min(spread) <= 0.01 * counted["value"]
