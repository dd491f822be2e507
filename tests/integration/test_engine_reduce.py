"""Randomized configurations of SOFTMAX and MEAN: the generated C engine against TFLite Micro,
byte for byte, on 10 random inputs each.

Softmax logits come from a Dense / Conv layer whose weights are drawn from ranges of very different
widths, so the input scale varies over three orders of magnitude (wide ranges make TFLM's diff_min
cut-off matter). Keras has no softmax temperature, so a few converted models get their SOFTMAX
``beta`` rewritten in the flatbuffer before both runtimes see them.
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, check_cases, failures

# Keras model name -> what to rewrite in its converted model: a SOFTMAX's beta, or a MEAN's output
# quantization (the input's zero point and the input's scale times a ratio; the converter always
# calibrates a smaller output scale, TFLM's kernel takes any).
PATCHES: dict[str, dict[str, float]] = {}


def _keras():
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def patched(tflite: bytes, beta: float | None = None, ratio: float | None = None) -> bytes:
    """``tflite`` with every SOFTMAX's beta set to ``beta``, every MEAN's output quantization set
    to the input's zero point and scale times ``ratio`` (flatbuffer object API round trip)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            opcode = max(code.builtinCode, code.deprecatedBuiltinCode)
            if opcode == schema.BuiltinOperator.SOFTMAX and beta is not None:
                op.builtinOptions.beta = beta
            if opcode == schema.BuiltinOperator.MEAN and ratio is not None:
                source, output = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
                output.quantization.scale = [float(np.float32(source.quantization.scale[0] * ratio))]
                output.quantization.zeroPoint = list(source.quantization.zeroPoint)
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def softmax_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        kind = ("dense", "dense_rows", "conv2d", "conv1d")[number % 4]
        width = float(np.exp(rng.uniform(np.log(0.05), np.log(40.0))))  # logits range
        fused = bool(rng.random() < 0.4)
        beta = float(rng.choice([0.25, 0.5, 2.0, 3.7])) if number % 5 == 4 else None
        features = int(rng.integers(2, 17))
        units = int(rng.integers(2, 41)) if number != 8 else 300
        rows = int(rng.integers(2, 6))
        size = int(rng.integers(3, 8))
        kernel = int(rng.integers(1, 4))
        name = f"softmax_{kind}_{number}"
        if beta is not None:
            PATCHES[name] = {"beta": beta}

        def build(kind=kind, width=width, fused=fused, features=features, units=units, rows=rows,
                  size=size, kernel=kernel, name=name):  # fmt: skip
            keras = _keras()
            init = keras.initializers.RandomUniform(-width, width)
            common = dict(
                kernel_initializer=init, bias_initializer=init, activation="softmax" if fused else None
            )
            if kind == "dense":
                inputs = keras.Input((features,), batch_size=1)
                x = keras.layers.Dense(units, **common)(inputs)
            elif kind == "dense_rows":
                inputs = keras.Input((rows, features), batch_size=1)
                x = keras.layers.Dense(units, **common)(inputs)
            elif kind == "conv2d":
                inputs = keras.Input((size, size + 1, features % 4 + 1), batch_size=1)
                x = keras.layers.Conv2D(units % 12 + 2, kernel, padding="same", **common)(inputs)
            else:
                inputs = keras.Input((size + 2, features % 5 + 1), batch_size=1)
                x = keras.layers.Conv1D(units % 16 + 2, kernel, **common)(inputs)
            if not fused:
                x = keras.layers.Softmax()(x)
            return keras.Model(inputs, x, name=name)

        low, high = -float(rng.uniform(0.5, 4)), float(rng.uniform(0.5, 4))
        cases.append(Case(name, build, opcodes=("SOFTMAX",), low=low, high=high))
    return cases


