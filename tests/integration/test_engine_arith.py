"""int8 SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, PRELU, RSQRT, SUM, TRANSPOSE_CONV,
RESIZE_BILINEAR and LOG_SOFTMAX: randomized seeded configurations (shapes, broadcasting, constant
operands, calibration ranges, fused activations) and the Keras layers that produce them, the
generated C engine against TFLite Micro, byte for byte, on 10 random inputs each."""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, calibration_range, check_cases, failures, keras_module, tf_layer

import edgeq.engine.ops.arith_layers  # noqa: F401  (and ops.arith: registers them until ops/__init__ does)

ELEMENTWISE = ("SUB", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "PRELU", "RSQRT")


def _require_gcc() -> None:
    from conftest import require_tool

    require_tool("gcc")


def _branch(keras, x, shape: tuple[int, ...], activation=None):
    """A tensor of ``shape`` computed from the model input ``x`` by a dense layer."""
    flat = keras.layers.Flatten()(x) if len(x.shape) > 2 else x
    units = int(np.prod(shape))
    return keras.layers.Reshape(shape)(keras.layers.Dense(units, activation=activation)(flat))


def _broadcast_shape(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape (without the batch) that broadcasts to ``shape`` and differs from it, sometimes
    with fewer dimensions."""
    while True:
        ones = rng.random(len(shape)) < 0.5
        other = tuple(1 if m else d for d, m in zip(shape, ones, strict=True))
        if other != shape:
            return other[int(rng.integers(0, len(shape))) :] if rng.random() < 0.3 else other


def _apply(keras, opcode: str, a, b):
    import tensorflow as tf

    if opcode == "SUB":
        return keras.ops.subtract(a, b)
    if opcode == "MAXIMUM":
        return keras.ops.maximum(a, b)
    if opcode == "MINIMUM":
        return keras.ops.minimum(a, b)
    return tf_layer(tf.math.squared_difference)(a, b)


def elementwise_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    kinds = ("same", "broadcast", "const", "swap_const", "broadcast")
    for number in range(count):
        opcode = ELEMENTWISE[number % len(ELEMENTWISE)]
        kind = kinds[(number // len(ELEMENTWISE)) % len(kinds)]
        # the converter's PRELU broadcasts within rank 4, and splits a SQUARED_DIFFERENCE of rank 5
        rank = int(rng.integers(1, 4 if opcode in ("PRELU", "SQUARED_DIFFERENCE") else 5))
        full = tuple(int(v) for v in rng.integers(1, 6, size=rank))
        while sum(d > 1 for d in full) < 1:
            full = tuple(int(v) for v in rng.integers(1, 6, size=len(full)))
        other = full if kind == "same" else _broadcast_shape(rng, full)
        constant = rng.uniform(-2, 2, size=other).astype(np.float32)
        if rng.random() < 0.3:
            constant *= 8  # operand scales far apart
        alpha = rng.uniform(-0.6, 1.5, size=full).astype(np.float32)
        shared = tuple(int(a) + 1 for a in np.flatnonzero(rng.random(len(full)) < 0.5))
        # a relu after x - constant can leave an empty output range (see the refusal test)
        fused = bool(rng.random() < 0.4) and kind not in ("const", "swap_const")
        eps = float(10 ** rng.uniform(-3, 0))
        low, high = calibration_range(rng)

        def build(opcode=opcode, kind=kind, full=full, other=other, constant=constant, alpha=alpha,
                  shared=shared, fused=fused, eps=eps):  # fmt: skip
            import tensorflow as tf

            keras = keras_module()
            x = keras.Input(full, batch_size=1)
            a = _branch(keras, x, full)
            if opcode == "PRELU":
                kept = tuple(1 if i + 1 in shared else d for i, d in enumerate(full))
                init = keras.initializers.Constant(alpha[tuple(slice(0, k) for k in kept)])
                return keras.Model(
                    x, keras.layers.PReLU(alpha_initializer=init, shared_axes=shared or None)(a)
                )
            if opcode == "RSQRT":
                positive = _branch(keras, x, full, activation="relu")
                return keras.Model(x, tf_layer(lambda t: tf.math.rsqrt(t + eps))(positive))
            if kind in ("const", "swap_const"):
                b = keras.ops.convert_to_tensor(constant)
            else:
                b = _branch(keras, x, other)
            pair = (b, a) if kind == "swap_const" else (a, b)
            y = _apply(keras, opcode, *pair)
            return keras.Model(x, keras.layers.ReLU()(y) if fused and opcode == "SUB" else y)

        name = f"{opcode.lower()}_{kind}_{number}"
        cases.append(Case(name, build, opcodes=(opcode,), low=low, high=high))
    return cases


ELEMENTWISE_CASES = elementwise_cases(30, 7)


def test_elementwise_arith_ops_equal_tflm_byte_for_byte(tmp_path):
    _require_gcc()
    outcomes = check_cases(ELEMENTWISE_CASES, tmp_path)
    assert len(outcomes) == 30
    assert failures(outcomes) == []


def _two_dense(keras, layer, units: int = 6):
    x = keras.Input((8,), batch_size=1)
    a, b = keras.layers.Dense(units)(x), keras.layers.Dense(units)(x)
    return keras.Model(x, layer([a, b]))


def _manual_layer_norm():
    """LayerNormalization's int8 ops without its float32 NEG: mean over the last axis, squared
    difference, mean, + epsilon, rsqrt, scale and shift."""
    import tensorflow as tf

    keras = keras_module()
    x = keras.Input((5, 6), batch_size=1)
    h = keras.layers.Dense(6)(x)
    mean = keras.ops.mean(h, axis=-1, keepdims=True)
    variance = keras.ops.mean(tf_layer(tf.math.squared_difference)(h, mean), axis=-1, keepdims=True)
    inverse = tf_layer(lambda v: tf.math.rsqrt(v + 1e-3))(variance)
    gamma = np.linspace(0.5, 1.5, 6).astype(np.float32)
    return keras.Model(x, (h - mean) * inverse * gamma + 0.25)


def _manual_unit_norm():
    """UnitNormalization's int8 ops without its float32 SQUARE: x * x (MUL), SUM, MAXIMUM with
    epsilon, RSQRT, MUL."""
    import tensorflow as tf

    keras = keras_module()
    x = keras.Input((8,), batch_size=1)
    h = keras.layers.Dense(6)(x)
    total = keras.ops.sum(h * h, axis=-1, keepdims=True)
    inverse = tf_layer(lambda s: tf.math.rsqrt(tf.maximum(s, 1e-4)))(total)
    return keras.Model(x, h * inverse)


def _layer_cases() -> list[Case]:
    def seq(shape, *layers):
        def build():
            keras = keras_module()
            x = keras.Input(shape, batch_size=1)
            y = x
            for layer in layers:
                y = layer(keras)(y)
            return keras.Model(x, y)

        return build

    def two(name):
        return lambda: _two_dense(keras_module(), getattr(keras_module().layers, name)())

    def alpha(k):
        return k.initializers.RandomUniform(-0.5, 1.5, seed=3)

    return [
        Case("layer_subtract", two("Subtract"), opcodes=("SUB",)),
        Case("layer_maximum", two("Maximum"), opcodes=("MAXIMUM",)),
        Case("layer_minimum", two("Minimum"), opcodes=("MINIMUM",)),
        Case("layer_average", two("Average"), opcodes=("ADD", "MUL")),
        Case(
            "layer_prelu_shared",
            seq(
                (6, 6, 3),
                lambda k: k.layers.Conv2D(4, 3),
                lambda k: k.layers.PReLU(alpha_initializer=alpha(k), shared_axes=[1, 2]),
            ),
            opcodes=("PRELU",),
        ),
        Case(
            "layer_prelu_full",
            seq((8,), lambda k: k.layers.Dense(6), lambda k: k.layers.PReLU(alpha_initializer=alpha(k))),
            opcodes=("PRELU",),
        ),
        Case(
            "layer_batchnorm",
            seq(
                (4, 4, 3),
                lambda k: k.layers.BatchNormalization(
                    beta_initializer="ones", moving_variance_initializer=k.initializers.Constant(0.3)
                ),
            ),
            opcodes=("MUL",),
        ),
        Case(
            "layer_softmax",
            seq((8,), lambda k: k.layers.Dense(5), lambda k: k.layers.Softmax()),
            opcodes=("SOFTMAX",),
        ),
        Case("manual_layer_norm", _manual_layer_norm, opcodes=("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "SUB")),
        Case("manual_unit_norm", _manual_unit_norm, opcodes=("SUM", "RSQRT", "MAXIMUM", "MUL")),
    ]


def test_keras_arith_layers_equal_tflm_byte_for_byte(tmp_path):
    _require_gcc()
    cases = _layer_cases()
    outcomes = check_cases(cases, tmp_path)
    assert len(outcomes) == len(cases)
    assert failures(outcomes) == []


def test_layer_and_unit_normalization_equal_tflm_byte_for_byte(tmp_path):
    _require_gcc()

    def seq(shape, make):
        def build():
            keras = keras_module()
            x = keras.Input(shape, batch_size=1)
            return keras.Model(x, make(keras)(keras.layers.Dense(shape[-1])(x)))

        return build

    cases = [
        Case(
            "layer_norm",
            seq((5, 6), lambda k: k.layers.LayerNormalization()),
            opcodes=("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "NEG"),
        ),
        Case(
            "unit_norm",
            seq((8,), lambda k: k.layers.UnitNormalization()),
            opcodes=("SUM", "RSQRT", "MINIMUM"),
        ),
    ]
    outcomes = check_cases(cases, tmp_path)
    assert failures(outcomes) == []


def layer_op_cases(count: int, seed: int) -> list[Case]:
    """TRANSPOSE_CONV (strides 1 / 2, SAME / VALID, with and without bias, a following relu),
    LOG_SOFTMAX (ranks 2 to 4) and SUM (axes, keep_dims)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        opcode = ("TRANSPOSE_CONV", "LOG_SOFTMAX", "SUM")[number % 3]
        low, high = calibration_range(rng)
        if opcode == "TRANSPOSE_CONV":
            shape = (int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 5)))
            kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            config = {"filters": int(rng.integers(1, 6)), "kernel_size": kernel,
                      "strides": (int(rng.integers(1, 3)), int(rng.integers(1, 3))),
                      "padding": str(rng.choice(["same", "valid"])), "use_bias": bool(rng.random() < 0.7),
                      "activation": str(rng.choice(["linear", "relu"]))}  # fmt: skip

            def build(shape=shape, config=config):
                keras = keras_module()
                x = keras.Input(shape, batch_size=1)
                layer = keras.layers.Conv2DTranspose(**config, bias_initializer="random_normal")
                return keras.Model(x, layer(x))

        elif opcode == "LOG_SOFTMAX":
            shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
            shape = (*shape[:-1], max(shape[-1], 2))

            def build(shape=shape):
                keras = keras_module()
                x = keras.Input(shape, batch_size=1)
                return keras.Model(x, keras.layers.Activation("log_softmax")(_branch(keras, x, shape)))

        else:
            shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4))))
            axes = sorted(
                {int(a) for a in rng.integers(-len(shape), len(shape), size=int(rng.integers(1, 3)))}
            )
            # the converter drops a SUM over axes of size 1 only
            shape = tuple(
                max(d, 2) if i in axes or i - len(shape) in axes else d for i, d in enumerate(shape)
            )
            keep = bool(rng.random() < 0.5)

            def build(shape=shape, axes=axes, keep=keep):
                keras = keras_module()
                x = keras.Input(shape, batch_size=1)
                y = _branch(keras, x, shape)
                return keras.Model(
                    x, keras.ops.sum(y, axis=[a if a < 0 else a + 1 for a in axes], keepdims=keep)
                )

        cases.append(Case(f"{opcode.lower()}_{number}", build, opcodes=(opcode,), low=low, high=high))
    return cases


