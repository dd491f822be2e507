"""LOGISTIC, TANH, HARD_SWISH, RELU, RELU6 and LEAKY_RELU (int8): the generated C engine against
TFLite Micro, byte for byte.

An int8 element-wise op has only 256 possible inputs per quantization, so besides the randomized
Keras configurations (10 random inputs each) every op is also checked exhaustively: all 256 input
bytes, on converted models and on copies of them whose quantization parameters (and LEAKY_RELU's
alpha, including negative ones Keras cannot produce) are rewritten to a seeded sweep of values.
"""

from __future__ import annotations

import numpy as np
from engine_cases import Case, check_cases, convert_int8, failures, keras_module

OPCODES = ("LOGISTIC", "TANH", "HARD_SWISH", "RELU", "RELU6", "LEAKY_RELU")
ALL_INPUTS = np.arange(-128, 128, dtype=np.int8)


def _layer(keras, opcode: str, alpha: float):
    if opcode == "LOGISTIC":
        return keras.layers.Activation("sigmoid")
    if opcode == "TANH":
        return keras.layers.Activation("tanh")
    if opcode == "HARD_SWISH":
        return keras.layers.Activation("hard_swish")
    if opcode == "RELU":
        return keras.layers.ReLU()
    if opcode == "RELU6":
        return keras.layers.ReLU(max_value=6.0)
    return keras.layers.LeakyReLU(negative_slope=alpha)