def direct_softmax_cases(count: int, seed: int) -> list[Case]:
    """SOFTMAX straight on the int8 model input: every row a uniform random int8 vector."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rows, depth = int(rng.integers(16, 65)), int(rng.choice([3, 50, 200]))
        width = float(np.exp(rng.uniform(np.log(0.3), np.log(200.0))))

        def build(rows=rows, depth=depth):
            keras = _keras()
            inputs = keras.Input((rows, depth), batch_size=1)
            return keras.Model(inputs, keras.layers.Softmax()(inputs))

        cases.append(Case(f"softmax_input_{number}", build, opcodes=("SOFTMAX",), low=-width, high=width))
    return cases


def mean_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    # (layer, axis, keepdims): GlobalAveragePooling layers, or keras.ops.mean on a Conv2D / Dense output
    shapes = [
        ("gap2d", None, False), ("gap2d", None, True), ("gap1d", None, False), ("gap1d", None, True),
        ("conv", -1, False), ("conv", (1, 3), True), ("conv", (2, 3), False), ("conv", 2, True),
        ("conv", (1, 2, 3), False), ("conv", 1, False), ("conv", (1, 2), True), ("conv", (-3, -2), False),
        ("dense", 1, False), ("dense", -1, True), ("dense", (1, 2), False), ("conv", (0, 1, 2), True),
    ]  # fmt: skip
    cases = []
    for number in range(count):
        layer, axis, keepdims = shapes[number % len(shapes)]
        height, width = int(rng.integers(1, 9)), int(rng.integers(2, 9))
        channels, filters = int(rng.integers(1, 5)), int(rng.integers(1, 17))
        relu = bool(rng.random() < 0.3)
        name = f"mean_{layer}_{number}"
        if number % 4 == 3:
            PATCHES[name] = {"ratio": float(rng.choice([1.0, 1.0, 2.5, 0.7]))}

        def build(layer=layer, axis=axis, keepdims=keepdims, height=height, width=width, channels=channels,
                  filters=filters, relu=relu, name=name):  # fmt: skip
            keras = _keras()
            activation = "relu" if relu else None
            if layer == "gap1d":
                inputs = keras.Input((width + 2, channels), batch_size=1)
                x = keras.layers.Conv1D(filters, 3, padding="same", activation=activation)(inputs)
                return keras.Model(
                    inputs, keras.layers.GlobalAveragePooling1D(keepdims=keepdims)(x), name=name
                )
            if layer == "dense":  # (a Dense on one input channel would become a MUL)
                inputs = keras.Input((height + 1, width, channels + 1), batch_size=1)
                x = keras.layers.Dense(filters, activation=activation)(inputs)
            else:
                inputs = keras.Input((height + 1, width + 1, channels), batch_size=1)
                x = keras.layers.Conv2D(filters, 2, padding="same", activation=activation)(inputs)
            if layer == "gap2d":
                return keras.Model(
                    inputs, keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(x), name=name
                )
            return keras.Model(inputs, keras.ops.mean(x, axis=axis, keepdims=keepdims), name=name)

        low, high = -float(rng.uniform(0.5, 4)), float(rng.uniform(0.5, 4))
        cases.append(Case(name, build, opcodes=("MEAN",), low=low, high=high))
    return cases


REDUCE_CASES = [*softmax_cases(26, 20), *direct_softmax_cases(2, 22), *mean_cases(16, 21)]


@pytest.fixture
def patches(monkeypatch):
    """The harness's converter, then the rewrites PATCHES lists for the model."""
    import engine_cases

    convert = engine_cases.convert_int8

    def convert_and_patch(model, io, low, high, seed):
        tflite = convert(model, io, low, high, seed)
        return patched(tflite, **PATCHES[model.name]) if model.name in PATCHES else tflite

    monkeypatch.setattr(engine_cases, "convert_int8", convert_and_patch)
    return PATCHES


def test_reduce_ops_equal_tflm_byte_for_byte(tmp_path, patches):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(REDUCE_CASES, tmp_path)
    assert len(outcomes) == 44 and len(patches) == 9
    assert failures(outcomes) == []
