"""Model loading: Keras 2 .h5 written by tf_keras, SavedModel folders, custom objects, corrupt files."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.conversion.loading import load_model
from edgeq.errors import InputError

KERAS2_WRITER = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tf_keras as k2
    L = k2.layers
    k2.utils.set_random_seed(3)
    inputs = L.Input((12, 12, 3))
    x = L.Conv2D(8, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.SeparableConv2D(8, 3)(x)
    x = L.AveragePooling2D()(x)
    x = L.Flatten()(x)
    outputs = L.Dense(4, activation="softmax")(x)
    model = k2.Model(inputs, outputs)
    x = np.random.default_rng(0).uniform(0, 1, size=(40, 12, 12, 3)).astype("float32")
    model.save(sys.argv[1])
    np.savez(sys.argv[2], x=x, reference=model.predict(x, verbose=0))
    """
)


@pytest.fixture(scope="module")
def keras2_h5(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keras2")
    model, data = folder / "keras2_mobile.h5", folder / "data.npz"
    subprocess.run(
        [sys.executable, "-c", KERAS2_WRITER, str(model), str(data)], check=True, capture_output=True
    )
    return model, data


def test_keras2_h5_with_depthwise_and_separable_converts(keras2_h5):
    model, data = keras2_h5
    result = edgeq.convert(model, calib=data, eval=data, mode="float32,int8")
    assert any("DepthwiseConv2D: dropped Keras 2 config keys groups" in r for r in result.source["repairs"])
    assert any(
        "SeparableConv2D: dropped" in r and "kernel_initializer" in r for r in result.source["repairs"]
    )
    assert result.source["format"] == "keras2-h5"
    assert "DEPTHWISE_CONV_2D" in result.mode("int8").ops
    # the float32 file reproduces what Keras 2 itself computed when it wrote the file
    with np.load(data) as arrays:
        reference = arrays["reference"]
    from edgeq.runtimes.litert import TFLiteRunner

    outputs = TFLiteRunner(result.mode("float32").tflite).run(np.load(data)["x"])[0]
    assert np.abs(outputs - reference).max() < 1e-5
    assert result.mode("int8").evaluation.outputs[0].cosine > 0.99


def test_saved_model_folder_converts_and_evaluates(tmp_path, small_dense_model, dense_data):
    from edgeq.conversion.quiet import import_tensorflow, quiet

    import_tensorflow()
    import keras

    folder = tmp_path / "dense_saved_model"
    with quiet():
        keras.saving.load_model(small_dense_model).export(folder, format="tf_saved_model")
    result = edgeq.convert(folder, calib=dense_data, eval=dense_data, mode="float32,int8")
    assert result.source["format"] == "saved_model"
    assert result.mode("float32").evaluation.outputs[0].relative_l2 < 1e-5
    assert result.mode("int8").inputs[0].dtype == "int8"
    assert result.mode("float32").file_name == "dense_saved_model_float32.tflite"


CUSTOM_LAYER = textwrap.dedent(
    """
    import keras


    class TimesTwo(keras.layers.Layer):
        def call(self, x):
            return x * 2.0
    """
)


def test_custom_objects_are_refused_then_loaded_from_a_module(tmp_path):
    module = tmp_path / "mylayers.py"
    module.write_text(CUSTOM_LAYER)
    writer = (
        "import sys, os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; sys.path.insert(0, sys.argv[2]);"
        "import keras, mylayers; i = keras.Input((4,));"
        "keras.Model(i, keras.layers.Dense(2)(mylayers.TimesTwo()(i))).save(sys.argv[1])"
    )
    model = tmp_path / "custom.keras"
    subprocess.run([sys.executable, "-c", writer, str(model), str(tmp_path)], check=True, capture_output=True)
    with pytest.raises(InputError, match=r"custom object 'TimesTwo'.*--custom-objects module\.py"):
        load_model(model)
    loaded = load_model(model, custom_objects=module)
    assert loaded.parameter_count == 10
    with pytest.raises(InputError, match="is not a Python file"):
        load_model(model, custom_objects=tmp_path / "missing.py")


def test_corrupted_model_files_never_crash(tmp_path, digits_model, keras2_h5):
    """Truncations, byte flips and random bytes: each either loads or is an InputError."""
    rng = random.Random(7)
    originals = [digits_model.read_bytes(), keras2_h5[0].read_bytes()]
    refused = 0
    for case in range(40):
        original = originals[case % 2]
        suffix = ".keras" if case % 2 == 0 else ".h5"
        kind = case % 4
        if kind < 2:
            data = original[: rng.randrange(1, len(original))]
        elif kind == 2:
            data = bytearray(original)
            for _ in range(20):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data = original[:8] + bytes(rng.randrange(256) for _ in range(4096))
        path = tmp_path / f"corrupt{case}{suffix}"
        path.write_bytes(bytes(data))
        try:
            load_model(path)
        except InputError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused >= 30