def _calibration(rng: np.random.Generator) -> tuple[float, float]:
    """Calibration ranges: symmetric-ish, one-sided (zero point -128 or 127), small and large."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return -float(rng.uniform(0.05, 8)), float(rng.uniform(0.05, 8))
    if kind == 1:
        low = float(rng.uniform(0, 2))
        return low, low + float(rng.uniform(0.1, 10))
    if kind == 2:
        high = -float(rng.uniform(0, 2))
        return high - float(rng.uniform(0.1, 10)), high
    spread = float(10 ** rng.uniform(-2, 1.5))
    return -spread * float(rng.uniform(0.1, 1)), spread


def activation_cases(count: int, seed: int) -> list[Case]:
    """``count`` Keras models: each op directly on the input, or after another activation (which
    gives it the input quantization that op's output has) or a reshape."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        opcode = OPCODES[number % len(OPCODES)]
        shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        alpha = float(rng.choice([0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 3.0]))
        before = str(rng.choice(["none", "none", "reshape", "leaky", "tanh", "hard_swish"]))
        if (before == "leaky" and opcode == "LEAKY_RELU") or (before == "tanh" and opcode == "TANH"):
            before = "none"
        if before == "hard_swish" and opcode == "HARD_SWISH":
            before = "none"
        if before == "hard_swish" and opcode in ("RELU", "RELU6"):
            before = "tanh"  # the converter rewrites hard_swish + relu into ADD, MUL, MUL
        prior_alpha = float(rng.uniform(0.05, 0.9))
        low, high = _calibration(rng)

        def build(opcode=opcode, shape=shape, alpha=alpha, before=before, prior_alpha=prior_alpha):
            keras = keras_module()
            inputs = keras.Input(shape, batch_size=1)
            x = inputs
            if before == "reshape":
                x = keras.layers.Reshape((int(np.prod(shape)),))(x)
            elif before == "leaky":
                x = keras.layers.LeakyReLU(negative_slope=prior_alpha)(x)
            elif before in ("tanh", "hard_swish"):
                x = keras.layers.Activation(before)(x)
            return keras.Model(inputs, _layer(keras, opcode, alpha)(x))

        name = f"{opcode.lower()}_{number}"
        cases.append(Case(name, build, low=low, high=high, opcodes=(opcode,)))
    return cases


ACTIVATION_CASES = activation_cases(72, 20)


def test_activations_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(ACTIVATION_CASES, tmp_path)
    assert len(outcomes) == 72
    assert failures(outcomes) == []


# --- exhaustive: all 256 inputs --------------------------------------------------------------------


def _single_op_model(opcode: str, low: float, high: float, alpha: float, seed: int) -> bytes:
    keras = keras_module()
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((256,), batch_size=1)
    model = keras.Model(inputs, _layer(keras, opcode, alpha)(inputs))
    return convert_int8(model, "int8", low, high, seed)


def _requantized(model: bytes, input_q: tuple[float, int], output_q: tuple[float, int] | None,
                 alpha: float | None) -> bytes:  # fmt: skip
    """A copy of a one-op model with new input (and output) quantization and LEAKY_RELU alpha."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    subgraph = tree.subgraphs[0]
    changes = [(subgraph.inputs[0], input_q), (subgraph.outputs[0], output_q)]
    for index, quantization in changes:
        if quantization is not None:
            subgraph.tensors[index].quantization.scale = [float(np.float32(quantization[0]))]
            subgraph.tensors[index].quantization.zeroPoint = [int(quantization[1])]
    if alpha is not None:
        subgraph.operators[0].builtinOptions.alpha = float(np.float32(alpha))
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _sweep(opcode: str, base: bytes, count: int, rng: np.random.Generator) -> dict[str, bytes]:
    """``count`` requantized copies of ``base`` covering the scales, zero points and alphas."""
    models = {}
    for number in range(count):
        in_scale = float(10 ** rng.uniform(-3.5, 0.3))
        in_zp = int(rng.integers(-128, 128))
        output_q, alpha = None, None
        if opcode in ("LOGISTIC", "TANH"):
            if number == 0:
                in_scale = 9.5  # TFLM's input radius is 0: every output saturates
            # TFLM reads neither scale; LOGISTIC requires the zero point -128, TANH ignores it
            zp = -128 if opcode == "LOGISTIC" else int(rng.integers(-128, 128))
            output_q = (float(10 ** rng.uniform(-3, 0)), zp)
        elif opcode == "HARD_SWISH":
            # TFLM requires in_scale / 128 / out_scale <= 1
            output_q = (in_scale * float(10 ** rng.uniform(-2, 0.6)), int(rng.integers(-128, 128)))
        elif opcode == "RELU6":
            output_q = (float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))  # not read
        else:
            output_q = (in_scale * float(10 ** rng.uniform(-0.8, 0.8)), int(rng.integers(-128, 128)))
            if opcode == "LEAKY_RELU":
                alpha = float(rng.choice([0.0, -0.25, -1.0, -3.0, 1.0, 2.5])) if number < 6 else None
                alpha = float(rng.uniform(-2, 2)) if alpha is None else alpha
        models[f"{opcode.lower()}_sweep{number}"] = _requantized(base, (in_scale, in_zp), output_q, alpha)
    return models


def _exhaustive_failures(models: dict[str, bytes], folder) -> list[str]:
    """Every model on all 256 input bytes, engine against TFLM; one line per differing model."""
    from edgeq.engine.generate import generate_engine
    from edgeq.engine.host import compile_host
    from edgeq.errors import EdgeqError
    from edgeq.runtimes.runners import run_probe
    from edgeq.tflite import read_tflite

    problems, sources = [], {}
    for name, model in models.items():
        try:
            sources[name] = generate_engine(read_tflite(model), name)
        except EdgeqError as exc:
            problems.append(f"{name}: generation: {exc}")
    engines = compile_host(sources, folder / "build")
    values = ALL_INPUTS.reshape(1, 256)
    steps = [
        {"run": "tflm", "arena": 1 << 20, "model": f"{name}.tflite", "inputs": "all.npz",
         "outputs": f"{name}_out.npz"}
        for name in sources
    ]  # fmt: skip
    results = run_probe(
        models[next(iter(sources))],
        steps,
        {"all.npz": {"input_0": values}},
        models={f"{name}.tflite": models[name] for name in sources},
    )
    for name, result in zip(sources, results, strict=True):
        if not result.ok:
            problems.append(f"{name}: TFLM: {result.reason()}")
            continue
        expected = result.data["arrays"]["output_0"].reshape(-1)
        got = engines.run(name, values).reshape(-1).astype(expected.dtype)
        wrong = np.flatnonzero(got != expected)
        if wrong.size:
            first = int(wrong[0])
            problems.append(
                f"{name}: {wrong.size} of 256 inputs differ (input {first - 128}: {got[first]}, "
                f"TFLM {expected[first]})"
            )
    return problems


def test_activations_on_all_256_inputs_equal_tflm(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    rng = np.random.default_rng(21)
    models: dict[str, bytes] = {}
    for number, opcode in enumerate(OPCODES):
        # converted models: calibration on [-1, 1] and on a one-sided range (different per op)
        models[f"{opcode.lower()}_keras0"] = _single_op_model(opcode, -1.0, 1.0, 0.2, number)
        low, high, alpha = ((-6.0, 0.5, 0.05), (0.2, 12.0, 1.7))[number % 2]
        models[f"{opcode.lower()}_keras1"] = _single_op_model(opcode, low, high, alpha, number)
        models.update(_sweep(opcode, models[f"{opcode.lower()}_keras0"], 30, rng))
    assert len(models) == 6 * 32
    assert _exhaustive_failures(models, tmp_path) == []
