"""The pure parts of the accuracy tools: naming TFLite tensors by Keras layer, the --max-drop search."""

from __future__ import annotations

import pytest

from edgeq.conversion.mixed import search
from edgeq.conversion.sensitivity import keras_layer_of
from edgeq.results.layers import LayerError, ranked


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        ("digits_cnn_1/digits_cnn_1/conv1_1/Relu;digits_cnn_1/digits_cnn_1/conv1_1/BiasAdd", "conv1"),
        ("model_1/conv_1/Relu", "conv_1"),  # an exact name wins over stripping a suffix
        ("model_1/conv_2_1/BiasAdd", "conv_2"),
        ("model_1/dense_1/MatMul;model_1/dense_1/BiasAdd", "dense"),
        ("StatefulPartitionedCall_1:0", None),
        ("model_1/flatten_1/Reshape", "model"),  # flatten is unknown: the enclosing (nested) model
    ],
)
def test_tensor_names_map_to_keras_layers(tensor: str, expected: str | None) -> None:
    assert keras_layer_of(tensor, ["conv1", "conv", "conv_1", "conv_2", "dense", "model"]) == expected


def _error(index: int, normalized: float, op: str = "CONV_2D") -> LayerError:
    return LayerError(
        op_index=index, op=op, tensor=f"t{index}", keras_layer=f"layer{index}", scale=1.0, zero_point=0,
        elements=10, rmse=normalized, max_abs_error=0.0, mean_error=0.0,
    )  # fmt: skip


def test_ranking_puts_the_worst_first_and_leaves_out_ops_that_only_move_values() -> None:
    errors = [_error(0, 0.3), _error(1, 0.0, "RESHAPE"), _error(2, 2.5), _error(3, 0.3)]
    assert [e.op_index for e in ranked(errors)] == [2, 0, 3]


def _search(harm: dict[int, float], base: float, budget: float, sizes: dict[int, int] | None = None, **kw):
    """A model whose metric is ``base`` minus the harm of each op kept in float."""
    calls: list[tuple[int, ...]] = []

    def measure(ops: tuple[int, ...]) -> tuple[float, int]:
        calls.append(ops)
        return base - sum(harm[i] for i in ops), 1000 + 100 * len(ops)

    ranking = ranked([_error(i, h) for i, h in harm.items()])
    outcome = search(ranking, measure, budget, lambda i: (sizes or {}).get(i, 1), **kw)
    return outcome, calls


def test_a_model_within_budget_stops_after_one_evaluation() -> None:
    outcome, calls = _search({0: 1.0, 1: 0.5}, base=0.4, budget=0.5)
    assert calls == [()]
    assert outcome.chosen is not None and outcome.chosen.float_ops == ()


def test_the_search_keeps_the_fewest_harmful_ops_in_float() -> None:
    harm = {0: 0.1, 1: 3.0, 2: 0.2, 3: 1.0, 4: 0.05}
    outcome, calls = _search(harm, base=4.0, budget=0.5)
    assert outcome.chosen is not None and outcome.chosen.float_ops == (1, 3)
    assert outcome.chosen.metric == pytest.approx(0.0)
    assert len(calls) == len(set(calls)) == len(outcome.trials) <= 16


def test_the_pruning_pass_puts_back_an_op_the_ranking_overrated() -> None:
    # op 2 ranks first by its error but does not matter for the metric: it goes back to int8
    harm = {0: 2.0, 1: 1.5, 2: 0.0}
    ranking_errors = {0: 1.0, 1: 0.9, 2: 5.0}

    def measure(ops: tuple[int, ...]) -> tuple[float, int]:
        return 3.0 - sum(harm[i] for i in ops), 1000

    ranking = ranked([_error(i, e) for i, e in ranking_errors.items()])
    outcome = search(ranking, measure, 0.0, lambda i: 100 if i == 2 else 1)
    assert outcome.chosen is not None and outcome.chosen.float_ops == (0, 1)


def test_an_unreachable_budget_is_reported_with_the_best_possible_result() -> None:
    outcome, calls = _search({0: 1.0, 1: 1.0}, base=3.0, budget=0.5)
    assert outcome.chosen is None
    assert outcome.best_possible is not None and outcome.best_possible.metric == pytest.approx(1.0)
    assert len(calls) == 2


def test_the_number_of_conversions_is_bounded() -> None:
    harm = {i: 0.01 * (i + 1) for i in range(40)}
    outcome, calls = _search(harm, base=8.0, budget=0.5, max_trials=5)
    assert len(calls) == 5
    assert outcome.chosen is not None and outcome.chosen.meets
