"""Checking converted files and spending an accuracy budget: shared by convert, --max-drop and qat.

``mode_result`` runs a .tflite file in LiteRT (in a child process) and evaluates it against the
float model; ``mixed_precision`` drives the ``--max-drop`` search over a calibrated model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeq.conversion.evaluate import evaluate
from edgeq.conversion.mixed import DEFAULT_MAX_TRIALS, search
from edgeq.conversion.sensitivity import CalibratedModel
from edgeq.data import Dataset
from edgeq.results.convert import ModeResult
from edgeq.results.evaluation import Evaluation
from edgeq.results.layers import LayerError, ranked
from edgeq.results.mixed import MixedPrecision
from edgeq.runtimes.tensors import TensorInfo, quantize

TFLM_CHECK_SAMPLES = 20
_QUANTIZE_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclass(frozen=True)
class LiteRTRun:
    runs: bool
    inputs: tuple[TensorInfo, ...]
    outputs_info: tuple[TensorInfo, ...]
    outputs: list[np.ndarray] | None
    problem: str | None


def run_in_litert(
    tflite: bytes, evaluation: Dataset | None, smoke: np.ndarray | None, reference_kernels: bool = True
) -> LiteRTRun:
    """Evaluate with the reference kernels (the default kernels when not ``reference_kernels``) and
    run once with the default (XNNPACK) kernels, as an app would, both in a child process: LiteRT
    aborts the process on some models (for example an int8 SOFTMAX whose input scale is near zero),
    and that must not take edgeq down with it."""
    from edgeq.runtimes.runners import run_probe

    arrays = {"smoke.npz": {"x": smoke if smoke is not None else np.zeros((0,), np.float32)}}
    steps = [{"run": "evaluate", "reference": False, "samples": "smoke.npz" if smoke is not None else None}]
    if evaluation is not None:
        arrays["eval.npz"] = {"x": evaluation.x}
        steps.insert(
            0,
            {"run": "evaluate", "reference": reference_kernels, "samples": "eval.npz", "outputs": "out.npz"},
        )
    results = run_probe(tflite, steps, arrays)
    described = next((r for r in results if r.ok), None)
    inputs = tuple(_tensor_info(d) for d in described.data["input_details"]) if described else ()
    outputs_info = tuple(_tensor_info(d) for d in described.data["output_details"]) if described else ()
    outputs = None
    if evaluation is not None and results[0].ok:
        saved = results[0].data["arrays"]
        outputs = [saved[f"output_{i}"] for i in range(len(saved))]
    failed = [
        (kind, r)
        for kind, r in zip(
            ("reference" if reference_kernels else "default", "default")[-len(results) :],
            results,
            strict=True,
        )
        if not r.ok
    ]
    problem = "; ".join(f"LiteRT ({kind} kernels): {r.reason()}" for kind, r in failed) or None
    return LiteRTRun(
        runs=results[-1].ok, inputs=inputs, outputs_info=outputs_info, outputs=outputs, problem=problem
    )


def _tensor_info(described: dict) -> TensorInfo:
    return TensorInfo(**{**described, "shape": tuple(described["shape"])})


def mode_result(
    key: str,
    label: str,
    scheme: str,
    io: str,
    file_name: str,
    tflite: bytes,
    seconds: float,
    evaluation_set: Dataset | None,
    reference_outputs: list[np.ndarray] | None,
    smoke: np.ndarray | None,
    reference_kernels: bool = True,
) -> ModeResult:
    """A converted file checked in LiteRT and, with evaluation data, evaluated (with LiteRT's
    reference kernels, or its default ones when not ``reference_kernels``)."""
    from edgeq.tflite import read_tflite

    checked = run_in_litert(tflite, evaluation_set, smoke, reference_kernels)
    evaluation = None
    if checked.outputs is not None and reference_outputs is not None and evaluation_set is not None:
        evaluation = evaluate(reference_outputs, checked.outputs, evaluation_set.y)
    return ModeResult(
        key=key, label=label, scheme=scheme, io=io, file_name=file_name, tflite=tflite,
        conversion_seconds=seconds, ops=read_tflite(tflite, label).op_names(), inputs=checked.inputs,
        outputs=checked.outputs_info, runs_in_litert=checked.runs, evaluation=evaluation,
        problem=checked.problem,
    )  # fmt: skip


def budget_metric(reference: Evaluation, evaluation: Evaluation | None) -> tuple[str, float]:
    """(name, value) of what ``--max-drop`` bounds: top-1 drop in points when the evaluation has
    labels and a classifier output, else the worst output's relative L2 error."""
    if evaluation is None:
        return "unmeasured", float("inf")
    if reference.top1 is not None and evaluation.top1 is not None:
        return "top-1 drop (points)", (reference.top1 - evaluation.top1) * 100.0
    return "relative L2 error", max(f.relative_l2 for f in evaluation.outputs)


