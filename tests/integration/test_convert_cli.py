"""``edgeq convert`` through the real CLI entry point: successful runs and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeq.cli import run
from edgeq.outputs import MANIFEST


def _error_run(capfd, argv: list[str], output: Path) -> str:
    existed = output.exists()
    siblings = set(output.parent.iterdir())
    code = run(argv)
    captured = capfd.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code == 2, captured.err
    assert len(errors) == 1 and captured.err.rstrip().splitlines()[-1] == errors[0]
    assert "Traceback" not in captured.err
    assert output.exists() == existed, "an output folder was written"
    assert set(output.parent.iterdir()) == siblings, "something was left beside the output"
    return errors[0]


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory) -> Path:
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3)(keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    path = tmp_path_factory.mktemp("lambda") / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def test_missing_model_file(capfd, tmp_path):
    line = _error_run(
        capfd, ["convert", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "o")], tmp_path / "o"
    )
    assert "nope.keras does not exist" in line


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("m.keras", b"hello, not a model", "is not a .keras file (not a zip archive)"),
        ("m.h5", b"hello, not a model", "is not a Keras 2 .h5 file (no HDF5 signature)"),
        ("m.tflite", b"TFL3", "unknown format '.tflite'"),
        ("m.keras", b"", "is an empty file"),
    ],
)
def test_file_that_is_not_a_model(capfd, tmp_path, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    line = _error_run(capfd, ["convert", str(tmp_path / name), "-o", str(tmp_path / "o")], tmp_path / "o")
    assert fragment in line


def test_lambda_model_needs_unsafe(capfd, tmp_path, lambda_model, dense_data):
    line = _error_run(
        capfd, ["convert", str(lambda_model), "--mode", "float32", "-o", str(tmp_path / "o")], tmp_path / "o"
    )
    assert "Lambda layer" in line and "--unsafe" in line
    code = run(
        [
            "convert",
            str(lambda_model),
            "--unsafe",
            "--mode",
            "float32",
            "--eval",
            str(dense_data),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["modes"][0]["evaluation"]["outputs"][0]["relative_l2"] < 1e-5


def test_calibration_data_of_the_wrong_shape(capfd, tmp_path, digits_model):
    np.savez(tmp_path / "c.npz", x=np.zeros((10, 8, 8, 3), np.float32))
    line = _error_run(
        capfd,
        ["convert", str(digits_model), "--calib", str(tmp_path / "c.npz"), "-o", str(tmp_path / "o")],
        tmp_path / "o",
    )
    assert "shape (8, 8, 3) but the model input is (None, 8, 8, 1)" in line


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_data_with_nan_or_inf(capfd, tmp_path, digits_model, bad):
    x = np.ones((10, 8, 8, 1), np.float32)
    x[4, 2, 2, 0] = bad
    np.savez(tmp_path / "c.npz", x=x)
    for option in ("--calib", "--eval"):
        line = _error_run(
            capfd,
            [
                "convert",
                str(digits_model),
                "--mode",
                "float16",
                option,
                str(tmp_path / "c.npz"),
                "-o",
                str(tmp_path / "o"),
            ],
            tmp_path / "o",
        )
        assert "NaN or infinite values (first in sample 4 of the file)" in line


def test_empty_data_file(capfd, tmp_path, digits_model):
    (tmp_path / "c.npz").write_bytes(b"")
    line = _error_run(
        capfd,
        ["convert", str(digits_model), "--calib", str(tmp_path / "c.npz"), "-o", str(tmp_path / "o")],
        tmp_path / "o",
    )
    assert "is an empty file" in line
    np.savez(tmp_path / "e.npz", x=np.zeros((0, 8, 8, 1), np.float32))
    line = _error_run(
        capfd,
        ["convert", str(digits_model), "--calib", str(tmp_path / "e.npz"), "-o", str(tmp_path / "o")],
        tmp_path / "o",
    )
    assert "contains no samples" in line


def test_unknown_mode(capfd, tmp_path, digits_model):
    line = _error_run(
        capfd, ["convert", str(digits_model), "--mode", "int3", "-o", str(tmp_path / "o")], tmp_path / "o"
    )
    assert line == "error: unknown mode 'int3': choose from float32, float16, dynamic, int8, int16x8, int4, dynamic-int4, dynamic-int2, all"


def test_existing_output_folder_without_force(capfd, tmp_path, digits_model, digits_split):
    calib, _ = digits_split
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _error_run(capfd, ["convert", str(digits_model), "--calib", str(calib), "-o", str(out)], out)
    assert "already exists: pass --force" in line
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # --force replaces only what edgeq wrote: a folder holding the user's file is refused, untouched
    argv = [
        "convert",
        str(digits_model),
        "--calib",
        str(calib),
        "--scale",
        "0.0625",
        "-o",
        str(out),
        "--force",
    ]
    line = _error_run(capfd, argv, out)
    assert "holds 1 file(s) edgeq did not write there or that changed since (keep.txt)" in line
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    assert run(argv) == 0 and run(argv) == 0  # an empty folder, then edgeq's own folder: replaced
    assert sorted(p.name for p in out.iterdir()) == [
        MANIFEST,
        "digits_cnn_int8.tflite",
        "report.json",
        "report.md",
    ]


def test_int8_needs_calibration(capfd, tmp_path, digits_model):
    line = _error_run(capfd, ["convert", str(digits_model), "-o", str(tmp_path / "o")], tmp_path / "o")
    assert "needs calibration data: pass --calib" in line


def test_usage_errors_are_one_line(capfd, tmp_path, digits_model):
    line = _error_run(
        capfd, ["convert", str(digits_model), "--bogus", "-o", str(tmp_path / "o")], tmp_path / "o"
    )
    assert "No such option: --bogus" in line


def test_json_output_and_bundled_split_selector(capfd, tmp_path, digits_model):
    from conftest import DIGITS

    code = run(
        [
            "convert",
            str(digits_model),
            "--mode",
            "int8",
            "--io",
            "float",
            "--calib",
            f"{DIGITS}:train",
            "--eval",
            f"{DIGITS}:test",
            "--eval-samples",
            "100",
            "--scale",
            "0.0625",
            "--json",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    captured = capfd.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    mode = report["modes"][0]
    assert mode["key"] == "int8_float_io" and mode["inputs"][0]["dtype"] == "float32"
    assert report["evaluation_data"]["samples"] == 100
    assert report["size_baseline"]["kind"] == "float32_weights"
    assert mode["evaluation"]["top1"] > 0.9
    assert json.loads((tmp_path / "o" / "report.json").read_text()) == report
