"""Comparisons and SELECT_V2 (kernel group ``compare``): Keras ``hard_shrink`` (ABS, GREATER,
SELECT_V2) and ``sparse_sigmoid`` (GREATER_EQUAL, LESS_EQUAL, ADD, MUL, SELECT_V2) after a Dense in
int8, float32, and int8 models with the comparisons or the select kept float32; ``keras.ops``
comparisons of two tensors with broadcasting (a bool model output among them) and
``keras.ops.where`` with broadcast condition, x and y: the generated C engine against TFLite Micro,
byte for byte, on 10 random inputs each."""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, calibrate_int8, check_cases, failures, keras_module, quantize_keeping_float

# int8 models converted with some ops left float32 (mlir_quantize's denylists), by model name:
# (opcodes whose every op stays float, opcodes whose output tensors stay float)
FLOAT_ISLANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _require_gcc() -> None:
    from conftest import require_tool

    require_tool("gcc")


def _dense(keras, x, shape: tuple[int, ...]):
    """A tensor of ``shape`` computed from the model input ``x`` by a dense layer."""
    return keras.layers.Reshape(shape)(keras.layers.Dense(int(np.prod(shape)))(x))


def _activation_model(name: str, activation: str, features: int = 12, units: int = 10):
    def build():
        keras = keras_module()
        x = keras.Input((features,), batch_size=1)
        return keras.Model(x, keras.layers.Activation(activation)(keras.layers.Dense(units)(x)), name=name)

    return build


def _two_branches(name: str, first: tuple[int, ...], second: tuple[int, ...], body):
    """A model of one input whose output is ``body(keras, a, b)`` for two dense branches ``a`` and
    ``b`` of the given shapes."""

    def build():
        keras = keras_module()
        x = keras.Input((6,), batch_size=1)
        a, b = _dense(keras, x, first), _dense(keras, x, second)
        return keras.Model(x, body(keras, a, b), name=name)

    return build


def _where_model(name: str, condition: tuple[int, ...], left: tuple[int, ...], right: tuple[int, ...]):
    """``where(c > 0, x, y)`` with ``c``, ``x`` and ``y`` dense branches of broadcast shapes."""

    def build():
        keras = keras_module()
        x = keras.Input((6,), batch_size=1)
        c, a, b = _dense(keras, x, condition), _dense(keras, x, left), _dense(keras, x, right)
        return keras.Model(x, keras.ops.where(keras.ops.greater(c, 0.0), a, b), name=name)

    return build


def _pairs_model(name: str, opcode: str):
    """``compare(a, 0.37 * b + 0.05)`` of two model inputs of shapes (64, 1) and (1, 64), broadcast:
    4096 pairs of int8 values per sample, the second side rescaled by a MUL and
    an ADD, so the two inputs of the comparison have unrelated scales and zero points."""

    def build():
        keras = keras_module()
        a, b = keras.Input((64, 1), batch_size=1, name="a"), keras.Input((1, 64), batch_size=1, name="b")
        compare = {"EQUAL": keras.ops.equal, "GREATER_EQUAL": keras.ops.greater_equal,
                   "LESS": keras.ops.less}[opcode]  # fmt: skip
        return keras.Model([a, b], compare(a, b * 0.37 + 0.05), name=name)

    return build


def cases() -> list[Case]:
    found: list[Case] = []
    for mode in ("int8", "float32"):
        io = "int8" if mode == "int8" else "float32"
        found += [
            Case(f"hard_shrink_{mode}", _activation_model(f"hard_shrink_{mode}", "hard_shrink"), io=io,
                 mode=mode, opcodes=("ABS", "GREATER", "SELECT_V2")),
            Case(f"sparse_sigmoid_{mode}", _activation_model(f"sparse_sigmoid_{mode}", "sparse_sigmoid"),
                 io=io, mode=mode, low=-2.0, high=2.0, opcodes=("GREATER_EQUAL", "LESS_EQUAL", "SELECT_V2")),
        ]  # fmt: skip
    # int8 models with float32 islands: the comparisons (after a DEQUANTIZE) or the select
    for name, activation, islands, opcodes in (
        ("hard_shrink_float_greater", "hard_shrink", (("GREATER",), ()), ("DEQUANTIZE", "GREATER")),
        ("sparse_sigmoid_float_compare", "sparse_sigmoid", (("GREATER_EQUAL", "LESS_EQUAL"), ()),
         ("DEQUANTIZE", "LESS_EQUAL")),
        ("hard_shrink_float_select", "hard_shrink", ((), ("SELECT_V2",)), ("SELECT_V2", "QUANTIZE")),
    ):  # fmt: skip
        FLOAT_ISLANDS[name] = islands
        found.append(Case(name, _activation_model(name, activation), low=-2.0, high=2.0, opcodes=opcodes))
    # two tensors compared with broadcasting, the bool result selecting or returned as it is
    compared = (
        ("greater", (3, 4), (1, 4), lambda k, a, b: k.ops.where(k.ops.greater(a, b), a, b), "GREATER"),
        ("less_equal", (2, 3, 4), (3, 1), lambda k, a, b: k.ops.where(k.ops.less_equal(a, b), b, a), "LESS_EQUAL"),
        ("less", (4, 1, 3), (2, 3), lambda k, a, b: k.ops.where(k.ops.less(a, b), a, 0.0), "LESS"),
        ("greater_equal", (5,), (2, 5), lambda k, a, b: k.ops.greater_equal(a, b), "GREATER_EQUAL"),
        ("equal", (2, 4), (2, 4), lambda k, a, b: k.ops.equal(k.ops.maximum(a, 0.0), a), "EQUAL"),
        ("not_equal", (3, 4), (4,), lambda k, a, b: k.ops.not_equal(k.ops.minimum(a, b), a), "NOT_EQUAL"),
    )  # fmt: skip
    for mode in ("int8", "float32"):
        io = "int8" if mode == "int8" else "float32"
        for label, first, second, body, opcode in compared:
            name = f"{label}_{mode}"
            found.append(
                Case(name, _two_branches(name, first, second, body), io=io, mode=mode, opcodes=(opcode,))
            )
        for label, shapes in (("rows", ((3, 1), (1, 4), (3, 4))), ("scalar_x", ((2, 3, 4), (1,), (3, 1)))):
            name = f"where_{label}_{mode}"
            found.append(Case(name, _where_model(name, *shapes), io=io, mode=mode, opcodes=("SELECT_V2",)))
    # two model inputs compared pairwise: many pairs of int8 values per sample, near-equal ones among them
    for opcode in ("EQUAL", "GREATER_EQUAL", "LESS"):
        name = f"pairs_{opcode.lower()}"
        found.append(Case(name, _pairs_model(name, opcode), low=-0.4, high=0.4, opcodes=(opcode, "MUL")))
    return found


