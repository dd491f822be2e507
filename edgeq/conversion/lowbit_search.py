"""``--max-drop`` on int4: int8 weights where int4 costs too much, before any float.

The cheaper step first: plain int4 is measured (it is the int4 row of the table); if it misses the
budget, each int4 op's sensitivity is measured alone (that op int4, every other op int8) and the
ops are ranked by it, most harmful first. Then ``edgeq.conversion.mixed.search`` finds the fewest
ops to give int8 weights (every ranked op first: if even all-int8 weights miss the budget, the
same search runs again over ops kept in float, on top of all-int8 weights). Every trial is one
quantization of the once-calibrated float32 file (``CalibratedLowBit``) and one evaluation in
LiteRT with its reference kernels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgeq.conversion.accuracy import budget_metric, mode_result, run_in_litert
from edgeq.conversion.evaluate import evaluate
from edgeq.conversion.lowbit import CalibratedLowBit, lowbit_weight_ops
from edgeq.conversion.mixed import DEFAULT_MAX_TRIALS, search
from edgeq.data import Dataset
from edgeq.results.convert import ModeResult
from edgeq.results.evaluation import Evaluation
from edgeq.results.mixed import LowBitMix, LowBitTrial


@dataclass(frozen=True)
class _Ranked:
    """What ``search`` reads of a ranked op."""

    op_index: int


def lowbit_mixed_precision(
    calibrated: CalibratedLowBit,
    int4: ModeResult,
    budget: float,
    reference: Evaluation,
    evaluation_set: Dataset,
    reference_outputs: list[np.ndarray],
    file_name: str,
    say: Callable[[str], None],
    layer_names: dict[str, str] | None = None,
    max_trials: int = DEFAULT_MAX_TRIALS,
) -> tuple[LowBitMix, ModeResult | None]:
    """Search for the smallest int4/int8 (then float) model within ``budget``; returns the report and
    the chosen model's ModeResult (None when plain int4 meets the budget or nothing does).
    ``layer_names`` maps an op's first output tensor name to its Keras layer, for the messages."""
    metric, int4_value = budget_metric(reference, int4.evaluation)
    ops = lowbit_weight_ops(int4.tflite)
    names = {index: name for index, _, name, _ in ops}
    labels = {
        index: f"op {index} {opcode}"
        + (f" ({layer_names[name]})" if layer_names and name in layer_names else "")
        for index, opcode, name, _ in ops
    }
    made: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[bytes, float]] = {}

    def measure(int8_ops: Sequence[int], float_ops: Sequence[int] = ()) -> tuple[float, int]:
        key = (tuple(sorted(int8_ops)), tuple(sorted(float_ops)))
        started = time.perf_counter()
        tflite = calibrated.quantize([names[i] for i in key[0]], [names[i] for i in key[1]])
        made[key] = (tflite, time.perf_counter() - started)
        run = run_in_litert(tflite, evaluation_set, None)
        if run.outputs is None:
            return float("inf"), len(tflite)
        return budget_metric(reference, evaluate(reference_outputs, run.outputs, evaluation_set.y))[1], len(
            tflite
        )

    def report(outcome: str, value: float | None, **fields: object) -> LowBitMix:
        common: dict[str, object] = dict(
            budget=budget, metric=metric, outcome=outcome, int4_value=int4_value, value=value,
            int8_ops=(), float_ops=(), mode_key=None, int4_size_bytes=int4.size_bytes, int8_size_bytes=None,
            size_bytes=None, sensitivity=(), trials=(), message="",
        )  # fmt: skip
        return LowBitMix(**{**common, **fields})  # type: ignore[arg-type]

    if int4_value <= budget or not ops:
        met = int4_value <= budget
        message = (
            f"plain int4 meets the budget: {metric} {int4_value:.3f} <= {budget:g}, after one evaluation"
            if met
            else f"the int4 model has no int4 weights to trade: {metric} {int4_value:.3f} > {budget:g}"
        )
        return report("int4" if met else "unreachable", int4_value, message=message), None

    say(
        f"--max-drop: int4 gives {metric} {int4_value:.3f} > {budget:g}; "
        f"measuring each of {len(ops)} int4 op(s) alone"
    )
    every = [index for index, *_ in ops]
    sensitivity = []
    for index in every:
        value, _ = measure([other for other in every if other != index])
        sensitivity.append((index, value))
    sensitivity.sort(key=lambda pair: -pair[1])
    ranking = [_Ranked(index) for index, _ in sensitivity]
    weights = {index: size for index, _, _, size in ops}  # what giving an op int8 weights adds

    def announce(kind: str) -> Callable[[tuple[int, ...]], tuple[float, int]]:
        def trial(chosen: tuple[int, ...]) -> tuple[float, int]:
            shown = ", ".join(labels[i] for i in chosen[:3]) + (
                f" and {len(chosen) - 3} more" if len(chosen) > 3 else ""
            )
            say(f"--max-drop: {len(chosen)} op(s) {kind}: {shown or 'none'}")
            return measure(chosen) if kind == "at int8 weights" else measure(every, chosen)

        return trial

    trials: list[LowBitTrial] = []
    first = search(ranking, announce("at int8 weights"), budget, lambda i: weights.get(i, 0), max_trials)
    trials += [LowBitTrial(tuple(names[i] for i in t.float_ops), (), t.metric, t.size_bytes, t.meets)
               for t in first.trials]  # fmt: skip
    all_int8 = first.best_possible
    int8_size = (
        all_int8.size_bytes if all_int8 is not None and len(all_int8.float_ops) == len(every) else None
    )
    chosen_int8, chosen_float = (first.chosen.float_ops if first.chosen else None), ()
    chosen_metric = first.chosen.metric if first.chosen else None
    if first.chosen is None and max_trials - len(trials) >= 2:
        say("--max-drop: every int4 op at int8 weights still misses the budget; keeping ops in float")
        second = search(ranking, announce("in float"), budget, lambda i: 4 * weights.get(i, 0),
                        max_trials - len(trials))  # fmt: skip
        trials += [LowBitTrial(tuple(names[i] for i in every), tuple(names[i] for i in t.float_ops), t.metric,
                               t.size_bytes, t.meets) for t in second.trials if t.float_ops]  # fmt: skip
        if second.chosen is not None and second.chosen.float_ops:
            chosen_int8, chosen_float, chosen_metric = (
                tuple(every),
                second.chosen.float_ops,
                second.chosen.metric,
            )
    ranked = tuple((labels[i], value) for i, value in sensitivity)
    if chosen_int8 is None or chosen_metric is None:
        best = min((t.metric for t in trials), default=int4_value)
        message = (
            f"no model meets the budget: int4 gives {metric} {int4_value:.3f}, and every int4 op at int8 "
            f"weights (then ops in float) still gives {best:.3f} > {budget:g}"
        )
        return report("unreachable", best, sensitivity=ranked, trials=tuple(trials),
                      int8_size_bytes=int8_size, message=message), None  # fmt: skip
    key = (tuple(sorted(chosen_int8)), tuple(sorted(chosen_float)))
    tflite, seconds = made[key]
    label = "int4 + int8 weights" + (" + float ops" if chosen_float else "")
    result = mode_result("int4_mixed", label, "int4_mixed", "int8", file_name, tflite, seconds,
                         evaluation_set, reference_outputs, None)  # fmt: skip
    moved = ", ".join(labels[i] for i in chosen_int8) or "none"
    kept = (
        f"; {len(chosen_float)} op(s) in float ({', '.join(labels[i] for i in chosen_float)})"
        if chosen_float
        else ""
    )
    against = f" and {int8_size:,} with every weight at int8" if int8_size else ""
    message = (
        f"{len(chosen_int8)} of {len(every)} int4 op(s) at int8 weights ({moved}){kept}: {metric} "
        f"{chosen_metric:.3f} <= {budget:g}; {len(tflite):,} bytes against {int4.size_bytes:,} for plain "
        f"int4{against}"
    )
    return report("mixed", chosen_metric, int8_ops=tuple(names[i] for i in chosen_int8),
                  float_ops=tuple(names[i] for i in chosen_float), mode_key=result.key,
                  size_bytes=len(tflite), sensitivity=ranked, trials=tuple(trials), int8_size_bytes=int8_size,
                  message=message), result  # fmt: skip