def tflm_check(tflite: bytes, inputs: tuple[TensorInfo, ...], x: np.ndarray) -> object:
    """TFLM against LiteRT's reference kernels on the first samples of ``x`` (float, preprocessed)."""
    from edgeq.runtimes.runners import compare_tflm_with_reference

    if not inputs:
        return None
    raw = quantize(x[:TFLM_CHECK_SAMPLES], inputs[0])
    return compare_tflm_with_reference(tflite, raw)


def float_kernels(tflite: bytes) -> tuple[str, ...]:
    """Ops of ``tflite`` that compute in float (QUANTIZE / DEQUANTIZE conversions left out)."""
    from edgeq.tflite import read_tflite

    main = read_tflite(tflite, "model").main
    return tuple(
        op.opcode
        for op in main.operators
        if op.opcode not in _QUANTIZE_OPS
        and any(t >= 0 and main.tensors[t].dtype.startswith("float") for t in op.outputs)
    )


def _weight_bytes_by_output(tflite: bytes) -> dict[str, int]:
    """Bytes of constant inputs (weights, biases) of each op, keyed by its output tensor's name."""
    from edgeq.tflite import read_tflite

    main = read_tflite(tflite, "model").main
    sizes = {}
    for op in main.operators:
        constants = sum(main.tensors[t].nbytes for t in op.inputs if t >= 0 and main.tensors[t].is_constant)
        for t in op.outputs:
            sizes[main.tensors[t].name] = constants
    return sizes


