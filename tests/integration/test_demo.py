"""Acceptance figures of the digits demo: six modes, int8 accuracy and size, files that run."""

import json

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgeq.runtimes.tensors import TensorInfo, quantize


def test_demo_converts_all_six_modes(demo_run):
    result, output = demo_run
    assert [m.key for m in result.modes] == [
        "float32",
        "float16",
        "dynamic",
        "int8",
        "int8_float_io",
        "int16x8",
    ]
    for name in ("digits_cnn.keras", "calib.npz", "test.npz", "report.json", "report.md"):
        assert (output / name).is_file()
    for mode in result.modes:
        assert (output / mode.file_name).read_bytes() == mode.tflite


def test_float_model_learns_digits_and_int8_costs_at_most_one_point(demo_run):
    result, _ = demo_run
    assert result.reference.top1 >= 0.95
    assert result.reference.samples == 359
    assert result.top1_drop_points(result.mode("float32")) == 0.0
    assert result.top1_drop_points(result.mode("int8")) <= 1.0
    int8 = result.mode("int8").evaluation
    assert int8.agreement >= 0.98 and int8.outputs[0].cosine > 0.999


def test_int8_file_is_under_three_tenths_of_float32(demo_run):
    result, output = demo_run
    float32 = (output / result.mode("float32").file_name).stat().st_size
    int8 = (output / result.mode("int8").file_name).stat().st_size
    assert int8 <= 0.30 * float32
    assert result.size_baseline.kind == "float32_tflite" and result.size_baseline.size_bytes == float32


def test_every_file_loads_and_runs_in_ai_edge_litert(demo_run):
    """Independently of edgeq's runner: a fresh interpreter per file, invoked on a test image."""
    result, output = demo_run
    with np.load(output / "test.npz") as data:
        image = data["x"][:1].astype(np.float32) / 16.0
        label = int(data["y"][0])
    for mode in result.modes:
        assert mode.runs_in_litert
        interpreter = Interpreter(model_path=str(output / mode.file_name))
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        scale, zero_point = detail["quantization"]
        info = TensorInfo("in", tuple(detail["shape"]), np.dtype(detail["dtype"]).name, scale, zero_point)
        interpreter.set_tensor(detail["index"], quantize(image, info))
        interpreter.invoke()
        scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert scores.shape == (1, 10)
        assert int(np.argmax(scores)) == label, mode.key


def test_int8_file_has_int8_input_and_output(demo_run):
    result, output = demo_run
    interpreter = Interpreter(model_path=str(output / result.mode("int8").file_name))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    float_io = Interpreter(model_path=str(output / result.mode("int8_float_io").file_name))
    assert float_io.get_input_details()[0]["dtype"] == np.float32
    int16 = Interpreter(model_path=str(output / result.mode("int16x8").file_name))
    assert int16.get_input_details()[0]["dtype"] == np.int16


def test_report_json_and_markdown(demo_run):
    result, output = demo_run
    report = json.loads((output / "report.json").read_text())
    assert report["schema_version"] == 1 and report["kind"] == "edgeq.convert"
    assert report["source"]["path"] == str(output / "digits_cnn.keras")
    assert report["preprocessing"]["scale"] == 0.0625
    assert report["calibration"]["samples"] == 200 and report["evaluation_data"]["samples"] == 359
    int8 = next(m for m in report["modes"] if m["key"] == "int8")
    assert int8["size_bytes"] == result.mode("int8").size_bytes
    assert int8["inputs"][0]["dtype"] == "int8" and int8["conversion_seconds"] > 0
    assert "FULLY_CONNECTED" in int8["ops"] and not any(op.startswith("Flex") for op in int8["ops"])
    markdown = (output / "report.md").read_text()
    assert "| int8 (float I/O) |" in markdown and "BUILTIN_REF" in markdown
