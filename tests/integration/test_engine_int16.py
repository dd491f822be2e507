"""int16x8 models (int16 activations, int8 weights, int64 biases): randomized Keras layers
converted with the real TFLiteConverter, the generated C engine against TFLite Micro, byte for
byte, on 10 random inputs each (int16 I/O, and float32 I/O with QUANTIZE / DEQUANTIZE at the
ends); and what TFLM refuses on int16, refused by name."""

from __future__ import annotations

import numpy as np
from engine_cases import Case, calibration_range, check_cases, failures, keras_module

from edgeq.engine.ops import int16, int16_layers  # noqa: F401  (registers the int16 lowerings)

ACTIVATIONS = (None, "relu", "relu6")


def _model(shape: tuple[int, ...], *layers):
    """A Keras model of ``layers`` (each a function of the keras module) after an input of
    ``shape`` (batch 1)."""

    def build():
        keras = keras_module()
        x = keras.Input(batch_shape=(1, *shape))
        y = x
        for layer in layers:
            y = layer(keras)(y)
        return keras.Model(x, y)

    return build


def _layer(name: str, *args, **kwargs):
    return lambda keras: getattr(keras.layers, name)(*args, **kwargs)


def layer_cases(seed: int) -> list[Case]:
    """Convolutions (strides, dilation, SAME / VALID, depth multiplier 1 and 2, separable, 1D),
    dense (1D and rank 3, fused activations), transposed convolutions, pooling, MEAN, BN."""
    rng = np.random.default_rng(seed)
    cases = []

    def add(name: str, build, opcodes: tuple[str, ...]) -> None:
        low, high = calibration_range(rng)
        io = "float32" if rng.random() < 0.25 else "int16"
        cases.append(
            Case(f"{name}_{len(cases)}", build, io=io, low=low, high=high, opcodes=opcodes, mode="int16x8")
        )

    def size() -> int:
        return int(rng.integers(3, 9))

    def act():
        return ACTIVATIONS[int(rng.integers(0, 3))]

    def padding() -> str:
        return str(rng.choice(["same", "valid"]))

    for _ in range(2):
        kernel, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        conv = _layer(
            "Conv2D", int(rng.integers(1, 6)), kernel, strides=stride, padding=padding(), activation=act()
        )
        add("conv2d", _model((size() + 2, size() + 2, int(rng.integers(1, 4))), conv), ("CONV_2D",))
    dilated = _layer("Conv2D", int(rng.integers(1, 5)), 3, dilation_rate=2, padding=padding())
    add("conv2d_dilated", _model((size() + 4, size() + 4, 2), dilated), ("CONV_2D",))
    conv1d = _layer("Conv1D", int(rng.integers(1, 6)), int(rng.integers(1, 4)), strides=int(rng.integers(1, 3)),
                    padding=padding(), dilation_rate=1)  # fmt: skip
    add("conv1d", _model((size() + 4, int(rng.integers(1, 5))), conv1d), ("CONV_2D",))
    for multiplier in (1, 2):
        depthwise = _layer("DepthwiseConv2D", int(rng.integers(2, 4)), strides=int(rng.integers(1, 3)),
                           depth_multiplier=multiplier, padding=padding(), activation=act())  # fmt: skip
        add(f"depthwise_x{multiplier}", _model((size() + 2, size() + 2, int(rng.integers(1, 5))), depthwise),
            ("DEPTHWISE_CONV_2D",))  # fmt: skip
    separable = _layer("SeparableConv2D", int(rng.integers(1, 6)), 3, padding="same", activation=act())
    add("separable", _model((size(), size(), 3), separable), ("DEPTHWISE_CONV_2D", "CONV_2D"))
    dense = _layer("Dense", int(rng.integers(1, 12)), activation=act())
    add("dense", _model((int(rng.integers(1, 40)),), dense, _layer("Dense", int(rng.integers(1, 8)))),
        ("FULLY_CONNECTED",))  # fmt: skip
    add(
        "dense_rank3",
        _model((size(), size()), _layer("Dense", int(rng.integers(1, 8)))),
        ("FULLY_CONNECTED",),
    )
    for pad in ("same", "valid"):
        transposed = _layer("Conv2DTranspose", int(rng.integers(1, 5)), int(rng.integers(2, 4)),
                            strides=int(rng.integers(1, 3)), padding=pad, activation=act())  # fmt: skip
        add(f"conv2d_transpose_{pad}", _model((size(), size(), int(rng.integers(1, 4))), transposed),
            ("TRANSPOSE_CONV",))  # fmt: skip
    for name, opcode in (("MaxPooling2D", "MAX_POOL_2D"), ("AveragePooling2D", "AVERAGE_POOL_2D")):
        pooling = _layer(name, int(rng.integers(2, 4)), strides=int(rng.integers(1, 3)), padding=padding())
        add(name.lower(), _model((size() + 2, size() + 2, int(rng.integers(1, 4))), pooling), (opcode,))
    pool1d = _layer("AveragePooling1D", 2, padding="same")
    add("avgpool1d", _model((size() + 3, 2), pool1d), ("AVERAGE_POOL_2D",))
    add("global_average", _model((size(), size(), 3), _layer("GlobalAveragePooling2D")), ("MEAN",))
    add("global_average1d", _model((size() + 2, 4), _layer("GlobalAveragePooling1D")), ("MEAN",))
    batch_norm = _layer("BatchNormalization", beta_initializer="ones", gamma_initializer="random_uniform")
    add("batch_norm", _model((size(), 4), batch_norm), ("MUL",))
    return cases


