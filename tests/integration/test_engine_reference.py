"""The numpy model of TFLM's int8 kernels equals the real TFLite Micro interpreter, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import edgeq
from edgeq.engine.reference import run_reference
from edgeq.errors import UnsupportedError
from edgeq.mcu.runtimes import run_probe
from edgeq.tflite import read_tflite, read_tflite_file


@pytest.fixture(scope="module")
def layered_int8(tmp_path_factory) -> bytes:
    """Conv (same, relu), depthwise (x2, stride 2, relu6), conv (valid), pools, dense: int8 I/O."""
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6", depth_multiplier=2)(x)
    x = keras.layers.Conv2D(6, 3, padding="valid")(x)
    x = keras.layers.AveragePooling2D(2, padding="same")(x)
    x = keras.layers.MaxPooling2D(2, strides=1, padding="same")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5, activation="relu")(x)
    folder = tmp_path_factory.mktemp("layered")
    keras.Model(inputs, outputs).save(folder / "m.keras")
    np.savez(folder / "c.npz", x=np.random.default_rng(0).random((64, 12, 12, 3), dtype=np.float32))
    return edgeq.convert(folder / "m.keras", calib=folder / "c.npz", mode="int8").mode("int8").tflite


def test_reference_kernels_equal_tflm_with_zero_tolerance(layered_int8):
    graph = read_tflite(layered_int8)
    assert [op.opcode for op in graph.main.operators] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
    ]  # fmt: skip
    rng = np.random.default_rng(1)
    samples = [rng.integers(-128, 128, size=(1, 12, 12, 3), dtype=np.int8) for _ in range(20)]
    steps = [
        {"run": "tflm", "arena": 1 << 20, "inputs": f"in{i}.npz", "outputs": f"out{i}.npz"} for i in range(20)
    ]
    results = run_probe(layered_int8, steps, {f"in{i}.npz": {"input_0": s} for i, s in enumerate(samples)})
    for sample, result in zip(samples, results, strict=True):
        assert result.ok
        assert np.array_equal(run_reference(graph, [sample])[0], result.data["arrays"]["output_0"])


def test_ops_outside_the_reference_are_named(tiny_int8):
    with pytest.raises(UnsupportedError, match="SOFTMAX"):
        run_reference(read_tflite_file(tiny_int8), [np.zeros((1, 8, 8, 1), np.int8)])
