"""edgeq qat --weight-bits 4: 4-bit per-channel weight fake quantization, int8 activations, and an
int4 .tflite (INT4 weight tensors) that LiteRT runs, whose int8 twin TFLite Micro runs with the same
outputs, beside the int4 post-training file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.cli import run
from edgeq.tflite import read_tflite
from edgeq.tflite.rewrite import unpack_int4_weights

keras = pytest.importorskip("keras")
layers = keras.layers

SAMPLES = 24
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
INT4 = 17  # TensorType INT4 in the TFLite schema


def keras3_cnn():
    """Conv2D + BatchNormalization + ReLU, a depthwise convolution, pooling and two Dense layers."""
    inputs = keras.Input((6, 6, 2))
    x = layers.ReLU()(
        layers.BatchNormalization()(layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs))
    )
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = layers.Dense(8, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x), name="cnn")


def _saved(model, tmp_path: Path, name: str, suffix: str = ".keras") -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, *model.input_shape[1:]), dtype=np.float32)
    y = rng.integers(0, model.output_shape[-1], SAMPLES)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)  # moving statistics away from their initial 0 / 1
    path, data = tmp_path / f"{name}{suffix}", tmp_path / f"{name}.npz"
    model.save(path)
    np.savez(data, x=x, y=y)
    return path, data


def _assert_int4_weights(tflite: bytes) -> None:
    """Every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weight is an INT4 tensor, one scale per
    output channel, values -7..7 with 7 reached in every channel (the 4-bit step is per channel)."""
    from ai_edge_litert import schema_py_generated as schema

    main = read_tflite(tflite, "int4 QAT").main
    raw = schema.Model.GetRootAsModel(tflite, 0).Subgraphs(0)
    weight_ops = [op for op in main.operators if op.opcode in WEIGHT_OPS]
    assert {op.opcode for op in weight_ops} == set(WEIGHT_OPS)
    for op in weight_ops:
        weights = main.tensors[op.inputs[1]]
        assert raw.Tensors(weights.index).Type() == INT4 and weights.dtype == "int4"
        axis = weights.quantization.quantized_dimension
        assert len(weights.quantization.scales) == weights.shape[axis] > 1
        per_channel = np.moveaxis(np.abs(weights.values()), axis, 0).reshape(weights.shape[axis], -1)
        assert per_channel.max() <= 7 and (per_channel.max(axis=1) == 7).all()


def _litert_outputs(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    source, result = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for sample in inputs:
        interpreter.set_tensor(source["index"], sample[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(result["index"])[0].copy())
    return np.array(outputs)


def _tflm_outputs(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(tflite, arena_size=64 * 1024)
    outputs = []
    for sample in inputs:
        interpreter.set_input(sample[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0))[0])
    return np.array(outputs)


def _quantized_inputs(tflite: bytes, x: np.ndarray) -> np.ndarray:
    main = read_tflite(tflite, "model").main
    quantization = main.tensors[main.inputs[0]].quantization
    scale, zero_point = quantization.scales[0], quantization.zero_points[0]
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def test_qat_with_4_bit_weights_writes_an_int4_file_litert_runs_and_tflm_matches_on_its_twin(capfd, tmp_path):
    keras.utils.set_random_seed(0)
    path, data = _saved(keras3_cnn(), tmp_path, "cnn")
    out = tmp_path / "out"
    argv = ["qat", str(path), "--train", str(data), "--eval", str(data), "--weight-bits", "4"]
    assert run([*argv, "--epochs", "1", "--batch-size", "8", "--calib-samples", "8", "-o", str(out)]) == 0
    printed = capfd.readouterr().out
    rows = [
        line.strip() for line in printed.splitlines() if re.match(r"int4[^:]*\s+\d+\.\d+\s", line.strip())
    ]
    assert len(rows) == 2 and "(QAT)" not in rows[0] and rows[1].startswith("int4 (QAT)")  # PTQ, then QAT
    assert sorted(p.name for p in out.glob("*.tflite")) == ["cnn_int4.tflite", "cnn_int4_qat.tflite"]

    report = json.loads((out / "report.json").read_text())
    modes = {mode["key"]: mode for mode in report["modes"]}
    assert set(modes) == {"int4", "int4_qat"}
    assert all(mode["runs_in_litert"] and mode["evaluation"]["top1"] is not None for mode in modes.values())
    qat = report["qat"]
    assert qat["weight_bits"] == 4 and "int8 twin" in qat["tflm_subject"]
    assert {layer["weights"] for layer in qat["layers"] if layer["weights"] != "none"} == {"int4 per channel"}
    assert qat["tflm"]["runs"] and not qat["tflm"]["reason"]

    tflite = (out / "cnn_int4_qat.tflite").read_bytes()
    _assert_int4_weights(tflite)
    twin = unpack_int4_weights(tflite)
    inputs = _quantized_inputs(tflite, np.load(data)["x"])
    int4_in_litert = _litert_outputs(tflite, inputs)
    # the int8 twin in TFLM computes what LiteRT computes with the int4 file, byte for byte (no
    # FULLY_CONNECTED rounding tie met these samples: none is allowed for)
    assert np.array_equal(_tflm_outputs(twin, inputs), int4_in_litert)
    assert np.array_equal(_litert_outputs(twin, inputs), int4_in_litert)


def test_the_int4_file_computes_what_training_saw():
    """The exported int4 model's outputs are the quantization-aware Keras model's, to one output step."""
    from edgeq.conversion.qat import build_qat_model, export_qat

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((12,)), layers.Dense(16, activation="relu"),
                              layers.Dense(8, activation="relu"), layers.Dense(4)])  # fmt: skip
    x = np.random.default_rng(1).normal(size=(SAMPLES, 12)).astype(np.float32)
    qat, _ = build_qat_model(model, x, weight_bits=4)
    qat.compile("adam", "mse")
    qat.fit(x, np.zeros((SAMPLES, 4), np.float32), epochs=1, verbose=0)
    tflite = export_qat(qat, "int8", weight_bits=4)
    _assert_fully_connected_int4(tflite)
    main = read_tflite(tflite, "model").main
    output = main.tensors[main.outputs[0]].quantization
    step, zero_point = output.scales[0], output.zero_points[0]
    seen = qat.predict(x, verbose=0)
    computed = (_litert_outputs(tflite, _quantized_inputs(tflite, x)).astype(np.float32) - zero_point) * step
    assert np.abs(computed - seen).max() <= step * 1.01


def _assert_fully_connected_int4(tflite: bytes) -> None:
    main = read_tflite(tflite, "model").main
    weights = [main.tensors[op.inputs[1]] for op in main.operators if op.opcode == "FULLY_CONNECTED"]
    assert len(weights) == 3
    for tensor in weights:
        assert tensor.dtype == "int4" and len(tensor.quantization.scales) == tensor.shape[0]
        assert (np.abs(tensor.values()).max(axis=1) == 7).all()


def test_qat_with_4_bit_weights_on_a_keras2_h5_conv_batchnorm_model(tmp_path):
    tf_keras = pytest.importorskip("tf_keras", reason="tf_keras (Keras 2) writes the legacy .h5 test model")
    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((6, 6, 1))
    x = tf_keras.layers.BatchNormalization()(tf_keras.layers.Conv2D(4, 3, padding="same")(inputs))
    x = tf_keras.layers.Flatten()(tf_keras.layers.Activation("relu")(x))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(3, activation="softmax")(x))
    path, data = _saved(model, tmp_path, "legacy", ".h5")
    result = edgeq.qat(path, train=data, eval=data, epochs=1, batch_size=8, calib_samples=8, verbose=0,
                       weight_bits=4)  # fmt: skip
    assert [mode.key for mode in result.modes] == ["int4", "int4_qat"]
    qat = result.mode("int4_qat")
    assert qat.runs_in_litert and qat.evaluation.top1 is not None
    assert result.qat.layers[0].fused and result.qat.layers[0].fused[0].startswith("batch_normalization")
    assert result.qat.tflm.runs and not result.qat.tflm.reason
    main = read_tflite(qat.tflite, "int4 QAT").main
    assert [main.tensors[op.inputs[1]].dtype for op in main.operators if op.opcode in WEIGHT_OPS] == [
        "int4",
        "int4",
    ]
    assert result.size_baseline.kind == "float32_tflite"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--weight-bits", "3"],
            "error: --weight-bits must be 8 (int8 weights) or 4 (int4 weights, per channel), got 3",
        ),
        (["--weight-bits", "4", "--io", "float"], "error: --weight-bits 4 writes int8 input/output"),
    ],
)
def test_qat_refuses_weight_bits_it_cannot_train_in_one_line(capfd, tmp_path, options, message):
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((4, 3), np.float32), y=np.zeros(4, np.int64))
    argv = ["qat", str(tmp_path / "missing.keras"), "--train", str(data), *options, "-o", str(tmp_path / "o")]
    assert run(argv) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)
