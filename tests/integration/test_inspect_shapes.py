"""``edgeq inspect`` counts MACs and activation memory from the shapes LiteRT allocates, not the
file's: a Keras dilated convolution runs on a batch of 4 inside SPACE_TO_BATCH_ND."""

from __future__ import annotations

import numpy as np
import pytest

from edgeq.inspection import SHAPES_ALLOCATED, SHAPES_FROM_FILE, InspectResult, inspect, with_shapes
from edgeq.tflite import read_tflite
from edgeq.tflite.analysis import operator_costs
from edgeq.tflite.memory import plan_memory

SHAPED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@pytest.fixture(scope="module")
def dilated(tmp_path_factory):
    from edgeq.conversion.quiet import import_tensorflow

    tf = import_tensorflow()
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), layers.Conv2D(8, 3, padding="same", dilation_rate=2, activation="relu"),
         layers.Conv2D(8, 3, padding="same"), layers.GlobalAveragePooling2D(), layers.Dense(4)]
    )  # fmt: skip
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path_factory.mktemp("dilated") / "dilated.tflite"
    path.write_bytes(converter.convert())
    return path


def test_inspect_counts_macs_from_the_allocated_batch_of_a_dilated_convolution(dilated):
    result = inspect(dilated)
    graph = read_tflite(dilated.read_bytes(), str(dilated))
    assert "SPACE_TO_BATCH_ND" in graph.op_names()
    file_costs = operator_costs(graph)
    assert result.shapes == SHAPES_ALLOCATED
    dilated_conv = next(op for op in result.operators if op.opcode == "CONV_2D")
    assert dilated_conv.output_shape[0] == 4  # the file says batch 1
    assert next(op for op in file_costs if op.opcode == "CONV_2D").output_shape[0] == 1
    # 4 blocks of 8x8 (the 16x16 input split by the dilation), 3x3x3 taps, 8 filters
    assert dilated_conv.macs == 4 * 8 * 8 * 8 * 3 * 3 * 3
    file_macs = sum(op.macs for op in file_costs if op.opcode in SHAPED_OPS)
    allocated_macs = sum(op.macs for op in result.operators if op.opcode in SHAPED_OPS)
    assert allocated_macs == 16 * 16 * 8 * 3 * 3 * 3 + 16 * 16 * 8 * 3 * 3 * 8 + 8 * 4
    assert allocated_macs > file_macs
    assert result.memory.peak_bytes >= plan_memory(graph).peak_bytes
    report = result.to_dict()
    assert report["shapes"] == SHAPES_ALLOCATED and report["totals"]["macs"] == result.macs
    assert InspectResult.from_dict(report) == result.report()


def test_with_shapes_keeps_constants_and_falls_back_to_file_shapes(dilated, monkeypatch):
    graph = read_tflite(dilated.read_bytes(), str(dilated))
    constant = next(t for t in graph.main.tensors if t.is_constant)
    reshaped = with_shapes(graph, {constant.index: (1,), **{t.index: t.shape for t in graph.main.tensors}})
    assert reshaped.main.tensors[constant.index].shape == constant.shape
    assert np.array_equal(reshaped.main.tensors[constant.index].values(), constant.values())

    import edgeq.inspection

    monkeypatch.setattr(edgeq.inspection, "allocated_shapes", lambda step: None)
    result = inspect(dilated)
    assert result.shapes == SHAPES_FROM_FILE
    assert result.operators == operator_costs(graph)
    assert result.to_dict()["shapes"] == SHAPES_FROM_FILE
