"""Randomized configurations of PAD / PADV2, CONCATENATION, QUANTIZE (float32 → int8 and int8 → int8
requantization), DEQUANTIZE and EXPAND_DIMS, and of int16 PAD / CONCATENATION / QUANTIZE /
DEQUANTIZE (16x8 models): the generated C engine against TFLite Micro, byte for byte, on 10 random
inputs each (float inputs and outputs compared as bytes too)."""

from __future__ import annotations

import engine_cases
import numpy as np
from engine_cases import Case, calibration_range, check_cases, failures, keras_module

# Case.io values of 16x8 models (int16 activations, int8 weights), with int16 or float32 I/O
INT16_IO = {"16x8-int16": "int16", "16x8-float32": "float32"}
CONVERT_INT8 = engine_cases.convert_int8  # the harness's own, before the test patches it


def convert(model, io: str, low: float, high: float, seed: int) -> bytes:
    """engine_cases.convert_int8, or a 16x8 conversion for the io values of INT16_IO."""
    if io not in INT16_IO:
        return CONVERT_INT8(model, io, low, high, seed)
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    rng = np.random.default_rng(seed)
    samples = rng.uniform(low, high, size=(32, *tuple(model.inputs[0].shape)[1:])).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]
    if INT16_IO[io] == "int16":
        converter.inference_input_type = tf.int16
        converter.inference_output_type = tf.int16
    with quiet():
        return bytes(converter.convert())


def _shape(rng: np.random.Generator, rank: int) -> tuple[int, ...]:
    """A shape without the batch dimension (``rank`` counts the batch)."""
    return tuple(int(v) for v in rng.integers(1, 7, size=rank - 1))


def pad_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        kind = ("zero2d", "zero1d", "zero3d", "ops", "constant")[number % 5]
        rank = {"zero2d": 4, "zero1d": 3, "zero3d": 5}.get(kind, int(rng.integers(2, 6)))
        shape = _shape(rng, rank)
        pads = [[int(v) for v in rng.integers(0, 4, size=2)] for _ in range(rank)]
        if kind != "ops" or rng.random() < 0.7:
            pads[0] = [0, 0]  # padding the batch: only sometimes
        dense = bool(rng.random() < 0.3)  # PAD inside the graph, after a layer with its own scale
        if dense:  # (a Dense on a last dimension of 1 converts to MUL)
            shape = (*shape[:-1], max(shape[-1], 2))
        value = float(rng.uniform(-2, 2))
        io = "float32" if rng.random() < 0.25 else "int8"
        low, high = calibration_range(rng, (-2, 1.5))

        def build(kind=kind, shape=shape, pads=pads, dense=dense, value=value):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            x = keras.layers.Dense(shape[-1])(inputs) if dense else inputs
            middle = tuple(tuple(pair) for pair in pads[1:-1])
            if kind == "zero2d":
                x = keras.layers.ZeroPadding2D(middle)(x)
            elif kind == "zero1d":
                x = keras.layers.ZeroPadding1D(middle[0])(x)
            elif kind == "zero3d":
                x = keras.layers.ZeroPadding3D(middle)(x)
            elif kind == "ops":
                x = keras.ops.pad(x, pads)
            else:
                x = keras.ops.pad(x, pads, constant_values=value)
            return keras.Model(inputs, x)

        opcode = "PADV2" if kind == "constant" else "PAD"
        opcodes = (opcode, "QUANTIZE", "DEQUANTIZE") if io == "float32" else (opcode,)
        cases.append(Case(f"pad_{kind}_{number}", build, io=io, low=low, high=high, opcodes=opcodes))
    return cases


