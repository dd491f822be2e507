"""The random-weight MLPerf Tiny models convert to full int8 with only TFLite Micro's common ops."""

from __future__ import annotations

import numpy as np
import pytest

import edgeq
from edgeq.zoo import ZOO, calibration_data

# MLPerf Tiny's reference int8 models use these ops and no others; MEAN (from global average
# pooling) or PAD (from Keras' MobileNet padding) here would mean a builder drifted from them.
MLPERF_OPS = {
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "ADD",
    "RESHAPE",
    "SOFTMAX",
}


@pytest.mark.parametrize("name", ["kws", "vww", "ic", "ad"])
def test_int8_conversion_uses_only_mlperf_ops(name, tmp_path):
    model = ZOO[name]()
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "c.npz", x=calibration_data(name))

    int8 = edgeq.convert(tmp_path / "m.keras", calib=tmp_path / "c.npz", mode="int8").mode("int8")

    assert set(int8.ops) <= MLPERF_OPS, int8.ops
    assert int8.runs_in_litert
    assert int8.inputs[0].dtype == "int8" and int8.outputs[0].dtype == "int8"
    assert int8.outputs[0].shape == (1, *model.output_shape[1:])
    # int8 weights plus per-channel scales and int32 biases: under two bytes a parameter (float32 takes four).
    assert int8.size_bytes < 2 * model.count_params()
