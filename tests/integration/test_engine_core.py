"""Randomized configurations of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and the pools:
the generated C engine against TFLite Micro, byte for byte, on 10 random inputs each."""

from __future__ import annotations

import numpy as np
from engine_cases import Case, check_cases, failures, keras_module

ACTIVATIONS = (None, "relu", "relu6")


def conv_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        depthwise = number % 2 == 1
        size = int(rng.integers(3, 12))
        channels = int(rng.integers(1, 9))
        kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        padding = str(rng.choice(["same", "valid"]))
        dilated = rng.random() < 0.3
        strides = (1, 1) if dilated else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilated else (1, 1)
        if padding == "valid" and min(size - (k - 1) * d for k, d in zip(kernel, dilation, strict=True)) < 1:
            padding = "same"
        activation = ACTIVATIONS[int(rng.integers(0, 3))]
        use_bias = bool(rng.random() < 0.8)
        filters, multiplier = int(rng.integers(1, 17)), int(rng.integers(1, 4))

        def build(size=size, channels=channels, kernel=kernel, padding=padding, strides=strides,
                  dilation=dilation, activation=activation, use_bias=use_bias, filters=filters,
                  multiplier=multiplier, depthwise=depthwise):  # fmt: skip
            keras = keras_module()
            inputs = keras.Input((size, size + 1, channels), batch_size=1)
            common = dict(padding=padding, strides=strides, dilation_rate=dilation, activation=activation,
                          use_bias=use_bias)  # fmt: skip
            if depthwise:
                layer = keras.layers.DepthwiseConv2D(kernel, depth_multiplier=multiplier, **common)
            else:
                layer = keras.layers.Conv2D(filters, kernel, **common)
            return keras.Model(inputs, layer(inputs))

        opcode = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
        name = f"{opcode.lower()}_{number}"
        cases.append(
            Case(
                name,
                build,
                opcodes=(opcode,),
                low=-float(rng.uniform(0.5, 4)),
                high=float(rng.uniform(0.5, 4)),
            )
        )
    return cases


def dense_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = tuple(int(v) for v in rng.integers(2, 9, size=int(rng.integers(1, 3))))
        units = int(rng.integers(2, 33))
        activation = ACTIVATIONS[int(rng.integers(0, 3))]
        use_bias = bool(rng.random() < 0.8)

        def build(shape=shape, units=units, activation=activation, use_bias=use_bias):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            return keras.Model(
                inputs, keras.layers.Dense(units, activation=activation, use_bias=use_bias)(inputs)
            )

        cases.append(Case(f"dense_{number}", build, opcodes=("FULLY_CONNECTED",)))
    return cases


def pool_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        average = number % 2 == 0
        size = int(rng.integers(2, 12))
        channels = int(rng.integers(1, 9))
        pool = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = "same" if size < max(pool) else str(rng.choice(["same", "valid"]))

        def build(size=size, channels=channels, pool=pool, strides=strides, padding=padding, average=average):
            keras = keras_module()
            inputs = keras.Input((size, size + 2, channels), batch_size=1)
            layer = keras.layers.AveragePooling2D if average else keras.layers.MaxPooling2D
            return keras.Model(inputs, layer(pool, strides=strides, padding=padding)(inputs))

        opcode = "AVERAGE_POOL_2D" if average else "MAX_POOL_2D"
        cases.append(Case(f"{opcode.lower()}_{number}", build, opcodes=(opcode,)))
    return cases


CORE_CASES = [*conv_cases(60, 10), *dense_cases(20, 11), *pool_cases(20, 12)]


def test_core_ops_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(CORE_CASES, tmp_path)
    assert len(outcomes) == 100
    assert failures(outcomes) == []
