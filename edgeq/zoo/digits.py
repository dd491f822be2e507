"""A small CNN for the 8x8 UCI digits (datasets/digits.npz): conv, depthwise, pooling and dense."""

from __future__ import annotations

from typing import Any


def digits_cnn() -> Any:
    """An untrained Keras model: (8, 8, 1) float inputs scaled to 0..1, 10 softmax outputs.

    About 85 K parameters, most in the first dense layer. Converted, it uses CONV_2D,
    DEPTHWISE_CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED and SOFTMAX.
    """
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise")(x)
    x = layers.Conv2D(32, 1, activation="relu", name="pointwise")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dense(10, name="logits")(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
