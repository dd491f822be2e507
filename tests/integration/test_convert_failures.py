"""A multi-mode ``edgeq convert`` keeps going when one mode fails: the modes that convert are
written, the failed one is a row with its reason, and the exit code says so. Also: a dynamic-range
file that quantized nothing says so, and int8 dense layers are per tensor unless asked otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.cli import run
from edgeq.errors import UnsupportedError
from edgeq.results import ConvertResult
from edgeq.runtimes.runners import check_tflm
from edgeq.tflite.analysis import quantization_summary
from edgeq.tflite.reader import read_tflite


def _keras():
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    return keras


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    keras = _keras()
    folder = tmp_path_factory.mktemp("failures")
    inputs = keras.Input((8,))
    hidden = keras.layers.Activation("hard_swish")(keras.layers.Dense(16)(inputs))
    keras.Model(inputs, keras.layers.Dense(4)(hidden)).save(folder / "hard_swish.keras")
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(48, activation="relu")(keras.layers.Dense(48, activation="relu")(inputs))
    keras.Model(inputs, keras.layers.Dense(64)(hidden)).save(folder / "dense.keras")
    rng = np.random.default_rng(0)
    np.save(folder / "calib8.npy", rng.normal(size=(32, 8)).astype(np.float32))
    np.save(folder / "calib64.npy", rng.normal(size=(32, 64)).astype(np.float32))
    return folder


def test_refused_mode_is_a_row_and_the_others_are_written(capfd, folder, tmp_path):
    output = tmp_path / "out"
    argv = ["convert", str(folder / "hard_swish.keras"), "-o", str(output), "--calib"]
    code = run([*argv, str(folder / "calib8.npy"), "--mode", "float32,int16x8,int8"])
    captured = capfd.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    assert captured.err.rstrip().splitlines()[-1].startswith("error: 1 mode(s) failed (int16x8)")
    assert sorted(p.name for p in output.glob("*.tflite")) == [
        "hard_swish_float32.tflite",
        "hard_swish_int8.tflite",
    ]
    report = json.loads((output / "report.json").read_text())
    assert [m["key"] for m in report["modes"]] == ["float32", "int8"]
    (failure,) = report["failed_modes"]
    assert failure["key"] == "int16x8" and failure["exit_code"] == 2 and not failure["crashed"]
    assert "HARD_SWISH" in failure["reason"]
    markdown = (output / "report.md").read_text()
    assert "| int16x8 (FAILED, see notes) | not written |" in markdown
    assert "int16x8 FAILED, no file written (not converted)" in markdown
    assert "int16x8 FAILED" in captured.out  # the console's notes
    back = ConvertResult.from_dict(report)
    assert not back.ok and back.failures[0].reason == failure["reason"] and back.exit_code == 2


def test_api_result_carries_each_failure_and_all_failing_raises(folder):
    result = edgeq.convert(folder / "hard_swish.keras", calib=folder / "calib8.npy", mode="int16x8,float16")
    assert [m.key for m in result.modes] == ["float16"]
    assert not result.ok and result.failures[0].key == "int16x8" and result.exit_code == 2
    with pytest.raises(UnsupportedError, match="cannot quantize HARD_SWISH to 16x8"):
        edgeq.convert(folder / "hard_swish.keras", calib=folder / "calib8.npy", mode="int16x8")


def test_dynamic_that_quantized_nothing_says_so(folder):
    small = edgeq.convert(folder / "hard_swish.keras", mode="dynamic").mode("dynamic")
    assert any("quantized no weights" in note for note in small.notes), small.notes
    large = edgeq.convert(folder / "dense.keras", mode="dynamic").mode("dynamic")
    assert not any("quantized no weights" in note for note in large.notes), large.notes
    assert large.tflite is not None
    assert "int8" in quantization_summary(read_tflite(large.tflite)).weight_dtypes


def test_int8_dense_is_per_tensor_by_default_and_per_channel_on_request(folder):
    calib = folder / "calib64.npy"
    per_tensor = edgeq.convert(folder / "dense.keras", calib=calib).mode("int8")
    per_channel = edgeq.convert(folder / "dense.keras", calib=calib, per_channel_dense=True).mode("int8")
    assert per_tensor.tflite is not None and per_channel.tflite is not None
    tensor_summary = quantization_summary(read_tflite(per_tensor.tflite))
    channel_summary = quantization_summary(read_tflite(per_channel.tflite))
    assert tensor_summary.per_channel_weights == 0 and tensor_summary.per_tensor_weights >= 3
    assert channel_summary.per_channel_weights >= 3
    assert not per_tensor.notes  # the default, said in --help and the README: no note
    assert any("per channel" in note for note in per_channel.notes)
    arena_tensor = check_tflm(per_tensor.tflite).arena
    arena_channel = check_tflm(per_channel.tflite).arena
    assert arena_tensor is not None and arena_channel is not None
    assert arena_tensor.minimum_bytes < arena_channel.minimum_bytes


CRASHING_OBJECTS = '''
import keras


@keras.saving.register_keras_serializable(package="edgeq_test")
class Recurrence(keras.layers.Layer):
    """An LSTM hidden in a custom layer: edgeq cannot unroll it, so int8 takes the fused path."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.recurrent = keras.layers.LSTM(4)

    def call(self, inputs):
        return self.recurrent(inputs)
'''


def test_converter_crash_is_that_modes_failure(tmp_path):
    keras = _keras()
    objects = tmp_path / "objects.py"
    objects.write_text(CRASHING_OBJECTS)
    namespace: dict[str, object] = {}
    exec(compile(CRASHING_OBJECTS, str(objects), "exec"), namespace)
    inputs = keras.Input((5, 3))
    outputs = keras.layers.Dense(2)(namespace["Recurrence"]()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "hidden_lstm.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).normal(size=(8, 5, 3)).astype(np.float32))
    args = {"calib": tmp_path / "calib.npy", "custom_objects": objects}
    result = edgeq.convert(tmp_path / "hidden_lstm.keras", mode="int8,float32", **args)
    assert [m.key for m in result.modes] == ["float32"]
    (failure,) = result.failures
    assert failure.key == "int8" and failure.crashed and failure.exit_code == 1
    assert "crashed (SIG" in failure.reason
