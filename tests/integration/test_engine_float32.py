"""float32 kernels: Keras layers converted to float32 models (and two int8 models with float
islands), the generated C engine against TFLite Micro on 10 random inputs each, bit for bit
(tolerance 0: on the host the kernels repeat TFLM's float operations in its order, and both call
the same glibc expf / logf / tanhf / expm1f)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, check_cases, failures, keras_module, tf_layer


def _require_gcc() -> None:
    from conftest import require_tool

    require_tool("gcc")


def _model(shape: tuple[int, ...], body):
    """A Keras model of one input of ``shape`` (batch 1) whose output is ``body(keras, x)``."""

    def build():
        keras = keras_module()
        x = keras.Input(batch_shape=(1, *shape))
        return keras.Model(x, body(keras, x))

    return build


def _float(name: str, shape: tuple[int, ...], body, opcodes: tuple[str, ...], low=-1.0, high=1.0) -> Case:
    return Case(name, _model(shape, body), io="float32", mode="float32", opcodes=opcodes, low=low, high=high)


def layer_cases() -> list[Case]:
    return [
        _float(
            "conv_same_relu",
            (7, 6, 3),
            lambda k, x: k.layers.Conv2D(5, 3, padding="same", activation="relu")(x),
            ("CONV_2D",),
        ),
        _float(
            "conv_valid_stride2",
            (9, 8, 4),
            lambda k, x: k.layers.Conv2D(6, (3, 2), strides=2)(x),
            ("CONV_2D",),
        ),
        _float(
            "conv_dilated_same",
            (9, 9, 2),
            lambda k, x: k.layers.Conv2D(3, 3, dilation_rate=2, padding="same", activation="relu6")(x),
            ("CONV_2D",),
        ),
        _float(
            "conv_dilated_valid",
            (10, 9, 2),
            lambda k, x: k.layers.Conv2D(4, 3, dilation_rate=(2, 3), use_bias=False)(x),
            ("CONV_2D",),
        ),
        _float(
            "conv_groups",
            (6, 6, 4),
            lambda k, x: k.layers.Conv2D(6, 3, groups=2, padding="same")(x),
            ("CONV_2D",),
        ),
        _float(
            "conv1d_dilated",
            (16, 3),
            lambda k, x: k.layers.Conv1D(4, 3, dilation_rate=2, padding="causal")(x),
            ("CONV_2D",),
        ),
        _float(
            "depthwise_mult2_stride2",
            (8, 7, 3),
            lambda k, x: k.layers.DepthwiseConv2D(
                3, strides=2, depth_multiplier=2, padding="same", activation="relu"
            )(x),
            ("DEPTHWISE_CONV_2D",),
        ),
        _float(
            "depthwise_dilated",
            (9, 9, 4),
            lambda k, x: k.layers.DepthwiseConv2D(3, dilation_rate=2)(x),
            ("DEPTHWISE_CONV_2D",),
        ),
        _float(
            "separable",
            (8, 8, 3),
            lambda k, x: k.layers.SeparableConv2D(5, 3, padding="same")(x),
            ("DEPTHWISE_CONV_2D", "CONV_2D"),
        ),
        _float(
            "conv2d_transpose_same",
            (4, 5, 3),
            lambda k, x: k.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x),
            ("TRANSPOSE_CONV",),
        ),
        _float(
            "conv2d_transpose_valid",
            (3, 4, 2),
            lambda k, x: k.layers.Conv2DTranspose(3, (3, 2), strides=(2, 1), use_bias=False)(x),
            ("TRANSPOSE_CONV",),
        ),
        _float(
            "dense",
            (12,),
            lambda k, x: k.layers.Dense(5)(k.layers.Dense(9, activation="relu")(x)),
            ("FULLY_CONNECTED",),
        ),
        _float(
            "dense_rank3", (4, 6), lambda k, x: k.layers.Dense(5, use_bias=False)(x), ("FULLY_CONNECTED",)
        ),
        _float(
            "batchnorm",
            (5, 5, 3),
            lambda k, x: k.layers.BatchNormalization(
                beta_initializer="random_normal",
                gamma_initializer="random_normal",
                moving_mean_initializer="random_normal",
                moving_variance_initializer="ones",
            )(x),
            ("MUL",),
        ),
        _float(
            "layernorm",
            (4, 6),
            lambda k, x: k.layers.LayerNormalization()(k.layers.Dense(6)(x)),
            ("MEAN", "SQUARED_DIFFERENCE", "RSQRT"),
        ),
        _float(
            "unitnorm",
            (7,),
            lambda k, x: k.layers.UnitNormalization()(k.layers.Dense(5)(x)),
            ("SQUARE", "SUM", "RSQRT"),
        ),
        _float(
            "maxpool2d_same",
            (7, 6, 3),
            lambda k, x: k.layers.MaxPooling2D(3, strides=2, padding="same")(x),
            ("MAX_POOL_2D",),
        ),
        _float(
            "avgpool2d_same",
            (7, 5, 2),
            lambda k, x: k.layers.AveragePooling2D(3, strides=2, padding="same")(x),
            ("AVERAGE_POOL_2D",),
        ),
        _float("maxpool1d", (11, 3), lambda k, x: k.layers.MaxPooling1D(2)(x), ("MAX_POOL_2D",)),
        _float(
            "avgpool1d",
            (11, 3),
            lambda k, x: k.layers.AveragePooling1D(3, strides=2)(x),
            ("AVERAGE_POOL_2D",),
        ),
        _float("gap2d", (5, 6, 4), lambda k, x: k.layers.GlobalAveragePooling2D()(x), ("MEAN",)),
        _float(
            "gap1d_keepdims",
            (9, 3),
            lambda k, x: k.layers.GlobalAveragePooling1D(keepdims=True)(x),
            ("MEAN",),
        ),
        _float("mean_axes", (3, 4, 5), lambda k, x: k.ops.mean(x, axis=(1, 3), keepdims=False), ("MEAN",)),
        _float("sum_axis", (3, 4, 5), lambda k, x: k.ops.sum(x, axis=2, keepdims=True), ("SUM",)),
        _float("softmax", (6, 10), lambda k, x: k.layers.Softmax()(x), ("SOFTMAX",), low=-8.0, high=8.0),
        _float(
            "log_softmax",
            (10,),
            lambda k, x: k.layers.Activation("log_softmax")(k.layers.Dense(8)(x)),
            ("LOG_SOFTMAX",),
        ),
    ]


def test_float32_layers_equal_tflm_bit_for_bit(tmp_path):
    _require_gcc()
    cases = layer_cases()
    outcomes = check_cases(cases, tmp_path)
    assert len(outcomes) == len(cases)
    assert failures(outcomes) == []


def _dense_branch(k, x, shape: tuple[int, ...], activation=None):
    """A tensor of ``shape`` computed from the model input ``x`` by a dense layer."""
    units = 1
    for d in shape:
        units *= d
    flat = k.layers.Flatten()(x) if len(x.shape) > 2 else x
    return k.layers.Reshape(shape)(k.layers.Dense(units, activation=activation)(flat))


def _activation(name: str, opcodes: tuple[str, ...], low=-6.0, high=6.0) -> Case:
    return _float(f"act_{name}", (6,), lambda k, x: k.layers.Dense(8, activation=name)(x), opcodes, low, high)


def _squared_difference(k, a, b):
    import tensorflow as tf

    return tf_layer(tf.math.squared_difference)(a, b)


def _resize_v1(k, x, size, align_corners: bool, half_pixel_centers: bool):
    import tensorflow as tf

    def resize(t):
        return tf.compat.v1.image.resize_bilinear(
            t, size, align_corners=align_corners, half_pixel_centers=half_pixel_centers
        )

    return tf_layer(resize)(x)


def elementwise_cases() -> list[Case]:
    uniform = {"alpha_initializer": "random_uniform"}
    return [
        _activation("sigmoid", ("LOGISTIC",), -14.0, 22.0),
        _activation("tanh", ("TANH",)),
        _activation("softmax", ("SOFTMAX",)),
        _activation("softplus", ("EXP", "ADD", "LOG")),
        _activation("softsign", ("ABS", "DIV")),
        _activation("elu", ("ELU",)),
        _activation("exponential", ("EXP",), -3.0, 3.0),
        _activation("leaky_relu", ("LEAKY_RELU",)),
        _activation("silu", ("LOGISTIC", "MUL")),
        _activation("hard_sigmoid", ("FULLY_CONNECTED",)),
        _activation("hard_silu", ("HARD_SWISH",)),
        _activation("mish", ("EXP", "LOG", "TANH", "MUL")),
        _activation("log_softmax", ("LOG_SOFTMAX",)),
        _activation("relu6", ("FULLY_CONNECTED",)),
        _float("relu", (3, 5), lambda k, x: k.layers.ReLU()(x), ("RELU",)),
        _float("relu6", (3, 5), lambda k, x: k.layers.ReLU(6.0)(x), ("RELU6",), -8.0, 8.0),
        _float("leaky_relu_layer", (4, 3), lambda k, x: k.layers.LeakyReLU(0.15)(x), ("LEAKY_RELU",)),
        _float("elu_layer", (4, 3), lambda k, x: k.layers.ELU()(x), ("ELU",), -4.0, 3.0),
        _float("hard_swish", (12,), lambda k, x: k.layers.Activation("hard_silu")(x), ("HARD_SWISH",), -5, 5),
        _float("prelu", (4, 5, 3), lambda k, x: k.layers.PReLU(**uniform)(x), ("PRELU",)),
        _float(
            "prelu_shared",
            (4, 5, 3),
            lambda k, x: k.layers.PReLU(shared_axes=[1, 2], **uniform)(x),
            ("PRELU",),
        ),
        _float(
            "abs_neg_square",
            (2, 7),
            lambda k, x: k.ops.square(k.ops.negative(k.ops.abs(x)) * 1.5),
            ("ABS", "NEG", "SQUARE"),
        ),
        _float(
            "sqrt_log_rsqrt",
            (9,),
            lambda k, x: k.ops.sqrt(x) + k.ops.log(x) * k.ops.rsqrt(x),
            ("SQRT", "LOG", "RSQRT"),
            1.0,  # inputs from 0.25 (random inputs widen the range by a quarter): no NaN
            4.0,
        ),
        _float(
            "exp_tanh", (9,), lambda k, x: k.ops.tanh(k.ops.exp(x)) - x, ("EXP", "TANH", "SUB"), -3.0, 2.0
        ),
        _float(
            "add_sub_mul",
            (6,),
            lambda k, x: k.layers.Multiply()(
                [
                    k.layers.Add()([k.layers.Dense(5)(x), k.layers.Dense(5)(x)]),
                    k.layers.Subtract()([k.layers.Dense(5)(x), k.layers.Dense(5)(x)]),
                ]
            ),
            ("ADD", "SUB", "MUL"),
        ),
        _float(
            "maximum_minimum_average",
            (6,),
            lambda k, x: k.layers.Average()(
                [
                    k.layers.Maximum()([k.layers.Dense(4)(x), k.layers.Dense(4)(x)]),
                    k.layers.Minimum()([k.layers.Dense(4)(x), k.layers.Dense(4)(x)]),
                ]
            ),
            ("MAXIMUM", "MINIMUM", "ADD", "MUL"),
        ),
        _float(
            "add_relu_fused",
            (6,),
            lambda k, x: k.layers.ReLU()(k.layers.Add()([k.layers.Dense(4)(x), k.layers.Dense(4)(x)])),
            ("ADD",),
        ),
        _float(
            "broadcast_sub",
            (6,),
            lambda k, x: k.ops.subtract(_dense_branch(k, x, (3, 1, 4)), _dense_branch(k, x, (1, 5, 4))),
            ("SUB",),
        ),
        _float(
            "broadcast_div",
            (6,),
            lambda k, x: k.ops.divide(
                _dense_branch(k, x, (2, 3, 1)), k.ops.abs(_dense_branch(k, x, (3, 4))) + 1.0
            ),
            ("DIV",),
        ),
        _float(
            "broadcast_const_mul_sub",
            (4, 5),
            lambda k, x: (
                k.ops.reshape(k.ops.linspace(0.5, -1.0, 4), (4, 1)) - x * k.ops.linspace(-2.0, 3.0, 5)
            ),
            ("MUL", "SUB"),
        ),
        _float(
            "broadcast_max_min",
            (3, 4),
            lambda k, x: k.ops.minimum(
                k.ops.maximum(x, _dense_branch(k, x, (3, 1))), _dense_branch(k, x, (4,))
            ),
            ("MAXIMUM", "MINIMUM"),
        ),
        _float(
            "squared_difference_broadcast",
            (3, 4),
            lambda k, x: _squared_difference(k, x, _dense_branch(k, x, (1, 4))),
            ("SQUARED_DIFFERENCE",),
        ),
        _float("resizing_bilinear", (4, 5, 2), lambda k, x: k.layers.Resizing(7, 9)(x), ("RESIZE_BILINEAR",)),
        _float(
            "upsampling_bilinear",
            (3, 4, 3),
            lambda k, x: k.layers.UpSampling2D(2, interpolation="bilinear")(x),
            ("RESIZE_BILINEAR",),
        ),
        _float(
            "resize_align_corners",
            (4, 5, 2),
            lambda k, x: _resize_v1(k, x, (7, 3), True, False),
            ("RESIZE_BILINEAR",),
        ),
        _float(
            "resize_legacy",
            (5, 4, 2),
            lambda k, x: _resize_v1(k, x, (3, 9), False, False),
            ("RESIZE_BILINEAR",),
        ),
    ]


def test_float32_elementwise_and_activations_equal_tflm_bit_for_bit(tmp_path):
    _require_gcc()
    cases = elementwise_cases()
    outcomes = check_cases(cases, tmp_path)
    assert len(outcomes) == len(cases)
    assert failures(outcomes) == []


def test_float_island_of_an_int8_model_equals_tflm(tmp_path):
    """The converter keeps ELU float32 in an int8 model: DEQUANTIZE → ELU (float32), after an int8
    FULLY_CONNECTED."""
    _require_gcc()

    def build():
        keras = keras_module()
        x = keras.Input(batch_shape=(1, 10))
        return keras.Model(x, keras.layers.ELU()(keras.layers.Dense(12)(x)))

    cases = [Case("int8_dense_elu", build, io="float32", low=-3.0, high=3.0,
                  opcodes=("FULLY_CONNECTED", "DEQUANTIZE", "ELU"))]  # fmt: skip
    outcomes = check_cases(cases, tmp_path)
    assert failures(outcomes) == []


def test_float_islands_of_int8_normalizations_equal_tflm(tmp_path):
    """LayerNormalization (a float32 NEG between DEQUANTIZE and QUANTIZE) and UnitNormalization
    (a float32 SQUARE) in int8 models; their int8 ops are ops/arith*.py's."""
    _require_gcc()
    pytest.importorskip(
        "edgeq.engine.ops.arith", reason="the int8 SQUARED_DIFFERENCE / RSQRT / SUM lowerings"
    )
    pytest.importorskip("edgeq.engine.ops.arith_layers", reason="the int8 SUM lowering")

    def build(layer: str):
        def model():
            keras = keras_module()
            x = keras.Input(batch_shape=(1, 3, 8))
            dense = keras.layers.Dense(8)(x)
            norm = keras.layers.LayerNormalization() if layer == "layer" else keras.layers.UnitNormalization()
            return keras.Model(x, norm(dense))

        return model

    cases = [
        Case("int8_layernorm", build("layer"), opcodes=("DEQUANTIZE", "NEG", "QUANTIZE", "MEAN")),
        Case("int8_unitnorm", build("unit"), opcodes=("DEQUANTIZE", "SQUARE", "QUANTIZE", "SUM")),
    ]
    outcomes = check_cases(cases, tmp_path)
    assert failures(outcomes) == []


