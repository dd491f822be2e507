"""The four MLPerf Tiny reference architectures, rebuilt in Keras 3 with random weights.

They are for size, memory and speed work (converted size, arena size, latency), not accuracy: no
trained weights are shipped or downloaded. Layouts follow the MLPerf Tiny training scripts, except
that dropout and weight regularizers are left out because neither survives conversion, and global
average pooling is an AveragePooling2D over the whole feature map so the .tflite file uses
AVERAGE_POOL_2D (supported by every TFLite Micro port) rather than MEAN.
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


def kws_dscnn(seed: int | None = 0) -> Any:
    """Keyword spotting DS-CNN: (49, 10, 1) MFCC features in, 12 softmax outputs.

    A random-weight version of the MLPerf Tiny KWS model for size, memory and speed work, not
    trained. 24,908 parameters (2,304 of them in BatchNorm layers, which fold away); the int8
    .tflite file is about 54 KB.
    """
    keras = _keras(seed)
    from keras import layers

    inputs = keras.Input((49, 10, 1), name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU(name="conv_relu")(x)
    for block in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", name=f"dw{block}")(x)
        x = layers.BatchNormalization(name=f"dw{block}_bn")(x)
        x = layers.ReLU(name=f"dw{block}_relu")(x)
        x = layers.Conv2D(64, 1, name=f"pw{block}")(x)
        x = layers.BatchNormalization(name=f"pw{block}_bn")(x)
        x = layers.ReLU(name=f"pw{block}_relu")(x)
    x = layers.AveragePooling2D(pool_size=(25, 5), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(12, activation="softmax", name="probabilities")(x)
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
    trained. 221,794 parameters (10,944 of them in BatchNorm layers, which fold away).
    """
    keras = _keras(seed)
    from keras import layers

    inputs = keras.Input((96, 96, 3), name="image")
    # "same" padding on the strided convolutions, as in the MLPerf script: Keras' own MobileNet pads
    # explicitly, which would add PAD ops to the converted model.
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU(name="conv_relu")(x)
    for block, (filters, stride) in enumerate(_MOBILENET_BLOCKS, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"dw{block}")(x)
        x = layers.BatchNormalization(name=f"dw{block}_bn")(x)
        x = layers.ReLU(name=f"dw{block}_relu")(x)
        x = layers.Conv2D(filters, 1, name=f"pw{block}")(x)
        x = layers.BatchNormalization(name=f"pw{block}_bn")(x)
        x = layers.ReLU(name=f"pw{block}_relu")(x)
    x = layers.AveragePooling2D(pool_size=x.shape[1:3], name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(2, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="vww_mobilenet")


def ic_resnet8(seed: int | None = 0) -> Any:
    """Image classification ResNet-8 for CIFAR-10: (32, 32, 3) images scaled to 0..1, 10 softmax outputs.

    A random-weight version of the MLPerf Tiny IC model for size, memory and speed work, not
    trained. 78,666 parameters (960 of them in BatchNorm layers, which fold away).
    """
    keras = _keras(seed)
    from keras import layers

    inputs = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU(name="conv_relu")(x)
    for stack, (filters, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        name = f"stack{stack}"
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_conv1")(x)
        y = layers.BatchNormalization(name=f"{name}_bn1")(y)
        y = layers.ReLU(name=f"{name}_relu1")(y)
        y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
        y = layers.BatchNormalization(name=f"{name}_bn2")(y)
        if stride != 1:
            # The shortcut must change shape too: a strided 1x1 conv, as in the MLPerf script.
            x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_shortcut")(x)
        x = layers.Add(name=f"{name}_add")([x, y])
        x = layers.ReLU(name=f"{name}_relu2")(x)
    x = layers.AveragePooling2D(pool_size=8, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="ic_resnet8")


def ad_autoencoder(seed: int | None = 0) -> Any:
    """Anomaly detection dense autoencoder: (640,) log-mel frames in, the (640,) reconstruction out.

    A random-weight version of the MLPerf Tiny AD model for size, memory and speed work, not
    trained. 269,992 parameters (4,128 of them in BatchNorm layers, which fold away).
    """
    keras = _keras(seed)
    from keras import layers

    inputs = keras.Input((640,), name="features")
    x = inputs
    for index, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128), start=1):
        x = layers.Dense(units, name=f"dense{index}")(x)
        x = layers.BatchNormalization(name=f"dense{index}_bn")(x)
        x = layers.ReLU(name=f"dense{index}_relu")(x)
    outputs = layers.Dense(640, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="ad_autoencoder")