def _two_inputs(shape1: tuple[int, ...], shape2: tuple[int, ...], combine):
    def build():
        keras = keras_module()
        a, b = keras.Input(batch_shape=(1, *shape1)), keras.Input(batch_shape=(1, *shape2))
        return keras.Model([a, b], combine(keras, a, b))

    return build


def _dense_then(width: int, activation: str):
    """Dense (int16 output of a calibrated scale, not a power of two) then an activation."""
    return _model((6,), _layer("Dense", width), _layer("Activation", activation))


def elementwise_cases(seed: int) -> list[Case]:
    """ADD, SUB, MUL (same shapes and broadcast), MAXIMUM / MINIMUM, Average, activations on the
    model input and after Dense, SOFTMAX, LEAKY_RELU, silu and hard_sigmoid."""
    rng = np.random.default_rng(seed)
    cases = []

    def add(name: str, build, opcodes: tuple[str, ...]) -> None:
        low, high = calibration_range(rng)
        io = "float32" if rng.random() < 0.25 else "int16"
        cases.append(
            Case(f"{name}_{len(cases)}", build, io=io, low=low, high=high, opcodes=opcodes, mode="int16x8")
        )

    def shape() -> tuple[int, ...]:
        return tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4))))

    binary = (("Add", "ADD"), ("Subtract", "SUB"), ("Multiply", "MUL"), ("Maximum", "MAXIMUM"),
              ("Minimum", "MINIMUM"))  # fmt: skip
    for name, opcode in binary:
        full = shape()
        add(
            name.lower(),
            _two_inputs(full, full, lambda k, a, b, n=name: getattr(k.layers, n)()([a, b])),
            (opcode,),
        )
    for opcode, op in (("ADD", "add"), ("MUL", "multiply"), ("SUB", "subtract")):
        full = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        small = (1, full[1]) if rng.random() < 0.5 else (full[0], 1)
        add(
            f"{op}_broadcast",
            _two_inputs(full, small, lambda k, a, b, f=op: getattr(k.ops, f)(a, b)),
            (opcode,),
        )
    average = _two_inputs((4, 3), (4, 3), lambda k, a, b: k.layers.Average()([a, b]))
    add("average", average, ("ADD", "MUL"))
    fused = _two_inputs((5,), (5,), lambda k, a, b: k.layers.ReLU()(k.layers.Add()([a, b])))
    add("add_relu", fused, ("ADD",))
    for activation, opcode in (("sigmoid", "LOGISTIC"), ("tanh", "TANH"), ("softmax", "SOFTMAX")):
        add(f"{activation}_input", _model(shape(), _layer("Activation", activation)), (opcode,))
        add(f"{activation}_dense", _dense_then(int(rng.integers(2, 9)), activation), (opcode,))
    add("softmax_layer", _model((3, int(rng.integers(2, 12))), _layer("Softmax")), ("SOFTMAX",))
    add("leaky_relu", _model(shape(), _layer("LeakyReLU", negative_slope=float(rng.uniform(0.05, 0.5)))),
        ("LEAKY_RELU",))  # fmt: skip
    add("relu", _model(shape(), _layer("ReLU")), ("RELU",))
    add("relu6", _model(shape(), _layer("ReLU", 6.0)), ("RELU6",))
    add("silu", _dense_then(5, "silu"), ("LOGISTIC", "MUL"))
    add("hard_sigmoid", _dense_then(5, "hard_sigmoid"), ("FULLY_CONNECTED", "MUL"))
    return cases


