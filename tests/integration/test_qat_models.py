"""edgeq qat on the models users bring: Keras 2 .h5 Conv+BatchNormalization models written with
tf_keras the way the MLPerf Tiny training scripts write them (ResNet-8, DS-CNN and MobileNet style,
tiny), plain Sequential and functional Dense MLPs, and a regression autoencoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeq
from edgeq.cli import run

tf_keras = pytest.importorskip("tf_keras", reason="tf_keras (Keras 2) writes the legacy .h5 test models")
layers = tf_keras.layers

SAMPLES = 16


def _bn_relu(x, relu6: bool = False):
    x = layers.BatchNormalization()(x)
    return layers.ReLU(6.0)(x) if relu6 else layers.Activation("relu")(x)


def resnet8_style():
    inputs = tf_keras.Input((8, 8, 3))
    x = _bn_relu(
        layers.Conv2D(4, 3, padding="same", kernel_regularizer=tf_keras.regularizers.l2(1e-4))(inputs)
    )
    y = _bn_relu(layers.Conv2D(4, 3, padding="same")(x))
    y = layers.BatchNormalization()(layers.Conv2D(4, 3, padding="same")(y))
    x = layers.Activation("relu")(layers.add([x, y]))
    y = _bn_relu(layers.Conv2D(8, 3, strides=2, padding="same")(x))
    y = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(y))
    x = layers.Activation("relu")(layers.add([layers.Conv2D(8, 1, strides=2)(x), y]))
    x = layers.Flatten()(layers.AveragePooling2D(pool_size=4)(x))
    return tf_keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


def dscnn_style():
    inputs = tf_keras.Input((10, 6, 1))
    x = layers.Dropout(0.2)(_bn_relu(layers.Conv2D(8, (4, 2), strides=(2, 2), padding="same")(inputs)))
    for _ in range(2):
        x = _bn_relu(layers.DepthwiseConv2D((3, 3), padding="same")(x))
        x = _bn_relu(layers.Conv2D(8, 1, padding="same")(x))
    x = layers.Flatten()(layers.AveragePooling2D(pool_size=x.shape[1:3])(layers.Dropout(0.4)(x)))
    return tf_keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


def mobilenet_style():
    inputs = tf_keras.Input((12, 12, 3))
    x = _bn_relu(layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs), relu6=True)
    for filters, stride in ((8, 1), (8, 2)):
        x = _bn_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x), True)
        x = _bn_relu(layers.Conv2D(filters, 1, use_bias=False)(x), relu6=True)
    x = layers.GlobalAveragePooling2D()(x)
    return tf_keras.Model(inputs, layers.Dense(2, activation="softmax")(layers.Dropout(0.1)(x)))


def sequential_mlp():
    return tf_keras.Sequential(
        [layers.Dense(16, activation="relu", input_shape=(10,)), layers.Dense(16, activation="relu"),
         layers.Dense(3)]
    )  # fmt: skip


def functional_mlp():
    inputs = tf_keras.Input((10,))
    x = layers.Dense(16, activation="relu")(inputs)
    x = layers.Dense(8, activation="relu")(x)
    return tf_keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


def _save(model, tmp_path: Path, name: str, x: np.ndarray, y: np.ndarray) -> tuple[Path, Path]:
    model.compile("adam", "mse" if y.dtype.kind == "f" else "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)  # moving statistics away from their initial 0 / 1
    path = tmp_path / f"{name}.h5"
    model.save(path)
    data = tmp_path / f"{name}.npz"
    np.savez(data, x=x, y=y)
    return path, data


def _classification_data(model, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, *model.input_shape[1:]), dtype=np.float32)
    return x, rng.integers(0, classes, SAMPLES)


def _assert_all_int8_and_runs_in_tflm(result) -> None:
    qat = result.mode("int8_qat")
    assert qat.inputs[0].dtype == "int8" and qat.outputs[0].dtype == "int8"
    assert "DEQUANTIZE" not in qat.ops
    check = result.qat.tflm
    assert check.runs and not check.reason
    # differences only start at FULLY_CONNECTED rounding ties (one step; see NOTES.md)
    assert all(first.op == "FULLY_CONNECTED" and first.max_abs_difference == 1
               for first in check.first_differences)  # fmt: skip


@pytest.mark.parametrize(
    ("builder", "classes"),
    [(resnet8_style, 3), (dscnn_style, 3), (mobilenet_style, 2), (sequential_mlp, 3), (functional_mlp, 3)],
)
def test_qat_trains_and_converts_keras2_h5_models_to_int8_that_run_in_tflm(tmp_path, builder, classes):
    tf_keras.utils.set_random_seed(0)
    model = builder()
    x, y = _classification_data(model, classes)
    path, data = _save(model, tmp_path, builder.__name__, x, y)
    result = edgeq.qat(path, train=data, eval=data, epochs=1, batch_size=8, calib_samples=8, verbose=0)
    _assert_all_int8_and_runs_in_tflm(result)
    assert result.qat.task == "classification" and "accuracy" in result.qat.history
    assert result.mode("int8_qat").evaluation.top1 is not None
    if builder in (resnet8_style, dscnn_style, mobilenet_style):
        assert any(layer.fused and layer.fused[0].startswith("batch_normalization")
                   for layer in result.qat.layers)  # fmt: skip


def test_qat_on_an_autoencoder_trains_on_a_regression_loss_and_reports_rel_l2(tmp_path):
    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((32,))
    x = inputs
    for units in (16, 4, 16):
        x = _bn_relu(layers.Dense(units)(x))
    model = tf_keras.Model(inputs, layers.Dense(32)(x))
    features = np.random.default_rng(1).random((SAMPLES, 32), dtype=np.float32)
    path, data = _save(model, tmp_path, "autoencoder", features, features)
    result = edgeq.qat(path, train=data, eval=data, epochs=1, batch_size=8, calib_samples=8, verbose=0)
    _assert_all_int8_and_runs_in_tflm(result)
    report = result.qat
    assert report.task == "regression" and "regression" in report.loss and "cross-entropy" not in report.loss
    assert set(report.history) == {"loss", "relative_l2"}
    for mode in result.modes:
        assert mode.evaluation.top1 is None and mode.evaluation.agreement is None
        assert 0 < mode.evaluation.outputs[0].relative_l2 < 1
    assert report.to_dict()["task"] == "regression"


def test_qat_prints_plain_progress_lines_into_a_pipe_and_names_unsupported_layers(capfd, tmp_path):
    x, y = np.random.default_rng(0).random((SAMPLES, 10), dtype=np.float32), np.arange(SAMPLES) % 3
    path, data = _save(sequential_mlp(), tmp_path, "mlp", x, y)
    assert run(["qat", str(path), "--train", str(data), "--epochs", "2", "-o", str(tmp_path / "o")]) == 0
    out = capfd.readouterr().out
    assert "\x1b" not in out and "\r" not in out  # captured stdout is not a terminal
    assert out.count("Epoch ") == 2 and "loss:" in out

    inputs = tf_keras.Input((8,))
    model = tf_keras.Model(inputs, layers.Dense(3)(layers.LayerNormalization(name="norm")(inputs)))
    path, data = _save(model, tmp_path, "norm", x[:, :8], y)
    assert run(["qat", str(path), "--train", str(data), "-o", str(tmp_path / "n")]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: edgeq qat cannot handle layer 'norm' (LayerNormalization)")
    assert "Traceback" not in "\n".join(err)