LAYER_OP_CASES = layer_op_cases(18, 11)


def test_transpose_conv_log_softmax_sum_equal_tflm_byte_for_byte(tmp_path):
    _require_gcc()
    outcomes = check_cases(LAYER_OP_CASES, tmp_path)
    assert len(outcomes) == 18
    assert failures(outcomes) == []


def resize_cases(count: int, seed: int) -> list[Case]:
    """Resizing(bilinear) up and down, UpSampling2D(bilinear), and tf.image.resize with
    align_corners (TF1 style) through tf.compat.v1."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 4)))
        size = (int(rng.integers(1, 11)), int(rng.integers(1, 11)))
        kind = ("resizing", "upsampling", "align_corners", "v1")[number % 4]
        low, high = calibration_range(rng)

        def build(shape=shape, size=size, kind=kind):
            import tensorflow as tf

            keras = keras_module()
            x = keras.Input(shape, batch_size=1)
            if kind == "resizing":
                y = keras.layers.Resizing(*size, interpolation="bilinear")(x)
            elif kind == "upsampling":
                y = keras.layers.UpSampling2D((size[0] % 3 + 1, size[1] % 3 + 1), interpolation="bilinear")(x)
            else:
                align = kind == "align_corners"
                y = tf_layer(lambda t: tf.compat.v1.image.resize_bilinear(t, size, align_corners=align))(x)
            return keras.Model(x, y)

        cases.append(Case(f"resize_{kind}_{number}", build, opcodes=("RESIZE_BILINEAR",), low=low, high=high))
    return cases


def test_resize_bilinear_equals_tflm_byte_for_byte(tmp_path):
    _require_gcc()
    cases = resize_cases(8, 5)
    outcomes = check_cases(cases, tmp_path)
    assert len(outcomes) == 8
    assert failures(outcomes) == []


def test_sub_whose_output_rescale_tflm_aborts_on_is_refused():
    """x - 10 then relu on inputs near 0: the output range is empty, its scale tiny, and SUB's
    output multiplier over 1, which TFLM's prepare aborts on (QuantizeMultiplierSmallerThanOneExp)."""
    from engine_cases import convert_int8, tflm_runs

    from edgeq.engine.generate import generate_engine
    from edgeq.errors import UnsupportedError
    from edgeq.tflite import read_tflite

    keras = keras_module()
    x = keras.Input((4,), batch_size=1)
    model = keras.Model(x, keras.layers.ReLU()(keras.ops.subtract(keras.layers.Dense(4)(x), 10.0)))
    tflite = convert_int8(model, "int8", -0.1, 0.1, 0)
    graph = read_tflite(tflite)
    assert "SUB" in [op.opcode for op in graph.main.operators]
    with pytest.raises(
        UnsupportedError, match=r"SUB\): rescale factor .* outside \(0, 1\): TFLM's SUB refuses it"
    ):
        generate_engine(graph, "sub_refused")
    assert not tflm_runs(tflite, np.zeros((1, 4), dtype=np.int8))
