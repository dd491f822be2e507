"""Randomized per-op checks of edgeq's C engine against the real TFLite Micro interpreter.

A *case* is a tiny Keras model built from a seeded configuration. ``check_cases`` converts each
to a full-integer .tflite with the real TFLiteConverter, generates its engine, compiles every
engine into one host program (one gcc call), runs ``samples`` random inputs through it and
through TFLM (one child process for all models), and reports every case whose output bytes differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    """``build()`` returns a Keras model with batch size 1; ``io`` is the .tflite I/O type
    (``int8``, or ``float32`` for an int8 model with float I/O: QUANTIZE / DEQUANTIZE at the ends);
    calibration samples are uniform in [low, high)."""

    name: str
    build: Callable[[], Any]
    io: str = "int8"
    low: float = -1.0
    high: float = 1.0
    opcodes: tuple[str, ...] = ()  # ops the converted model must contain (checked)
    mode: str = "int8"  # int8 (convert_int8), int16x8 or float32 (convert_mode)
    tolerance: float = 0.0  # float32 outputs: largest |engine - TFLM| / (1 + |TFLM|) accepted


@dataclass(frozen=True)
class Outcome:
    name: str
    opcodes: tuple[str, ...]
    differing_bytes: int  # bytes (or float32 values beyond the case's tolerance) that differ
    max_difference: float
    problem: str | None = None


def keras_module() -> Any:
    """Keras, imported after TensorFlow has been quietened."""
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def calibration_range(
    rng: np.random.Generator, widest: tuple[float, float] = (-1.5, 1.2)
) -> tuple[float, float]:
    """A calibration range, symmetric, one-sided or skewed, of width 10**u for u uniform in
    ``widest``: varied scales and zero points."""
    kind = int(rng.integers(0, 4))
    width = float(10 ** rng.uniform(*widest))
    if kind == 0:
        return -width, width
    if kind == 1:
        return 0.0, width
    if kind == 2:
        return -width, width * float(rng.uniform(0.05, 0.5))
    return -width * float(rng.uniform(0.05, 0.5)), width


def convert_int8(model: Any, io: str, low: float, high: float, seed: int) -> bytes:
    """The real TFLiteConverter, full-integer int8 with ``io`` inputs and outputs."""
    return convert_mode(model, "int8", io, low, high, seed)


def convert_mode(model: Any, mode: str, io: str, low: float, high: float, seed: int) -> bytes:
    """The real TFLiteConverter: ``mode`` int8 or int16x8 (full integer, ``io`` int8 / int16 or
    float32 inputs and outputs), or float32; per-tensor dense weights, as ``edgeq convert``.
    Calibration samples are uniform in [low, high) for every input (integer inputs, an Embedding's
    indices: integers in [0, high)), of the model's batch when it has a fixed one (a fixed-batch
    RESHAPE rejects batches of another size), else of one."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    rng = np.random.default_rng(seed)

    def sample(tensor: Any) -> np.ndarray:
        batch, *rest = tuple(tensor.shape)
        shape = (batch or 1, *rest)
        if "int" in str(tensor.dtype):
            return rng.integers(0, max(int(high), 1), size=shape).astype(np.int32)
        return rng.uniform(low, high, size=shape).astype(np.float32)

    # by the inputs' names in the converter's signature (the Keras input tensors' names): a list would be
    # fed in the signature's order, which is not always the model's
    names = [t.name for t in model.inputs]
    samples = [{n: sample(t) for n, t in zip(names, model.inputs, strict=True)} for _ in range(32)]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            if mode == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        if io in ("int8", "int16"):
            converter.inference_input_type = tf.int8 if mode == "int8" else tf.int16
            converter.inference_output_type = converter.inference_input_type
    with quiet():
        return bytes(converter.convert())


def tf_layer(function: Callable[..., Any]) -> Any:
    """A Keras layer calling a TensorFlow function on its inputs (ops Keras has no layer for)."""
    keras = keras_module()

    class Function(keras.layers.Layer):
        def call(self, *inputs):
            return function(*inputs)

    return Function()