def mixed_precision(
    calibrated: CalibratedModel,
    errors: tuple[LayerError, ...],
    int8: ModeResult,
    budget: float,
    reference: Evaluation,
    evaluation_set: Dataset,
    reference_outputs: list[np.ndarray],
    file_name: str,
    say: Callable[[str], None],
    max_trials: int = DEFAULT_MAX_TRIALS,
) -> tuple[MixedPrecision, ModeResult | None]:
    """Search for the cheapest model within ``budget``; returns the report and the chosen mixed
    model's ModeResult (None when plain int8 meets the budget or nothing does)."""
    metric, int8_value = budget_metric(reference, int8.evaluation)
    by_index = {error.op_index: error for error in errors}
    quantized: dict[tuple[str, tuple[int, ...]], tuple[bytes, float]] = {
        (int8.io, ()): (int8.tflite, int8.conversion_seconds)
    }

    said: list[tuple[str, tuple[int, ...]]] = []  # the trials announced so far, to tell them apart

    def op_label(op_index: int) -> str:
        error = by_index[op_index]
        return f"op {op_index} {error.op}" + (f" ({error.keras_layer})" if error.keras_layer else "")

    def what(io: str, ops: tuple[int, ...]) -> str:
        # pruning tries one op fewer at a time: name the op that goes back to int8
        for number, (earlier_io, earlier) in reversed(list(enumerate(said, start=1))):
            if earlier_io == io and set(ops) < set(earlier) and len(earlier) - len(ops) <= 2:
                back = ", ".join(op_label(i) for i in sorted(set(earlier) - set(ops)))
                return f"trial {number}'s without {back}"
        if not ops:
            return "every op in int8"
        shown = ", ".join(op_label(i) for i in ops[:3])
        return shown + (f" and {len(ops) - 3} more" if len(ops) > 3 else "")

    def measurer(io: str) -> Callable[[tuple[int, ...]], tuple[float, int]]:
        def measure(ops: tuple[int, ...]) -> tuple[float, int]:
            if (io, ops) == (int8.io, ()):
                return int8_value, int8.size_bytes
            io_words = "" if io == int8.io else ", float input/output"
            say(f"--max-drop: trial {len(said) + 1}: {len(ops)} op(s) in float{io_words}: {what(io, ops)}")
            said.append((io, ops))
            started = time.perf_counter()
            tflite = calibrated.quantize([by_index[i].tensor for i in ops], io=io)
            quantized[(io, ops)] = (tflite, time.perf_counter() - started)
            run = run_in_litert(tflite, evaluation_set, None)
            if run.outputs is None:
                return float("inf"), len(tflite)
            measured = evaluate(reference_outputs, run.outputs, evaluation_set.y)
            return budget_metric(reference, measured)[1], len(tflite)

        return measure

    weights = _weight_bytes_by_output(int8.tflite)

    def weight_bytes(op_index: int) -> int:
        return weights.get(by_index[op_index].tensor, 0)

    ranking = ranked(errors)
    io = int8.io
    outcome = search(ranking, measurer(io), budget, weight_bytes, max_trials)
    trials = [dataclasses.replace(trial, io=io) for trial in outcome.trials]
    io_note = ""
    if outcome.chosen is None and io == "int8" and max_trials - len(trials) >= 2:
        # Every op in float and still too far: what is left is the int8 input/output quantization
        # (the converter can give the input a scale shared with a CONCATENATION, for example).
        worst = outcome.best_possible.metric if outcome.best_possible else int8_value
        io_note = (
            f"; with int8 input and output even every op in float gives {metric} {worst:.3f}, "
            "so this model takes and returns float32 (it quantizes inside)"
        )
        io = "float32"
        say("--max-drop: int8 input/output cannot meet the budget; searching again with float input/output")
        outcome = search(ranking, measurer(io), budget, weight_bytes, max_trials - len(trials))
        trials += [dataclasses.replace(trial, io=io) for trial in outcome.trials]
    common = dict(budget=budget, metric=metric, int8_value=int8_value, int8_size_bytes=int8.size_bytes,
                  trials=tuple(trials), io=io)  # fmt: skip
    if outcome.chosen is not None and not outcome.chosen.float_ops and io == int8.io:
        message = f"full int8 meets the budget: {metric} {int8_value:.3f} <= {budget:g}, after one evaluation"
        return MixedPrecision(outcome="int8", value=int8_value, float_layers=(), float_kernels=(),
                              mode_key=None, size_bytes=int8.size_bytes, tflm=None, message=message,
                              **common), None  # fmt: skip
    if outcome.chosen is None:
        best = outcome.best_possible
        value = best.metric if best is not None else int8_value
        io_words = " (and with float input/output)" if io != int8.io else ""
        message = (
            f"no model meets the budget: full int8 gives {metric} {int8_value:.3f}, and keeping every "
            f"quantized op in float{io_words} still gives {value:.3f} > {budget:g}"
        )
        return MixedPrecision(outcome="unreachable", value=value, float_layers=(), float_kernels=(),
                              mode_key=None, size_bytes=None, tflm=None, message=message,
                              **common), None  # fmt: skip
    chosen = outcome.chosen
    tflite, seconds = quantized.get((io, chosen.float_ops), (int8.tflite, int8.conversion_seconds))
    label = "int8 + float ops" if io == int8.io else "int8 + float ops, float I/O"
    result = mode_result(
        "int8_mixed", label, "int8_mixed", io, file_name, tflite, seconds,
        evaluation_set, reference_outputs, None,
    )  # fmt: skip
    layers = tuple(by_index[i] for i in chosen.float_ops)
    check = tflm_check(tflite, result.inputs, evaluation_set.x)
    names = ", ".join(layer.keras_layer or layer.op for layer in layers)
    message = (
        f"{len(layers)} op(s) kept in float ({names or 'none'}): {metric} {chosen.metric:.3f} <= {budget:g}, "
        f"{chosen.size_bytes:,} bytes against {int8.size_bytes:,} for full int8{io_note}"
    )
    return MixedPrecision(outcome="mixed", value=chosen.metric, float_layers=layers,
                          float_kernels=float_kernels(tflite), mode_key=result.key,
                          size_bytes=chosen.size_bytes, tflm=check, message=message,
                          **common), result  # fmt: skip
