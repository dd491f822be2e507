"""``--max-drop``: the cheapest int8 model, with some ops kept in float, that meets an accuracy budget.

The search starts from full int8. If that already meets the budget, it stops after that one
evaluation. Otherwise it keeps the most harmful ops (ranked by the per-layer report) in float:
first all ranked ops (if even that misses the budget, no mix of int8 and float will meet it),
then a bisection for the shortest prefix of the ranking that meets the budget, then one pass that
tries to put each kept op back to int8, biggest weights first, keeping it in int8 when the budget
still holds. Every trial is one quantization of the already calibrated model and one evaluation;
the number of trials is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeq.results.layers import LayerError
from edgeq.results.mixed import Trial

DEFAULT_MAX_TRIALS = 16


@dataclass(frozen=True)
class SearchOutcome:
    """What the search found: the chosen trial (None when nothing met the budget) and all trials."""

    chosen: Trial | None
    trials: tuple[Trial, ...]
    best_possible: Trial | None


def search(
    ranking: Sequence[LayerError],
    measure: Callable[[tuple[int, ...]], tuple[float, int]],
    budget: float,
    weight_bytes: Callable[[int], int],
    max_trials: int = DEFAULT_MAX_TRIALS,
) -> SearchOutcome:
    """Find the cheapest set of ops to keep in float.

    ``ranking`` is most harmful first; ``measure(op_indices)`` quantizes with those ops in float
    and returns (metric, file size), where lower metric is better and meeting means
    ``metric <= budget``; ``weight_bytes(op_index)`` is what keeping an op in float costs.
    """
    trials: list[Trial] = []
    cache: dict[tuple[int, ...], Trial] = {}

    def run(ops: Sequence[int]) -> Trial:
        key = tuple(sorted(ops))
        if key not in cache:
            metric, size = measure(key)
            cache[key] = Trial(float_ops=key, metric=metric, size_bytes=size, meets=metric <= budget)
            trials.append(cache[key])
        return cache[key]

    def budget_left() -> bool:
        return len(trials) < max_trials

    base = run(())
    if base.meets or not ranking:
        return SearchOutcome(chosen=base if base.meets else None, trials=tuple(trials), best_possible=base)
    order = [error.op_index for error in ranking]
    everything = run(order)
    if not everything.meets:
        return SearchOutcome(chosen=None, trials=tuple(trials), best_possible=everything)
    failing, passing = 0, len(order)
    while passing - failing > 1 and budget_left():
        middle = (failing + passing) // 2
        if run(order[:middle]).meets:
            passing = middle
        else:
            failing = middle
    chosen = run(order[:passing])
    kept = list(chosen.float_ops)
    for op in sorted(kept, key=lambda index: -weight_bytes(index)):
        if len(kept) == 1 or not budget_left():
            break
        candidate = run([index for index in kept if index != op])
        if candidate.meets:
            kept.remove(op)
            chosen = candidate
    return SearchOutcome(chosen=chosen, trials=tuple(trials), best_possible=everything)
