"""int8 DIV and int8 / int16 ABS (kernel group ``division``): Keras ``softsign`` (ABS, ADD, DIV),
``keras.ops.abs``, divisions of two tensors with broadcasting, of a broadcast constant by a tensor,
and of two model inputs given every int8 value (divisors at their zero point, and exponents of 32
and more, where the kernel reproduces TFLM's x86-64 shifts), from randomized seeded configurations:
the generated C engine against TFLite Micro, byte for byte, on 10 random inputs each."""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, calibration_range, check_cases, failures, keras_module

# ABS output scale = input scale times the ratio, by case name (the converter gives int16 ABS
# equal scales, so TFLM's int16 rescale and its int8 equal-scales path need a rewritten model)
ABS_RATIOS: dict[str, float] = {}


def _require_gcc() -> None:
    from conftest import require_tool

    require_tool("gcc")


def _branch(keras, x, shape: tuple[int, ...], activation=None):
    """A tensor of ``shape`` computed from the model input ``x`` by a dense layer."""
    flat = keras.layers.Flatten()(x) if len(x.shape) > 2 else x
    units = int(np.prod(shape))
    return keras.layers.Reshape(shape)(keras.layers.Dense(units, activation=activation)(flat))


def _broadcast_shape(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape`` and differs from it, sometimes with fewer dimensions."""
    while True:
        other = tuple(1 if one else d for d, one in zip(shape, rng.random(len(shape)) < 0.5, strict=True))
        if other != shape:
            return other[int(rng.integers(0, len(shape))) :] if rng.random() < 0.3 else other


def _shape(rng: np.random.Generator, rank: int) -> tuple[int, ...]:
    while True:
        shape = tuple(int(v) for v in rng.integers(1, 6, size=rank))
        if sum(d > 1 for d in shape) >= 1:
            return shape


def int8_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases: list[Case] = []

    def add(name: str, build, opcodes: tuple[str, ...], low: float | None = None, high: float | None = None):
        if low is None or high is None:
            low, high = calibration_range(rng)
        cases.append(Case(f"{name}_{len(cases)}", build, opcodes=opcodes, low=low, high=high))

    # softsign after a Dense (rank 2 and 3) and after a Conv1D
    for kind in ("dense", "dense_rows", "conv1d"):
        features, units, rows = int(rng.integers(2, 9)), int(rng.integers(2, 13)), int(rng.integers(2, 5))

        def build(kind=kind, features=features, units=units, rows=rows):
            keras = keras_module()
            if kind == "conv1d":
                x = keras.Input((rows + 2, features), batch_size=1)
                return keras.Model(x, keras.layers.Conv1D(units, 3, activation="softsign")(x))
            x = keras.Input((features,) if kind == "dense" else (rows, features), batch_size=1)
            return keras.Model(x, keras.layers.Dense(units, activation="softsign")(x))

        add(f"softsign_{kind}", build, ("ABS", "ADD", "DIV"))

    # keras.ops.abs of a Dense; the second with its output scale set to its input's
    for number in range(2):
        shape = _shape(rng, int(rng.integers(1, 4)))
        name = f"abs_{len(cases)}"
        if number == 1:
            ABS_RATIOS[name] = 1.0

        def build(shape=shape, name=name):
            keras = keras_module()
            x = keras.Input(shape, batch_size=1)
            return keras.Model(x, keras.ops.abs(_branch(keras, x, shape)), name=name)

        add("abs", build, ("ABS",))

    # a / b of two tensors: equal shapes, b broadcast, a broadcast; divisors positive or of
    # either sign; a fused relu
    for number, kind in enumerate(("same", "broadcast", "swap", "broadcast", "signed")):
        full = _shape(rng, int(rng.integers(1, 5)))
        other = full if kind in ("same", "signed") else _broadcast_shape(rng, full)
        offset = float(10 ** rng.uniform(-1.5, 0.5))
        fused = number == 3

        def build(kind=kind, full=full, other=other, offset=offset, fused=fused):
            keras = keras_module()
            x = keras.Input(full, batch_size=1)
            a = _branch(keras, x, other if kind == "swap" else full)
            if kind == "signed":
                b = _branch(keras, x, full) + 2.0 * offset  # of either sign (near zero: large quotients)
            else:
                b = _branch(keras, x, full if kind == "swap" else other, activation="relu") + offset
            y = keras.ops.divide(a, b)
            return keras.Model(x, keras.layers.ReLU()(y) if fused else y)

        add(f"divide_{kind}", build, ("DIV",))

    # a broadcast constant divided by a tensor (tensor / constant converts to MUL)
    for _ in range(2):
        full = _shape(rng, int(rng.integers(1, 4)))
        constant = rng.uniform(-3, 3, size=full[int(rng.integers(0, len(full))) :]).astype(np.float32)

        def build(full=full, constant=constant):
            keras = keras_module()
            x = keras.Input(full, batch_size=1)
            return keras.Model(x, keras.ops.divide(constant, keras.ops.abs(_branch(keras, x, full)) + 0.25))

        add("constant_over_tensor", build, ("DIV",))

    # two model inputs divided: every int8 value reaches DIV, divisors at their zero point among
    # them; calibrated on [0.2, 1) the largest exponent is 32, on [-1, 1) most are beyond 32
    for low, high, shapes in ((0.2, 1.0, ((6, 32), (6, 32))), (-1.0, 1.0, ((4, 32), (32,)))):

        def build(shapes=shapes):
            keras = keras_module()
            a, b = (keras.Input(shape, batch_size=1) for shape in shapes)
            return keras.Model([a, b], keras.ops.divide(a, b))

        add("divide_inputs", build, ("DIV",), low, high)
    return cases


def int16_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for number, ratio in enumerate((None, None, 0.6, 1.7)):
        shape = _shape(rng, int(rng.integers(1, 4)))
        low, high = calibration_range(rng)
        name = f"abs16_{number}"
        if ratio is not None:
            ABS_RATIOS[name] = ratio

        def build(shape=shape, name=name):
            keras = keras_module()
            x = keras.Input(shape, batch_size=1)
            return keras.Model(x, keras.ops.abs(_branch(keras, x, shape)), name=name)

        io = "float32" if number == 1 else "int16"
        cases.append(Case(name, build, io=io, low=low, high=high, opcodes=("ABS",), mode="int16x8"))
    return cases


def _patched_abs(tflite: bytes, ratio: float | None = None, zero_point: int | None = None) -> bytes:
    """``tflite`` with every ABS's output scale set to its input's times ``ratio`` and / or its
    input and output zero points to ``zero_point`` (flatbuffer object API round trip)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.ABS:
                continue
            source, output = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
            if ratio is not None:
                output.quantization.scale = [float(np.float32(source.quantization.scale[0] * ratio))]
            if zero_point is not None:
                source.quantization.zeroPoint = output.quantization.zeroPoint = [zero_point]
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture
def abs_ratios(monkeypatch):
    """The harness's converters, then the ABS rescale ABS_RATIOS lists for the model."""
    import engine_cases

    convert_int8, convert_mode = engine_cases.convert_int8, engine_cases.convert_mode

    def patch(model, tflite: bytes) -> bytes:
        return _patched_abs(tflite, ratio=ABS_RATIOS[model.name]) if model.name in ABS_RATIOS else tflite

    monkeypatch.setattr(engine_cases, "convert_int8", lambda model, *a: patch(model, convert_int8(model, *a)))
    monkeypatch.setattr(engine_cases, "convert_mode", lambda model, *a: patch(model, convert_mode(model, *a)))
    return ABS_RATIOS


CASES = int8_cases(3) + int16_cases(4)


def test_abs_and_div_equal_tflm_byte_for_byte(tmp_path, abs_ratios):
    _require_gcc()
    outcomes = check_cases(CASES, tmp_path)
    assert len(outcomes) == len(CASES) == 18 and len(abs_ratios) == 3
    assert failures(outcomes) == []


def test_int16_abs_with_a_zero_point_is_refused_as_tflm_refuses_it():
    """TFLM's Prepare requires int16 ABS zero points of 0; the engine refuses the same model."""
    from engine_cases import convert_mode, tflm_runs

    from edgeq.engine.generate import generate_engine
    from edgeq.errors import UnsupportedError
    from edgeq.tflite import read_tflite

    keras = keras_module()
    x = keras.Input((4,), batch_size=1)
    model = keras.Model(x, keras.ops.abs(keras.layers.Dense(4)(x)))
    tflite = _patched_abs(convert_mode(model, "int16x8", "int16", -1.0, 1.0, 0), zero_point=5)
    graph = read_tflite(tflite)
    assert "ABS" in [op.opcode for op in graph.main.operators]
    with pytest.raises(UnsupportedError, match=r"ABS\): TFLM's int16 ABS requires zero points of 0"):
        generate_engine(graph, "abs_refused")
    assert not tflm_runs(tflite, np.zeros((1, 4), dtype=np.int16))
