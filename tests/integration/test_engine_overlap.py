"""Outputs laid over their dying inputs (edgeq.engine.inplace) in int16x8 and float32 models: for
every (opcode, kind) the memory planner lets overlap, a Keras model whose engine plan does overlap
that op's output with its input, run against TFLite Micro on 10 random inputs, byte for byte
(float32 too: these kernels repeat TFLM's float operations in its order). The plans checked are
those of the engines compiled and compared (recorded from generate_engine)."""

from __future__ import annotations

import pytest
from engine_cases import Case, check_cases, failures, keras_module

from edgeq.engine.inplace import ELEMENTWISE, FULLY_CONNECTED_KINDS, WINDOWED

MODES = {"int16x8": "int16", "float32": "float32"}  # conversion mode -> the kind of its ops


def _model(shape: tuple[int, ...], body, batch: int = 1):
    """A Keras model of one input of ``shape`` whose output is ``body(keras, x)``."""

    def build():
        keras = keras_module()
        x = keras.Input(batch_shape=(batch, *shape))
        return keras.Model(x, body(keras, x))

    return build


def _two_inputs(shape: tuple[int, ...], body):
    def build():
        keras = keras_module()
        a, b = keras.Input(batch_shape=(1, *shape)), keras.Input(batch_shape=(1, *shape))
        return keras.Model([a, b], body(keras, a, b))

    return build


def _activations(keras, a, b, hard_swish: bool):
    """ADD, MUL, then a chain of element-wise activations, each dying at the next."""
    y = keras.layers.Multiply()([keras.layers.Add()([a, b]), b])
    y = keras.layers.Activation("sigmoid")(y)
    y = keras.layers.Activation("tanh")(y)
    if hard_swish:
        y = keras.layers.Activation("hard_silu")(y)
    y = keras.layers.LeakyReLU(negative_slope=0.2)(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.ReLU(6.0)(y)
    return keras.layers.Softmax()(y)


def overlap_cases(mode: str) -> list[tuple[Case, tuple[str, ...]]]:
    """(case, the opcodes whose every op must overlap its input in the plan)."""
    io = "int16" if mode == "int16x8" else "float32"
    built = []

    def add(name: str, build, opcodes: tuple[str, ...], low: float = -1.0, high: float = 1.0) -> None:
        case = Case(f"overlap_{mode}_{name}", build, io=io, low=low, high=high, opcodes=opcodes, mode=mode)
        built.append((case, opcodes))

    layers = [
        ("conv_same", (8, 8, 3), lambda k, x: k.layers.Conv2D(6, 3, padding="same", activation="relu")(x),
         ("CONV_2D",)),
        ("conv_valid_stride2", (9, 9, 4), lambda k, x: k.layers.Conv2D(3, 3, strides=2)(x), ("CONV_2D",)),
        ("conv_dilated", (9, 8, 2),
         lambda k, x: k.layers.Conv2D(5, 3, dilation_rate=2, padding="same")(x), ("CONV_2D",)),
        ("depthwise_x2", (7, 7, 3),
         lambda k, x: k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x),
         ("DEPTHWISE_CONV_2D",)),
        ("depthwise_stride2", (8, 9, 4),
         lambda k, x: k.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x),
         ("DEPTHWISE_CONV_2D",)),
        ("max_pool", (8, 8, 3), lambda k, x: k.layers.MaxPooling2D(2)(x), ("MAX_POOL_2D",)),
        ("average_pool_same", (7, 6, 3),
         lambda k, x: k.layers.AveragePooling2D(3, strides=1, padding="same")(x), ("AVERAGE_POOL_2D",)),
        ("dense_rank3", (6, 10), lambda k, x: k.layers.Dense(7)(x), ("FULLY_CONNECTED",)),
        ("transpose_same", (5, 5, 3),
         lambda k, x: k.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x), ("TRANSPOSE_CONV",)),
        ("transpose_valid", (4, 5, 2),
         lambda k, x: k.layers.Conv2DTranspose(3, (3, 2), strides=(2, 1), activation="relu")(x),
         ("TRANSPOSE_CONV",)),
        ("transpose_stride1", (5, 4, 3),
         lambda k, x: k.layers.Conv2DTranspose(2, 3, padding="same", use_bias=False)(x), ("TRANSPOSE_CONV",)),
    ]  # fmt: skip
    for name, shape, body, opcodes in layers:
        add(name, _model(shape, body), opcodes)
    hard_swish = mode == "float32"
    chain = ("ADD", "MUL", "LOGISTIC", "TANH", "LEAKY_RELU", "RELU", "RELU6", "SOFTMAX")
    add("elementwise", _two_inputs((4, 6), lambda k, a, b: _activations(k, a, b, hard_swish)),
        chain + (("HARD_SWISH",) if hard_swish else ()), -3.0, 3.0)  # fmt: skip
    if mode == "float32":  # kernels only float32 has: grouped convolution, batches
        add("conv_groups", _model((6, 6, 4), lambda k, x: k.layers.Conv2D(6, 3, groups=2, padding="same")(x)),
            ("CONV_2D",))  # fmt: skip
        add("conv_batch2", _model((5, 5, 2), lambda k, x: k.layers.Conv2D(4, 3, padding="same")(x), batch=2),
            ("CONV_2D",))  # fmt: skip
        add("transpose_batch2",
            _model((3, 4, 2), lambda k, x: k.layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x), batch=2),
            ("TRANSPOSE_CONV",))  # fmt: skip
    return built