def concatenation_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(2, 6))
        shape = _shape(rng, rank)
        axis = int(rng.integers(0, rank)) if rng.random() < 0.15 else int(rng.integers(1, rank))
        negative = bool(rng.random() < 0.3)
        parts = [
            str(rng.choice(["input", "input", "pad", "dense", "constant"])) for _ in range(rng.integers(2, 6))
        ]
        widths = [int(v) for v in rng.integers(1, 5, size=len(parts))]
        if "dense" in parts:
            shape = (*shape[:-1], max(shape[-1], 2))
        io = "float32" if rng.random() < 0.2 else "int8"
        low, high = calibration_range(rng, (-2, 1.5))
        blocks = {}
        for position, (part, width) in enumerate(zip(parts, widths, strict=True)):
            if part == "constant":
                block_shape = [1, *shape]
                block_shape[axis] = width
                blocks[position] = rng.uniform(low, high, size=block_shape).astype(np.float32)

        def build(shape=shape, axis=axis, negative=negative, parts=parts, widths=widths, blocks=blocks):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            rank = len(shape) + 1
            tensors = []
            for position, (part, width) in enumerate(zip(parts, widths, strict=True)):
                if part == "input":
                    tensors.append(inputs)
                elif part == "pad":
                    pads = [[0, 0] for _ in range(rank)]
                    pads[axis] = [width // 2, width - width // 2]
                    tensors.append(keras.ops.pad(inputs, pads))
                elif part == "dense":
                    units = width if axis == rank - 1 else shape[-1]
                    tensors.append(keras.layers.Dense(units)(inputs))
                else:
                    tensors.append(blocks[position])
            if all(isinstance(t, np.ndarray) for t in tensors):
                tensors.append(inputs)
            return keras.Model(inputs, keras.ops.concatenate(tensors, axis=axis - rank if negative else axis))

        opcodes = ("CONCATENATION", "QUANTIZE", "DEQUANTIZE") if io == "float32" else ("CONCATENATION",)
        cases.append(Case(f"concatenation_{number}", build, io=io, low=low, high=high, opcodes=opcodes))
    return cases


def requantize_cases(count: int, seed: int) -> list[Case]:
    """The input feeds two concatenations that need different scales: the converter requantizes it
    (an int8 → int8 QUANTIZE) for one of them."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = _shape(rng, int(rng.integers(2, 5)))
        first, second = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        io = "float32" if number % 3 == 2 else "int8"
        low, high = calibration_range(rng, (-2, 1.5))

        def build(shape=shape, first=first, second=second):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            hidden = keras.layers.Concatenate()([inputs, keras.layers.Dense(first)(inputs)])
            return keras.Model(
                inputs, keras.layers.Concatenate()([keras.layers.Dense(second)(hidden), inputs])
            )

        cases.append(Case(f"requantize_{number}", build, io=io, low=low, high=high, opcodes=("QUANTIZE",)))
    return cases


def expand_dims_cases(count: int, seed: int) -> list[Case]:
    """A dynamic batch keeps EXPAND_DIMS in the converted model (a static one becomes RESHAPE)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = _shape(rng, int(rng.integers(2, 5)))
        where = int(rng.integers(-1, len(shape) + 1))  # after the batch, or at the end
        where = -1 if where == 0 else where
        copies = int(rng.integers(2, 4))
        low, high = calibration_range(rng, (-2, 1.5))

        def build(shape=shape, where=where, copies=copies):
            keras = keras_module()
            inputs = keras.Input(shape)
            pads = [[0, 0]] + [[1, 0]] + [[0, 0]] * (len(shape) - 1)
            expanded = keras.ops.expand_dims(keras.ops.pad(inputs, pads), where)
            return keras.Model(inputs, keras.layers.Concatenate(axis=where)([expanded] * copies))

        cases.append(Case(f"expand_dims_{number}", build, low=low, high=high, opcodes=("EXPAND_DIMS",)))
    return cases


def int16_cases(count: int, seed: int) -> list[Case]:
    """PAD and CONCATENATION of int16 tensors (TFLM pads with 0 and copies), with float I/O:
    QUANTIZE float32 → int16 and DEQUANTIZE int16 → float32."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(2, 6))
        shape = _shape(rng, rank)
        pads = [[0, 0]] + [[int(v) for v in rng.integers(0, 3, size=2)] for _ in range(rank - 1)]
        axis = int(rng.integers(1, rank))
        concatenate = number % 2 == 1
        io = "16x8-float32" if number % 4 < 2 else "16x8-int16"
        low, high = calibration_range(rng, (-2, 1.5))
        block_shape = [1, *shape]
        block_shape[axis] = int(rng.integers(1, 4))
        block = rng.uniform(low, high, size=block_shape).astype(np.float32)

        def build(shape=shape, pads=pads, axis=axis, concatenate=concatenate, block=block):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            padded = keras.ops.pad(inputs, pads)
            if not concatenate:
                return keras.Model(inputs, padded)
            along = [[0, 0]] * len(pads)
            along[axis] = pads[axis]
            parts = [inputs, keras.ops.pad(inputs, along), block]
            return keras.Model(inputs, keras.ops.concatenate(parts, axis=axis))

        opcode = "CONCATENATION" if concatenate else "PAD"
        opcodes = (opcode, "QUANTIZE", "DEQUANTIZE") if io == "16x8-float32" else (opcode,)
        cases.append(
            Case(f"int16_{opcode.lower()}_{number}", build, io=io, low=low, high=high, opcodes=opcodes)
        )
    return cases


DATA_CASES = [
    *pad_cases(21, 30),
    *concatenation_cases(21, 31),
    *requantize_cases(6, 32),
    *expand_dims_cases(4, 33),
    *int16_cases(8, 34),
]


def test_data_ops_equal_tflm_byte_for_byte(tmp_path, monkeypatch):
    from conftest import require_tool

    require_tool("gcc")
    monkeypatch.setattr(engine_cases, "convert_int8", convert)
    outcomes = check_cases(DATA_CASES, tmp_path)
    assert len(outcomes) == 60
    assert failures(outcomes) == []
