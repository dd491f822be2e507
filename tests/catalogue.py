"""A catalogue of the Keras layers users build, as tiny batch-1 models (the way ``edgeq convert``
converts them: batch fixed to 1), for checking the C engine against TensorFlow Lite Micro.

Each entry builds a Keras 3 model that exercises one layer (or one family) the way user code
writes it: Conv1D/2D with dilation, depthwise and separable convolutions, transposed convolution,
Dense on rank 2 and 3, normalization layers, every Keras activation, pooling, reshaping,
cropping, padding, resizing, merging layers, Embedding, unrolled recurrent layers, ArgMax, and a
model with several inputs and outputs. Weights are Keras's seeded initial weights (the caller
sets the seed): the numbers do not matter, the ops and their constants do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# every activation Keras 3 offers by name (keras.activations), each after a Dense
# every activation keras.activations names that Activation(name) builds (swish and hard_swish
# are silu and hard_silu; threshold needs its arguments)
ACTIVATIONS = (
    "relu", "relu6", "sigmoid", "tanh", "softmax", "softplus", "softsign", "selu", "elu", "exponential",
    "leaky_relu", "silu", "gelu", "hard_sigmoid", "hard_silu", "linear", "mish", "log_softmax",
    "celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus",
    "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink",
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One catalogue model: ``build(keras)`` returns it; ``vocabulary`` > 0 for integer inputs
    (indices in [0, vocabulary))."""

    name: str
    build: Callable[[Any], Any]
    vocabulary: int = 0


def _seq(
    shape: tuple[int, ...], *layers: Callable[[Any], Any], dtype: str = "float32"
) -> Callable[[Any], Any]:
    def build(keras: Any) -> Any:
        x = keras.Input(batch_shape=(1, *shape), dtype=dtype)
        y = x
        for layer in layers:
            y = layer(keras.layers)(y)
        return keras.Model(x, y)

    return build


def _merge(kind: str) -> Callable[[Any], Any]:
    def build(keras: Any) -> Any:
        layers = keras.layers
        x = keras.Input(batch_shape=(1, 6))
        a, b = layers.Dense(5)(x), layers.Dense(5, activation="relu")(x)
        return keras.Model(x, getattr(layers, kind)()([a, b]))

    return build


def _concatenate(keras: Any) -> Any:
    layers = keras.layers
    a, b = keras.Input(batch_shape=(1, 6), name="left"), keras.Input(batch_shape=(1, 4), name="right")
    return keras.Model(
        [a, b], layers.Dense(3)(layers.Concatenate()([layers.Dense(5)(a), layers.Dense(3)(b)]))
    )


def _multi_io(keras: Any) -> Any:
    layers = keras.layers
    features = keras.Input(batch_shape=(1, 6), name="features")
    image = keras.Input(batch_shape=(1, 5, 5, 2), name="image")
    pooled = layers.GlobalAveragePooling2D()(layers.Conv2D(3, 3, activation="relu")(image))
    joined = layers.Concatenate()([layers.Dense(4, activation="relu")(features), pooled])
    return keras.Model(
        [features, image], [layers.Dense(3, name="label")(joined), layers.Dense(1, name="score")(joined)]
    )


def _argmax(keras: Any) -> Any:
    x = keras.Input(batch_shape=(1, 10))
    return keras.Model(x, keras.ops.argmax(keras.layers.Dense(5)(x), axis=-1))


def _argmax_lambda(keras: Any) -> Any:
    """ArgMax the way Keras 3 users get a TFLite ARG_MAX: ``keras.ops.argmax`` converts to a
    BitwiseAnd the converter cannot write, so a Lambda around ``tf.argmax``."""
    import tensorflow as tf

    x = keras.Input(batch_shape=(1, 10))
    scores = keras.layers.Dense(5)(x)
    return keras.Model(x, keras.layers.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(scores))


def _embedding_tf_keras(keras: Any) -> Any:
    """A legacy Keras 2 (tf_keras) Embedding: a plain GATHER of the table (Keras 3's Embedding adds
    negative-index wrapping, a SELECT that TFLM has no kernel for)."""
    import tf_keras

    layers = tf_keras.layers
    tokens = tf_keras.Input(batch_shape=(1, 7), dtype="int32")
    vectors = layers.Embedding(20, 4)(tokens)
    return tf_keras.Model(tokens, layers.Dense(3)(layers.Flatten()(vectors)))


def _activation(name: str) -> Entry:
    return Entry(f"activation_{name}", _seq((12,), lambda L: L.Dense(10), lambda L, n=name: L.Activation(n)))


