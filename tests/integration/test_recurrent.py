"""Keyword-spotting / sensor style models with LSTM and GRU layers convert to int8 (recurrent layers
unrolled: TF 2.21's fused-LSTM int8 path segfaults the converter) and run in TensorFlow Lite Micro."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.runtimes.runners import check_tflm

STEPS, FEATURES = 8, 6


def _recurrent_model(folder: Path, layer: str) -> Path:
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(1)
    recurrent = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[layer]
    inputs = keras.Input((STEPS, FEATURES))
    hidden = recurrent(8, name=f"{layer}_1")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="classes")(hidden)
    path = folder / f"{layer}.keras"
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.mark.parametrize("layer", ["lstm", "gru"])
def test_recurrent_model_converts_to_int8_and_runs_in_tflm(tmp_path, layer):
    model = _recurrent_model(tmp_path, layer)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, STEPS, FEATURES)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    result = edgeq.convert(
        model, calib=tmp_path / "data.npz", eval=tmp_path / "data.npz", mode="int8,dynamic"
    )
    assert result.ok, result.failures
    int8 = result.mode("int8")
    assert any(f"{layer}_1 unrolled" in note for note in int8.notes), int8.notes
    assert int8.runs_in_litert and int8.inputs[0].dtype == "int8"
    assert int8.evaluation is not None and int8.evaluation.agreement >= 0.8
    assert int8.tflite is not None
    report = check_tflm(int8.tflite)
    assert report.runs, report.reason
    assert report.arena is not None and report.arena.minimum_bytes > 0
    # the float-activation mode keeps the layer fused: nothing to unroll there
    assert not any("unrolled" in note for note in result.mode("dynamic").notes)
