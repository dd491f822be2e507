import math

import numpy as np

from edgeq.conversion.evaluate import evaluate
from edgeq.runtimes.tensors import TensorInfo, dequantize, output_order_key, quantize

INT8 = TensorInfo(name="t", shape=(1, 4), dtype="int8", scale=0.5, zero_point=-3)


def test_quantize_rounds_half_away_from_zero_and_saturates():
    x = np.array([0.25, -0.25, 0.75, 1000.0, -1000.0], dtype=np.float32)
    # x / 0.5 = 0.5, -0.5, 1.5 -> 1, -1, 2 (away from zero), then + zero point, clipped to int8
    assert quantize(x, INT8).tolist() == [-2, -4, -1, 127, -128]


def test_dequantize_inverts_quantize_on_the_grid():
    q = np.array([-128, -3, 0, 127], dtype=np.int8)
    assert dequantize(q, INT8).tolist() == [-62.5, 0.0, 1.5, 65.0]
    assert np.array_equal(quantize(dequantize(q, INT8), INT8), q)


def test_float_tensors_pass_through():
    info = TensorInfo(name="f", shape=(1,), dtype="float32", scale=0.0, zero_point=0)
    x = np.array([1.25], dtype=np.float32)
    assert quantize(x, info).tolist() == [1.25] and dequantize(x, info).tolist() == [1.25]


def test_metrics_on_known_values():
    reference = [np.array([[3.0, 4.0], [0.0, 0.0]])]
    candidate = [np.array([[3.0, 4.0], [0.0, 1.0]])]
    labels = np.array([1, 1])
    result = evaluate(reference, candidate, labels)
    fidelity = result.outputs[0]
    assert math.isclose(fidelity.relative_l2, 1 / 5)
    assert math.isclose(fidelity.cosine, 25 / (5 * math.sqrt(26)))
    assert (
        fidelity.max_abs_error == 1.0
        and math.isclose(fidelity.mae, 0.25)
        and math.isclose(fidelity.rmse, 0.5)
    )
    # argmax: candidate [1, 1] vs reference [1, 0]; labels [1, 1]
    assert result.top1 == 1.0 and result.agreement == 0.5


def test_regression_outputs_have_no_accuracy():
    result = evaluate([np.ones((4, 1))], [np.ones((4, 1))], np.zeros(4, dtype=int))
    assert result.top1 is None and result.agreement is None
    assert result.outputs[0].relative_l2 == 0.0 and result.outputs[0].cosine == 1.0


def test_signature_outputs_sort_numerically():
    names = ["output_10", "output_2", "output_0", "output_1"]
    assert sorted(names, key=output_order_key) == ["output_0", "output_1", "output_2", "output_10"]