LAYER_CASES = layer_cases(16)
ELEMENTWISE_CASES = elementwise_cases(61)


def test_int16_layers_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(LAYER_CASES, tmp_path)
    assert len(outcomes) == len(LAYER_CASES)
    assert failures(outcomes) == []


def test_int16_elementwise_ops_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(ELEMENTWISE_CASES, tmp_path)
    assert len(outcomes) == len(ELEMENTWISE_CASES)
    assert failures(outcomes) == []


def test_softmax_tables_span_exp_and_reciprocal():
    """TFLM's int16 softmax tables: exp(x) for x in [-10, 0] and 1 / (1 + x) for x in [0, 1],
    in Q0.15 (about 2**-15 resolution, with TFLM's midpoint correction)."""
    from edgeq.engine.ops.int16 import softmax_tables

    exp_table, reciprocal_table = softmax_tables()
    assert len(exp_table) == len(reciprocal_table) == 513
    points = np.linspace(0.0, 1.0, 513)
    assert exp_table[-1] == 32767 and reciprocal_table[0] == 32767 and reciprocal_table[-1] == 16384
    assert np.abs(np.array(exp_table) / 32768 - np.exp(-10 + 10 * points)).max() < 1e-4
    assert np.abs(np.array(reciprocal_table) / 32768 - 1 / (1 + points)).max() < 1e-4


def _graph(op, tensors):
    from edgeq.tflite.graph import Subgraph

    return Subgraph("main", tuple(tensors), (op,), (0,), (len(tensors) - 1,))


def test_what_tflm_refuses_on_int16_is_refused_by_name():
    import pytest

    from edgeq.engine.lowering import Builder, find_lowering
    from edgeq.errors import UnsupportedError
    from edgeq.tflite.graph import Operator, Quantization, Tensor

    def tensor(index, shape, dtype, scale_value=2.0**-12, data=None):
        quantization = Quantization((scale_value,), (0,))
        return Tensor(index, f"t{index}", shape, shape, dtype, 0, quantization, False, data)

    def refused(opcode, tensors, inputs, options=()):
        op = Operator(0, opcode, 1, inputs, (len(tensors) - 1,), options)
        subgraph = _graph(op, tensors)
        _, lower = find_lowering(subgraph, op)
        with pytest.raises(UnsupportedError) as caught:
            lower(Builder(subgraph, "m", lambda i: 0), op)
        return str(caught.value)

    # LOGISTIC's output must be in Q0.15
    message = refused("LOGISTIC", [tensor(0, (1, 4), "int16"), tensor(1, (1, 4), "int16", 2.0**-10)], (0,))
    assert "TFLM's int16 LOGISTIC requires 2**-15" in message
    # DEPTHWISE_CONV_2D reads its bias as int64
    weights = tensor(1, (1, 1, 1, 2), "int8", 0.1, bytes(2))
    bias = tensor(2, (2,), "int32", 1.0, bytes(8))
    options = (("padding", "VALID"), ("stride_w", 1), ("stride_h", 1), ("depth_multiplier", 1))
    tensors = [tensor(0, (1, 2, 2, 2), "int16"), weights, bias, tensor(3, (1, 2, 2, 2), "int16")]
    message = refused("DEPTHWISE_CONV_2D", tensors, (0, 1, 2), options)
    assert "reads its bias as int64" in message
    # MUL needs zero points of 0
    odd = Tensor(1, "t1", (1, 4), (1, 4), "int16", 0, Quantization((0.1,), (3,)), False)
    message = refused("MUL", [tensor(0, (1, 4), "int16"), odd, tensor(2, (1, 4), "int16")], (0, 1))
    assert "requires zero points of 0" in message
