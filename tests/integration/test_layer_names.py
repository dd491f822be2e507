"""The per-layer report names each op by the Keras layer that owns its weights (or produced it),
plus the layers fused into it, checked against the models' real ``layer.name``s."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgeq.conversion.loading import load_model
from edgeq.conversion.sensitivity import CalibratedModel

KERAS2_DS_CNN = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tf_keras as k2
    L = k2.layers
    k2.utils.set_random_seed(5)
    inputs = L.Input((12, 10, 1))
    x = L.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(8, 1)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(0.2)(x)
    x = L.AveragePooling2D(pool_size=(6, 5))(x)
    x = L.Flatten()(x)
    outputs = L.Dense(4, activation="softmax")(x)
    k2.Model(inputs, outputs).save(sys.argv[1])
    """
)


def _names(path: Path) -> tuple[list[tuple[str, str | None, tuple[str, ...]]], list[str]]:
    """(op, keras_layer, fused_layers) per reported op, and the model's real layer names."""
    source = load_model(path)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(16, *source.inputs[0].shape[1:])).astype(np.float32)
    errors = CalibratedModel(source, x, x[:4]).layer_errors()
    return [(e.op, e.keras_layer, e.fused_layers) for e in errors], [
        layer.name for layer in source.keras_layers()
    ]


def _assert_each_layer_once(rows: list[tuple[str, str | None, tuple[str, ...]]], real: list[str]) -> None:
    named = [name for _, layer, fused in rows for name in (layer, *fused)]
    assert set(named) <= set(real)
    assert len(named) == len(set(named)), f"a layer named twice: {rows}"


def test_sequential_dense_layers_are_named_in_order(tmp_path):
    import keras

    layers = keras.layers
    model = keras.Sequential(
        [keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(16, activation="relu"),
         layers.Dense(4), layers.Softmax()]
    )  # fmt: skip
    model.save(tmp_path / "mlp.keras")
    rows, real = _names(tmp_path / "mlp.keras")
    dense, dense_1, dense_2, softmax = (layer.name for layer in model.layers)
    assert rows == [
        ("FULLY_CONNECTED", dense, ()),
        ("FULLY_CONNECTED", dense_1, ()),
        ("FULLY_CONNECTED", dense_2, ()),
        ("SOFTMAX", softmax, ()),
    ]
    _assert_each_layer_once(rows, real)


def test_resnet_block_names_convolutions_with_their_folded_batch_norm_and_activation(tmp_path):
    import keras

    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    stem = layers.Activation("relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(stem)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(8, 3, padding="same")(y)
    y = layers.BatchNormalization()(y)
    x = layers.Add()([stem, y])
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(10)(x)
    outputs = layers.Softmax()(x)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "resnet.keras")
    rows, real = _names(tmp_path / "resnet.keras")
    (_, conv, bn, relu, conv_1, bn_1, relu_1, conv_2, bn_2, add, relu_2, pool, dense, softmax) = (
        layer.name for layer in model.layers
    )
    assert rows == [
        ("CONV_2D", conv, (bn, relu)),
        ("CONV_2D", conv_1, (bn_1, relu_1)),
        ("CONV_2D", conv_2, (bn_2,)),
        ("ADD", add, (relu_2,)),
        ("MEAN", pool, ()),
        ("FULLY_CONNECTED", dense, ()),
        ("SOFTMAX", softmax, ()),
    ]
    _assert_each_layer_once(rows, real)


@pytest.fixture(scope="module")
def keras2_ds_cnn(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keras2") / "ds_cnn.h5"
    subprocess.run([sys.executable, "-c", KERAS2_DS_CNN, str(path)], check=True, capture_output=True)
    return path


def test_keras2_h5_ds_cnn_is_named_by_its_saved_layer_names(keras2_ds_cnn):
    rows, real = _names(keras2_ds_cnn)
    kind = {name: name.rstrip("_0123456789") for name in real}
    weighted = [(op, layer, fused) for op, layer, fused in rows if op in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert [(op, kind[layer]) for op, layer, _ in weighted] == [
        ("CONV_2D", "conv2d"), ("DEPTHWISE_CONV_2D", "depthwise_conv2d"), ("CONV_2D", "conv2d"),
    ]  # fmt: skip
    for _, layer, fused in weighted:
        assert [kind[name] for name in fused] == ["batch_normalization", "activation"]
        position = real.index(layer)
        assert list(fused) == real[position + 1 : position + 3]  # the BN and ReLU right after it
    by_op = {op: (layer, fused) for op, layer, fused in rows}
    assert kind[by_op["AVERAGE_POOL_2D"][0]] == "average_pooling2d"
    assert by_op["FULLY_CONNECTED"][0] == by_op["SOFTMAX"][0] == real[-1]  # Dense(activation="softmax")
    named = [name for op, layer, fused in rows if op != "SOFTMAX" for name in (layer, *fused)]
    assert len(named) == len(set(named))
