"""Issue 17 items 14 and 17 without emulators: the output check's float tolerance (integer outputs
exact), its JSON, and the Cortex-M fit message naming the stack reservation."""

from __future__ import annotations

import numpy as np
import pytest

from edgeq.bench.results import FLOAT_TOLERANCE, BenchReport, BenchResult, OutputCheck, compare_outputs

X86 = ("LiteRT reference kernels on x86 (this machine)",)


def test_float_outputs_that_differ_by_fused_multiply_add_rounding_pass_within_the_stated_tolerance():
    reference = np.array([0.1, 0.25, 0.6499999, 1e-9, -3.0], dtype=np.float32)
    fused = reference.copy()
    fused[[0, 2]] = np.nextafter(fused[[0, 2]], np.float32(1))  # one ulp, as aarch64's FMA gives
    check = compare_outputs(fused, reference, X86)
    assert check.passed and check.verdict == "within tolerance"
    assert check.differing_bytes > 0 and check.bytes_compared == 20
    assert check.tolerance == FLOAT_TOLERANCE and 0 < check.max_abs_difference < 1e-7
    assert f"float outputs within {FLOAT_TOLERANCE}" in check.detail
    assert str(FLOAT_TOLERANCE) == "|difference| <= 1e-06 + 0.0001 x |reference|"
    same = compare_outputs(reference.copy(), reference, X86)
    assert same.passed and same.verdict == "identical" and same.max_abs_difference == 0.0


def test_float_outputs_off_by_more_than_the_tolerance_fail():
    reference = np.array([0.1, 0.9], dtype=np.float32)
    check = compare_outputs(reference * np.float32(1.001), reference, X86)
    assert not check.passed and check.verdict == "DIFFERENT"
    assert check.max_abs_difference == pytest.approx(0.0009, rel=1e-3)
    assert not compare_outputs(np.array([np.nan, 0.9], np.float32), reference, X86).passed
    assert not compare_outputs(reference[:1], reference, X86).passed  # element counts differ


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32])
def test_integer_outputs_are_still_compared_byte_for_byte(dtype):
    reference = np.array([3, -2, 7, 0], dtype=np.int64).astype(dtype)
    off_by_one = reference.copy()
    off_by_one[1] += 1
    check = compare_outputs(off_by_one, reference, X86)
    assert not check.passed and check.differing_bytes >= 1 and check.tolerance is None
    assert check.max_abs_difference is None
    exact = compare_outputs(reference.copy(), reference, X86)
    assert exact.passed and exact.verdict == "identical" and exact.tolerance is None


def test_the_tolerance_and_largest_difference_are_in_the_json_row_and_read_back():
    reference = np.array([0.5, 0.5], dtype=np.float32)
    check = compare_outputs(np.nextafter(reference, np.float32(1)), reference, X86, "guest on cortex-a72")
    data = check.to_dict()
    assert data["tolerance"] == {"rtol": 1e-4, "atol": 1e-6} and data["max_abs_difference"] > 0
    assert data["detail"].startswith("guest on cortex-a72; float outputs within ")
    assert OutputCheck.from_dict(data) == check
    exact = compare_outputs(np.array([1], np.int8), np.array([1], np.int8), X86).to_dict()
    assert exact["tolerance"] is None and OutputCheck.from_dict(exact).tolerance is None
    old = {k: v for k, v in exact.items() if k not in ("tolerance", "max_abs_difference")}
    assert OutputCheck.from_dict(old).passed  # bench.json written before the tolerance still reads


def test_a_report_with_failed_rows_gives_one_failure_naming_the_first():
    def row(target: str, **kwargs) -> BenchResult:
        return BenchResult("m/a.tflite", "", target, {}, "", {}, **kwargs)

    assert BenchReport((row("host"),), {}).failure() is None
    failure = BenchReport(
        (row("host"), row("ssh://pi@b", error="cannot connect", details={"exit_code": 4}), row("rpi4")), {}
    ).failure()
    assert failure is not None and failure.exit_code == 4 and failure.target == "ssh://pi@b"
    assert failure.reason == "1 of 3 benchmarks failed; first: a.tflite on ssh://pi@b: cannot connect"


def test_convert_overhead_says_what_it_is_doing_round_by_round(monkeypatch, capsys):
    import importlib.util
    import sys

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location(
        "convert_overhead", REPO / "benchmarks" / "convert_overhead.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = []

    def fake_model(folder):
        (folder / "out").mkdir()
        for name in ("out/digits_cnn_int8.tflite", "bare.tflite"):
            (folder / name).write_bytes(b"x" * 10)
        made.append(folder)
        return folder / "digits_cnn.keras"

    monkeypatch.setattr(script, "build_model", fake_model)
    monkeypatch.setattr(script, "timed", lambda argv: 1.0)
    monkeypatch.setattr(sys, "argv", ["convert_overhead.py", "--rounds", "2"])
    script.main()
    printed = capsys.readouterr()
    progress = printed.err.splitlines()
    assert progress[0] == "· building the digits CNN (seeded, untrained)"
    assert "· round 2/2: edgeq 1.00 s, bare 1.00 s" in progress and len(progress) == 6
    assert "ratio edgeq / bare: 1.000" in printed.out