def _island_converter(model, io: str, low: float, high: float, seed: int) -> bytes:
    """int8 with ``io`` I/O, the ops and output tensors FLOAT_ISLANDS names kept float32 (the calibrated
    model quantized by mlir_quantize with them denylisted, as ``--max-drop`` does)."""
    from edgeq.tflite import read_tflite

    rng = np.random.default_rng(seed)
    shape = (1, *tuple(model.inputs[0].shape)[1:])
    calibrated = calibrate_int8(
        model, [[rng.uniform(low, high, size=shape).astype(np.float32)] for _ in range(32)]
    )
    ops, outputs = FLOAT_ISLANDS[model.name]
    main = read_tflite(calibrated).main
    nodes = tuple(main.tensors[op.outputs[0]].name for op in main.operators if op.opcode in outputs)
    return quantize_keeping_float(calibrated, io, tuple(ops), nodes)


@pytest.fixture
def float_islands(monkeypatch):
    """The harness's int8 converter, or ``_island_converter`` for the models FLOAT_ISLANDS names."""
    import engine_cases

    convert_int8 = engine_cases.convert_int8

    def convert(model, io, low, high, seed):
        if model.name in FLOAT_ISLANDS:
            return _island_converter(model, io, low, high, seed)
        return convert_int8(model, io, low, high, seed)

    monkeypatch.setattr(engine_cases, "convert_int8", convert)
    return FLOAT_ISLANDS


CASES = cases()


def test_comparisons_and_select_equal_tflm_byte_for_byte(tmp_path, float_islands):
    _require_gcc()
    outcomes = check_cases(CASES, tmp_path)
    assert len(outcomes) == len(CASES) == 26 and len(float_islands) == 3
    assert failures(outcomes) == []
    by_name = {o.name: o for o in outcomes}
    # the islands are where they should be: float32 comparisons / select inside an int8 model
    assert "DEQUANTIZE" in by_name["hard_shrink_float_greater"].opcodes
    assert by_name["hard_shrink_float_select"].opcodes[-1] == "QUANTIZE"


def test_refusals_name_what_tflm_does():
    """int16 comparisons are refused with TFLM's reason (its int16 GREATER rescales with parameters
    its Prepare never sets); an int8 comparison of an input whose scale is 1 or more is refused as
    TFLM's Prepare aborts on it; the engine selects int8 and float32 values only."""
    from edgeq.engine.lowering import Builder, find_lowering, tflm_refusal
    from edgeq.errors import UnsupportedError
    from edgeq.tflite.graph import Operator, Quantization, Subgraph, Tensor

    def subgraph(opcode: str, dtypes: list[str], scales: list[float] | None = None):
        tensors = tuple(
            Tensor(i, f"t{i}", (1, 4), (1, 4), dtype, 0,
                   Quantization((scales[i],), (0,)) if scales and dtype != "bool" else None, False)
            for i, dtype in enumerate(dtypes)
        )  # fmt: skip
        op = Operator(0, opcode, 1, tuple(range(len(dtypes) - 1)), (len(dtypes) - 1,))
        return Subgraph("main", tensors, (op,), op.inputs, op.outputs), op

    def lowering_error(graph: Subgraph, op: Operator) -> str:
        _, lower = find_lowering(graph, op)
        with pytest.raises(UnsupportedError) as error:
            lower(Builder(subgraph=graph, name="m", offsets=lambda index: 0), op)
        return str(error.value)

    greater = tflm_refusal(*subgraph("GREATER", ["int16", "int16", "bool"]))
    assert greater is not None and "its Prepare leaves unset" in greater
    for opcode in ("EQUAL", "NOT_EQUAL", "GREATER_EQUAL", "LESS", "LESS_EQUAL"):
        refusal = tflm_refusal(*subgraph(opcode, ["int16", "int16", "bool"]))
        assert refusal is not None and refusal.startswith(f"TFLM's {opcode} takes") and "int16" not in refusal
    assert tflm_refusal(*subgraph("GREATER", ["int8", "int8", "bool"], [0.5, 0.5, 1.0])) is None
    coarse = lowering_error(*subgraph("LESS", ["int8", "int8", "bool"], [0.5, 1.0, 1.0]))
    assert "scale 1.0: TFLM's comparison needs 0 < scale < 1" in coarse
    mixed = lowering_error(*subgraph("SELECT_V2", ["bool", "int8", "float32", "int8"], [1.0, 0.5, 1.0, 0.5]))
    assert "needs one type" in mixed
