"""``--max-drop`` with int4: int8 weights per layer where int4 costs too much, before any float."""

from __future__ import annotations

import numpy as np

from edgeq.api import convert
from edgeq.results import ConvertResult
from edgeq.tflite import read_tflite


def _weights_by_op(tflite: bytes) -> dict[int, str]:
    main = read_tflite(tflite, "t").main
    return {
        op.index: main.tensors[op.inputs[1]].dtype
        for op in main.operators
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    }


def test_max_drop_on_int4_gives_a_mixed_int4_int8_model_within_budget_smaller_than_all_int8(
    tmp_path, digits_model, digits_split
):
    calib, test = digits_split
    unlabelled = tmp_path / "test_x.npz"  # without labels the budget is the relative L2 error
    np.savez(unlabelled, x=np.load(test)["x"])
    budget = 0.03
    result = convert(digits_model, calib=calib, eval=unlabelled, mode="int4", max_drop=budget, scale=1 / 16)
    search = result.lowbit_mixed
    assert search is not None and search.metric == "relative L2 error"
    assert search.int4_value > budget, "plain int4 must break this budget for the test to mean anything"
    assert search.outcome == "mixed" and search.value is not None and search.value <= budget
    mixed = result.mode("int4_mixed")
    dtypes = _weights_by_op(mixed.tflite)
    assert set(dtypes.values()) == {"int4", "int8"}, dtypes
    assert len(search.int8_ops) == list(dtypes.values()).count("int8")
    assert search.int8_size_bytes is not None and mixed.size_bytes < search.int8_size_bytes
    assert mixed.inputs[0].dtype == "int8"
    # the ranking measured every int4 op alone, and the row's own evaluation agrees with the search
    assert len(search.sensitivity) == len(_weights_by_op(result.mode("int4").tflite))
    rel_l2 = max(output.relative_l2 for output in mixed.evaluation.outputs)
    assert abs(rel_l2 - search.value) < 1e-9
    assert ConvertResult.from_dict(result.to_dict()).lowbit_mixed.to_dict() == search.to_dict()
    assert not result.failures and mixed.runs_in_litert


def test_max_drop_on_int4_stops_at_plain_int4_when_it_meets_the_budget(digits_model, digits_split):
    calib, test = digits_split
    result = convert(digits_model, calib=calib, eval=test, mode="int4", max_drop=5.0, scale=1 / 16)
    assert result.lowbit_mixed.outcome == "int4" and not result.lowbit_mixed.trials
    assert [m.key for m in result.modes] == ["int4"]  # the float32 file it needed is not a row