CATALOGUE: tuple[Entry, ...] = (
    Entry("conv1d_dilated", _seq((32, 4), lambda L: L.Conv1D(6, 3, dilation_rate=2, padding="same", activation="relu"))),
    Entry("conv1d_strided", _seq((31, 3), lambda L: L.Conv1D(5, 4, strides=2))),
    Entry("conv2d_dilated", _seq((12, 12, 3), lambda L: L.Conv2D(5, 3, dilation_rate=2, padding="same"))),
    Entry("conv2d", _seq((9, 9, 3), lambda L: L.Conv2D(4, 3, strides=2, padding="same", activation="relu6"))),
    Entry("depthwise_conv1d", _seq((20, 4), lambda L: L.DepthwiseConv1D(3, padding="same"), lambda L: L.ReLU())),
    Entry("depthwise_conv2d", _seq((10, 10, 4), lambda L: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"))),
    Entry("separable_conv2d", _seq((10, 10, 3), lambda L: L.SeparableConv2D(6, 3, padding="same", activation="relu"))),
    Entry("separable_conv1d", _seq((16, 3), lambda L: L.SeparableConv1D(6, 3))),
    Entry("conv2d_transpose", _seq((6, 6, 4), lambda L: L.Conv2DTranspose(3, 3, strides=2, padding="same"))),
    Entry("conv2d_transpose_valid", _seq((5, 5, 4), lambda L: L.Conv2DTranspose(3, 3, strides=2, activation="relu"))),
    Entry("dense", _seq((10,), lambda L: L.Dense(8, activation="relu"), lambda L: L.Dense(4))),
    Entry("dense_rank3", _seq((5, 10), lambda L: L.Dense(8))),
    Entry("batch_normalization", _seq((6, 6, 3), lambda L: L.BatchNormalization())),
    Entry("layer_normalization", _seq((8, 6), lambda L: L.LayerNormalization())),
    Entry("unit_normalization", _seq((8,), lambda L: L.Dense(6), lambda L: L.UnitNormalization())),
    *(_activation(name) for name in ACTIVATIONS),
    Entry("prelu_shared", _seq((6, 6, 3), lambda L: L.Conv2D(4, 3), lambda L: L.PReLU(shared_axes=[1, 2]))),
    Entry("prelu", _seq((8,), lambda L: L.Dense(6), lambda L: L.PReLU())),
    Entry("elu_layer", _seq((8,), lambda L: L.Dense(6), lambda L: L.ELU())),
    Entry("leaky_relu_layer", _seq((8,), lambda L: L.Dense(6), lambda L: L.LeakyReLU(0.2))),
    Entry("softmax_layer", _seq((4, 6), lambda L: L.Softmax())),
    Entry("max_pooling1d", _seq((16, 3), lambda L: L.MaxPooling1D(2))),
    Entry("average_pooling1d", _seq((16, 3), lambda L: L.AveragePooling1D(2))),
    Entry("max_pooling2d", _seq((8, 8, 3), lambda L: L.MaxPooling2D(2))),
    Entry("average_pooling2d", _seq((8, 8, 3), lambda L: L.AveragePooling2D(3, strides=2, padding="same"))),
    Entry("global_average_pooling1d", _seq((16, 3), lambda L: L.GlobalAveragePooling1D())),
    Entry("global_max_pooling1d", _seq((16, 3), lambda L: L.GlobalMaxPooling1D())),
    Entry("global_average_pooling2d", _seq((6, 6, 3), lambda L: L.GlobalAveragePooling2D())),
    Entry("global_max_pooling2d", _seq((6, 6, 3), lambda L: L.GlobalMaxPooling2D())),
    Entry("flatten", _seq((4, 4, 3), lambda L: L.Flatten(), lambda L: L.Dense(5))),
    Entry("reshape", _seq((12,), lambda L: L.Dense(12), lambda L: L.Reshape((3, 4)))),
    Entry("permute", _seq((4, 6, 3), lambda L: L.Permute((2, 1, 3)))),
    Entry("permute_rank2", _seq((4, 6), lambda L: L.Permute((2, 1)))),
    Entry("cropping1d", _seq((10, 3), lambda L: L.Cropping1D((1, 2)))),
    Entry("cropping2d", _seq((8, 8, 3), lambda L: L.Cropping2D(((1, 2), (2, 1))))),
    Entry("zero_padding1d", _seq((10, 3), lambda L: L.ZeroPadding1D(2))),
    Entry("zero_padding2d", _seq((6, 6, 3), lambda L: L.ZeroPadding2D(1))),
    Entry("upsampling1d", _seq((6, 3), lambda L: L.UpSampling1D(2))),
    Entry("upsampling2d_nearest", _seq((4, 4, 3), lambda L: L.UpSampling2D(2))),
    Entry("upsampling2d_bilinear", _seq((4, 4, 3), lambda L: L.UpSampling2D(2, interpolation="bilinear"))),
    Entry("resizing_nearest", _seq((5, 5, 3), lambda L: L.Resizing(8, 7, interpolation="nearest"))),
    Entry("resizing_bilinear", _seq((5, 5, 3), lambda L: L.Resizing(8, 7, interpolation="bilinear"))),
    Entry("concatenate", _concatenate),
    *(Entry(kind.lower(), _merge(kind)) for kind in ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average")),
    Entry("embedding", _seq((7,), lambda L: L.Embedding(20, 4), lambda L: L.Flatten(), lambda L: L.Dense(3), dtype="int32"), vocabulary=20),
    Entry("embedding_tf_keras", _embedding_tf_keras, vocabulary=20),
    Entry("simple_rnn", _seq((5, 3), lambda L: L.SimpleRNN(4, unroll=True))),
    Entry("gru", _seq((5, 3), lambda L: L.GRU(4, unroll=True))),
    Entry("lstm", _seq((5, 3), lambda L: L.LSTM(4, unroll=True))),
    Entry("lstm_sequences", _seq((4, 3), lambda L: L.LSTM(4, unroll=True, return_sequences=True))),
    Entry("argmax", _argmax),
    Entry("argmax_lambda", _argmax_lambda),
    Entry("multi_io", _multi_io),
)  # fmt: skip