def test_float32_lowerings_refuse_what_tflm_refuses():
    from edgeq.engine.lowering import Builder, find_lowering
    from edgeq.errors import UnsupportedError
    from edgeq.tflite.graph import Operator, Subgraph, Tensor

    def refusal(opcode: str, shapes: list[tuple[int, ...]], dtypes: list[str], options=()) -> str:
        tensors = tuple(
            Tensor(i, f"t{i}", shape, shape, dtype, 0, None, False,
                   data=bytes(4 * int(np.prod(shape))) if dtype != "float32" or i == 1 else None)
            for i, (shape, dtype) in enumerate(zip(shapes, dtypes, strict=True))
        )  # fmt: skip
        op = Operator(0, opcode, 1, tuple(range(len(shapes) - 1)), (len(shapes) - 1,), tuple(options))
        subgraph = Subgraph("main", tensors, (op,), (0,), (len(shapes) - 1,))
        _, lower = find_lowering(subgraph, op)
        with pytest.raises(UnsupportedError) as error:
            lower(Builder(subgraph=subgraph, name="m", offsets=lambda index: 0), op)
        return str(error.value)

    conv = (("padding", "SAME"), ("stride_w", 1), ("stride_h", 1), ("fused_activation", "NONE"))
    hybrid = refusal(
        "CONV_2D", [(1, 4, 4, 2), (3, 3, 3, 2), (1, 4, 4, 3)], ["float32", "int8", "float32"], conv
    )
    assert "no hybrid models" in hybrid
    prelu = refusal("PRELU", [(1, 2, 2, 2, 2), (2, 2, 2, 2, 2), (1, 2, 2, 2, 2)], ["float32"] * 3)
    assert "TFLM's PRELU takes at most 4" in prelu
    tanh = refusal("ADD", [(1, 3), (1, 3), (1, 3)], ["float32"] * 3, [("fused_activation", "TANH")])
    assert "fused activation TANH" in tanh