def _overlapping(graph, plan, op) -> bool:
    """Whether ``op``'s output occupies bytes of one of its (non-constant) inputs in ``plan``."""
    from edgeq.engine.lowering import ALIASES

    aliases = {o.outputs[0]: o.inputs[0] for o in graph.main.operators if o.opcode in ALIASES}

    def span(tensor: int) -> tuple[int, int] | None:
        while tensor in aliases:
            tensor = aliases[tensor]
        found = [(p.offset, p.offset + p.size) for p in plan.placements if p.tensor == tensor]
        return found[0] if found else None

    out = span(op.outputs[0])
    for index in op.inputs:
        if index < 0 or graph.main.tensors[index].is_constant:
            continue
        source = span(index)
        if out and source and out[0] < source[1] and source[0] < out[1]:
            return True
    return False


def test_the_cases_cover_every_overlapping_int16_and_float32_kernel():
    covered = {
        (opcode, MODES[case.mode])
        for mode in MODES
        for case, opcodes in overlap_cases(mode)
        for opcode in opcodes
    }
    allowed = {(opcode, kind) for opcode, kinds in ELEMENTWISE.items() for kind in kinds}
    allowed |= {("FULLY_CONNECTED", kind) for kind in FULLY_CONNECTED_KINDS} | set(WINDOWED)
    assert {pair for pair in allowed if pair[1] != "int8"} <= covered


@pytest.mark.parametrize("mode", sorted(MODES))
def test_overlapped_int16_and_float32_plans_equal_tflm(tmp_path, monkeypatch, mode):
    from conftest import require_tool

    import edgeq.engine.generate as generate
    from edgeq.engine.lowering import op_kind

    require_tool("gcc")
    engines = {}
    original = generate.generate_engine

    def recording(graph, name, *args, **kwargs):
        source = original(graph, name, *args, **kwargs)
        engines[name] = (graph, source)
        return source

    monkeypatch.setattr(generate, "generate_engine", recording)
    cases = overlap_cases(mode)
    outcomes = check_cases([case for case, _ in cases], tmp_path)
    assert failures(outcomes) == []
    for case, opcodes in cases:
        graph, source = engines[case.name]
        assert source.plan.overlapping_pairs > 0, case.name
        for op in graph.main.operators:
            if op.opcode in opcodes:
                assert op_kind(graph.main, op) == MODES[mode], (case.name, op.opcode)
                assert _overlapping(graph, source.plan, op), (case.name, op.index, op.opcode)
