"""The four MLPerf Tiny reference architectures, rebuilt in Keras 3 with random weights.

They are for size, memory and speed work (converted size, arena size, latency), not accuracy: no
trained weights are shipped or downloaded. Layouts follow the MLPerf Tiny training scripts, except
that dropout and weight regularizers are left out because neither survives conversion, and global
average pooling is an AveragePooling2D over the whole feature map so the .tflite file uses
AVERAGE_POOL_2D (supported by every TFLite Micro port) rather than MEAN.

Kernels are He-initialised rather than Keras' Glorot default. Untrained, Glorot depthwise kernels
shrink activations about tenfold per block, so VWW's last layers carry values near 1e-9; int8
calibration then picks degenerate scales, and LiteRT's reference SOFTMAX kernel aborts the process
on them. He scaling keeps activations of order one through every layer, as in a trained model.
"""

from __future__ import annotations

from typing import Any


def _keras(seed: int | None) -> Any:
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    return keras


def _conv(keras: Any, filters: int, kernel: int | tuple[int, int], name: str, **options: Any) -> Any:
    return keras.layers.Conv2D(filters, kernel, kernel_initializer="he_normal", name=name, **options)


def _depthwise(keras: Any, name: str, strides: int = 1) -> Any:
    # Keras counts a depthwise kernel's fan-in as kh * kw * channels, but each output sums only
    # kh * kw inputs; that is the "fan_out" count of a (kh, kw, channels, 1) kernel.
    initializer = keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="truncated_normal")
    return keras.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", depthwise_initializer=initializer, name=name
    )


def _dense(keras: Any, units: int, name: str, activation: str | None = None) -> Any:
    return keras.layers.Dense(units, activation=activation, kernel_initializer="he_normal", name=name)


def _bn_relu(keras: Any, x: Any, name: str) -> Any:
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def kws_dscnn(seed: int | None = 0) -> Any:
    """Keyword spotting DS-CNN: (49, 10, 1) MFCC features in, 12 softmax outputs.

    A random-weight version of the MLPerf Tiny KWS model for size, memory and speed work, not
    trained. 24,908 parameters (2,304 of them in BatchNorm layers, which fold away at conversion).
    """
    keras = _keras(seed)
    inputs = keras.Input((49, 10, 1), name="mfcc")
    x = _conv(keras, 64, (10, 4), "conv", strides=(2, 2), padding="same")(inputs)
    x = _bn_relu(keras, x, "conv")
    for block in range(1, 5):
        x = _bn_relu(keras, _depthwise(keras, f"dw{block}")(x), f"dw{block}")
        x = _bn_relu(keras, _conv(keras, 64, 1, f"pw{block}")(x), f"pw{block}")
    x = keras.layers.AveragePooling2D(pool_size=(25, 5), name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = _dense(keras, 12, "probabilities", activation="softmax")(x)
    return keras.Model(inputs, outputs, name="kws_dscnn")


# (pointwise filters, stride) of MobileNetV1's 13 depthwise-separable blocks at alpha = 0.25.
_MOBILENET_BLOCKS = (
    (16, 1),
    (32, 2),
    (32, 1),
    (64, 2),
    (64, 1),
    (128, 2),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (128, 1),
    (256, 2),
    (256, 1),
)


def vww_mobilenet(seed: int | None = 0) -> Any:
    """Visual wake words MobileNetV1 (alpha 0.25): (96, 96, 3) images scaled to 0..1, 2 softmax outputs.

    A random-weight version of the MLPerf Tiny VWW model for size, memory and speed work, not
    trained. 221,794 parameters (10,944 of them in BatchNorm layers, which fold away at conversion).
    """
    keras = _keras(seed)
    inputs = keras.Input((96, 96, 3), name="image")
    # "same" padding on the strided convolutions, as in the MLPerf script: Keras' own MobileNet pads
    # explicitly, which would add PAD ops to the converted model.
    x = _bn_relu(keras, _conv(keras, 8, 3, "conv", strides=2, padding="same")(inputs), "conv")
    for block, (filters, stride) in enumerate(_MOBILENET_BLOCKS, start=1):
        x = _bn_relu(keras, _depthwise(keras, f"dw{block}", strides=stride)(x), f"dw{block}")
        x = _bn_relu(keras, _conv(keras, filters, 1, f"pw{block}")(x), f"pw{block}")
    x = keras.layers.AveragePooling2D(pool_size=(3, 3), name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = _dense(keras, 2, "probabilities", activation="softmax")(x)
    return keras.Model(inputs, outputs, name="vww_mobilenet")


def ic_resnet8(seed: int | None = 0) -> Any:
    """Image classification ResNet-8 for CIFAR-10: (32, 32, 3) images scaled to 0..1, 10 softmax outputs.

    A random-weight version of the MLPerf Tiny IC model for size, memory and speed work, not
    trained. 78,666 parameters (960 of them in BatchNorm layers, which fold away at conversion).
    """
    keras = _keras(seed)
    inputs = keras.Input((32, 32, 3), name="image")
    x = _bn_relu(keras, _conv(keras, 16, 3, "conv", padding="same")(inputs), "conv")
    for stack, (filters, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        name = f"stack{stack}"
        y = _conv(keras, filters, 3, f"{name}_conv1", strides=stride, padding="same")(x)
        y = _bn_relu(keras, y, f"{name}_conv1")
        y = _conv(keras, filters, 3, f"{name}_conv2", padding="same")(y)
        y = keras.layers.BatchNormalization(name=f"{name}_conv2_bn")(y)
        if stride != 1:
            # The shortcut must change shape as well: a strided 1x1 conv, as in the MLPerf script.
            x = _conv(keras, filters, 1, f"{name}_shortcut", strides=stride)(x)
        x = keras.layers.Add(name=f"{name}_add")([x, y])
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    x = keras.layers.AveragePooling2D(pool_size=8, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = _dense(keras, 10, "probabilities", activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ic_resnet8")


def ad_autoencoder(seed: int | None = 0) -> Any:
    """Anomaly detection dense autoencoder: (640,) log-mel features in, their (640,) reconstruction out.

    A random-weight version of the MLPerf Tiny AD model for size, memory and speed work, not
    trained. 269,992 parameters (4,128 of them in BatchNorm layers, which fold away at conversion).
    """
    keras = _keras(seed)
    inputs = keras.Input((640,), name="features")
    x = inputs
    for index, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128), start=1):
        x = _bn_relu(keras, _dense(keras, units, f"dense{index}")(x), f"dense{index}")
    outputs = _dense(keras, 640, "reconstruction")(x)
    return keras.Model(inputs, outputs, name="ad_autoencoder")