def calibrate_int8(model: Any, samples: list[Any]) -> bytes:
    """The real converter's calibrated (not yet quantized) int8 model, per-tensor dense weights:
    the first half of what ``--max-drop`` does."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    converter._experimental_calibrate_only = True
    with quiet():
        return bytes(converter.convert())


def quantize_keeping_float(
    calibrated: bytes, io: str, ops: tuple[str, ...] = (), nodes: tuple[str, ...] = ()
) -> bytes:
    """``calibrated`` quantized to int8 (``io`` int8 or float32 inputs and outputs) by mlir_quantize
    with the op types ``ops`` and the ops writing the tensors ``nodes`` kept float32."""
    from tensorflow.lite.python import convert

    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    kind = tf.int8 if io == "int8" else tf.float32
    with quiet():
        return bytes(
            convert.mlir_quantize(calibrated, fully_quantize=True, input_data_type=kind, output_data_type=kind,
                                  denylisted_ops=list(ops) or None, denylisted_nodes=list(nodes) or None)
        )  # fmt: skip


def tflm_runs(tflite: bytes, values: np.ndarray) -> bool:
    """Whether TFLite Micro allocates and invokes ``tflite`` on one input ``values``."""
    from edgeq.runtimes.runners import run_probe

    step = {
        "run": "tflm",
        "arena": 1 << 20,
        "model": "model.tflite",
        "inputs": "in.npz",
        "outputs": "out.npz",
    }
    [result] = run_probe(tflite, [step], {"in.npz": {"input_0": values}})
    return result.ok


def random_inputs(tensor: Any, count: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """``count`` inputs for ``tensor``: the full integer range, or floats in [low, high) widened
    by a quarter on each side (so quantization clamps some); int32 inputs (indices) in [0, high)."""
    shape = (count, *tensor.shape)
    if tensor.dtype == "int8":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    if tensor.dtype == "int16":
        return rng.integers(-32768, 32768, size=shape, dtype=np.int16)
    if tensor.dtype == "int32":
        return rng.integers(0, max(int(high), 1), size=shape, dtype=np.int32)
    margin = (high - low) / 4
    return rng.uniform(low - margin, high + margin, size=shape).astype(np.float32)


def check_cases(cases: list[Case], folder: Path, samples: int = 10, seed: int = 0) -> list[Outcome]:
    """Convert, generate, compile and compare every case; one Outcome per case."""
    import keras

    from edgeq.engine.generate import generate_engine
    from edgeq.engine.host import compile_host
    from edgeq.errors import EdgeqError
    from edgeq.runtimes.runners import run_probe
    from edgeq.tflite import read_tflite

    folder.mkdir(parents=True, exist_ok=True)
    models: dict[str, bytes] = {}
    sources = {}
    outcomes: dict[str, Outcome] = {}
    opcodes: dict[str, tuple[str, ...]] = {}
    input_tensors: dict[str, list[Any]] = {}
    for number, case in enumerate(cases):
        keras.utils.set_random_seed(seed + number)
        if case.mode == "int8":
            tflite = convert_int8(case.build(), case.io, case.low, case.high, seed + number)
        else:
            tflite = convert_mode(case.build(), case.mode, case.io, case.low, case.high, seed + number)
        graph = read_tflite(tflite)
        opcodes[case.name] = tuple(op.opcode for op in graph.main.operators)
        missing = set(case.opcodes) - set(opcodes[case.name])
        if missing:
            outcomes[case.name] = Outcome(
                case.name, opcodes[case.name], -1, -1, f"no {sorted(missing)} in model"
            )
            continue
        try:
            sources[case.name] = generate_engine(graph, case.name)
        except EdgeqError as exc:
            outcomes[case.name] = Outcome(case.name, opcodes[case.name], -1, -1, f"generation: {exc}")
            continue
        models[case.name] = tflite
        input_tensors[case.name] = [graph.main.tensors[i] for i in graph.main.inputs]
    if not sources:
        return [outcomes[case.name] for case in cases]
    engines = compile_host(sources, folder / "build")
    rng = np.random.default_rng(seed)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    steps = []
    inputs: dict[str, list[np.ndarray]] = {}
    for case in cases:
        if case.name not in sources:
            continue
        inputs[case.name] = [
            random_inputs(t, samples, rng, case.low, case.high) for t in input_tensors[case.name]
        ]
        for i in range(samples):
            arrays[f"{case.name}_in{i}.npz"] = {f"input_{k}": x[i] for k, x in enumerate(inputs[case.name])}
            steps.append(
                {"run": "tflm", "arena": 1 << 20, "model": f"{case.name}.tflite",
                 "inputs": f"{case.name}_in{i}.npz", "outputs": f"{case.name}_out{i}.npz"}
            )  # fmt: skip
    first = next(iter(models.values()), b"")
    results = (
        run_probe(first, steps, arrays, models={f"{n}.tflite": m for n, m in models.items()}) if steps else []
    )
    by_case: dict[str, list[Any]] = {}
    for step, result in zip(steps, results, strict=True):
        by_case.setdefault(step["model"].removesuffix(".tflite"), []).append(result)
    for case in cases:
        if case.name in outcomes:
            continue
        tflm_results = by_case[case.name]
        if not all(r.ok for r in tflm_results):
            bad = next(r for r in tflm_results if not r.ok)
            outcomes[case.name] = Outcome(case.name, opcodes[case.name], -1, -1, f"TFLM: {bad.reason()}")
            continue
        try:
            engine = engines.run_many(case.name, inputs[case.name])
        except EdgeqError as exc:
            outcomes[case.name] = Outcome(case.name, opcodes[case.name], -1, -1, f"engine: {exc}")
            continue
        differing, largest = 0, 0.0
        for k, got in enumerate(engine):
            expected = np.stack([r.data["arrays"][f"output_{k}"].reshape(-1) for r in tflm_results])
            got = got.reshape(expected.shape).astype(expected.dtype)
            if expected.dtype == np.float32 and case.tolerance > 0:
                relative = np.abs(got.astype(np.float64) - expected) / (
                    1 + np.abs(expected.astype(np.float64))
                )
                differing += int(np.count_nonzero(~(relative <= case.tolerance)))  # NaN differs
                largest = max(largest, float(np.nan_to_num(relative, nan=np.inf).max(initial=0)))
                continue
            difference = np.abs(got.astype(np.float64) - expected.astype(np.float64))
            differing += int(np.count_nonzero(got.view(np.uint8) != expected.view(np.uint8)))
            largest = max(largest, float(np.nan_to_num(difference, nan=np.inf).max(initial=0)))
        outcomes[case.name] = Outcome(case.name, opcodes[case.name], differing, largest)
    return [outcomes[case.name] for case in cases]


def failures(outcomes: list[Outcome]) -> list[str]:
    """Readable lines for every case that did not match TFLM byte for byte."""
    return [
        f"{o.name} {list(o.opcodes)}: {o.problem or f'{o.differing_bytes} bytes differ, max {o.max_difference}'}"
        for o in outcomes
        if o.problem or o.differing_bytes
    ]
