"""edgeq inspect: the reader, MACs and parameters against hand-computed values, target checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.cli import run
from edgeq.inspection import inspect
from edgeq.tflite import read_tflite_file


@pytest.fixture(scope="module")
def counted_model(tmp_path_factory) -> tuple[Path, int, int]:
    """A model whose MACs and parameters are computed by hand below; returns (int8 file, keras params, BN params)."""
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)  # 16x16x8
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(
        3, strides=2, padding="same", activation="relu", bias_initializer=keras.initializers.Constant(0.1)
    )(x)  # 8x8x8
    x = keras.layers.AveragePooling2D(2)(x)  # 4x4x8
    x = keras.layers.MaxPooling2D(2)(x)  # 2x2x8
    x = keras.layers.Flatten()(x)  # 32
    # a non-zero bias: the converter drops an all-zero dense bias, and the count would change
    outputs = keras.layers.Dense(10, activation="softmax", bias_initializer=keras.initializers.Constant(0.1))(
        x
    )
    model = keras.Model(inputs, outputs)
    folder = tmp_path_factory.mktemp("counted")
    model.save(folder / "counted.keras")
    np.savez(folder / "calib.npz", x=np.random.default_rng(0).random((32, 16, 16, 3), dtype=np.float32))
    result = edgeq.convert(folder / "counted.keras", calib=folder / "calib.npz", mode="int8")
    result.save(folder / "out")
    return folder / "out" / "counted_int8.tflite", model.count_params(), 4 * 8


def test_macs_and_parameters_equal_hand_computed_values(counted_model):
    path, keras_params, bn_params = counted_model
    result = inspect(path)
    by_op = {}
    for op in result.operators:
        by_op.setdefault(op.opcode, []).append(op)
    conv, depthwise = by_op["CONV_2D"][0], by_op["DEPTHWISE_CONV_2D"][0]
    assert conv.macs == 16 * 16 * 8 * (3 * 3 * 3)
    assert conv.parameters == 8 * 3 * 3 * 3 + 8  # folding batch norm gives the conv a bias
    assert depthwise.macs == 8 * 8 * 8 * (3 * 3)
    assert depthwise.parameters == 3 * 3 * 8 + 8
    assert by_op["AVERAGE_POOL_2D"][0].macs == 4 * 4 * 8 * (2 * 2)
    assert by_op["MAX_POOL_2D"][0].macs == 2 * 2 * 8 * (2 * 2)
    dense = by_op["FULLY_CONNECTED"][0]
    assert (dense.macs, dense.parameters) == (32 * 10, 32 * 10 + 10)
    # Keras counts BN's gamma, beta, mean and variance; folding turns them into the conv's 8 biases
    assert result.parameters == keras_params - bn_params + 8


def test_parameter_total_equals_keras_for_the_demo_model(demo_run):
    result, output = demo_run
    inspected = inspect(output / result.mode("int8").file_name)
    assert inspected.parameters == result.source["parameters"] == 85610


def test_reader_describes_tensors_and_options(tiny_int8):
    graph = read_tflite_file(tiny_int8)
    ops = [op.opcode for op in graph.main.operators]
    assert ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    depthwise = graph.main.operators[1].option
    assert (depthwise["stride_w"], depthwise["padding"], depthwise["fused_activation"]) == (
        2,
        "SAME",
        "RELU6",
    )
    weights = graph.main.tensors[graph.main.operators[0].inputs[1]]
    assert weights.shape == (4, 3, 3, 1) and weights.dtype == "int8" and weights.quantization.per_channel
    assert weights.values().shape == (4, 3, 3, 1)
    assert graph.signatures == ("serving_default",)


def test_inspect_json_cli_reports_targets(capfd, tiny_int8):
    assert run(["inspect", str(tiny_int8), "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["schema_version"] == 1 and report["totals"]["macs"] == 2992
    tflm = report["targets"]["tflm"]
    assert tflm["runs"] and tflm["arena"]["fails_with_16_bytes_less"]
    assert "upper bound" in tflm["arena"]["note"]
    assert report["targets"]["litert"]["runs"] and report["targets"]["flex_ops"] == []
    engine = report["targets"]["edgeq_c_engine"]
    from edgeq.engine.generate import generate_engine
    from edgeq.tflite import read_tflite_file

    source = generate_engine(read_tflite_file(tiny_int8), "model")
    assert engine["supported"] and engine["scratch_bytes"] == source.scratch_bytes
    assert engine["static_ram_bytes"] == source.arena_bytes >= source.scratch_bytes
    assert engine["tflm_minimum_arena_bytes"] == tflm["arena"]["minimum_bytes"]
    assert engine["ram_ratio_to_tflm_arena"] < 1


def test_float16_model_names_the_op_tflm_lacks(demo_run):
    result, output = demo_run
    inspected = inspect(output / result.mode("float16").file_name)
    assert not inspected.tflm.runs and inspected.tflm.failing_op == "DEQUANTIZE"
    assert inspected.litert.runs
    assert inspected.quantization.scheme == "float16 weights"
    assert not inspected.engine.supported and "DEQUANTIZE" in (inspected.engine.reason or "")


def test_flex_ops_are_flagged_and_named(tmp_path):
    """A file converted with SELECT_TF_OPS (which edgeq itself never emits) is inspected honestly."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def determinant(x):
        return tf.linalg.det(tf.reshape(x, [1, 2, 2]))

    with quiet():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([determinant.get_concrete_function()])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        (tmp_path / "flex.tflite").write_bytes(converter.convert())
    result = inspect(tmp_path / "flex.tflite")
    assert result.flex_ops == ("FlexMatrixDeterminant",)
    assert not result.tflm.runs and result.tflm.failing_op == "CUSTOM (FlexMatrixDeterminant)"
    assert not result.litert.runs  # ai_edge_litert has no Flex delegate
