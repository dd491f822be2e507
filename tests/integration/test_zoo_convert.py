"""The random-weight MLPerf Tiny models convert to full int8 with only TFLite Micro's common ops."""

from __future__ import annotations

from edgeq.runtimes.runners import check_tflm, run_probe

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


def test_int8_conversion_uses_only_mlperf_ops(zoo_int8):
    _, model, int8 = zoo_int8

    assert set(int8.ops) <= MLPERF_OPS, int8.ops
    assert int8.runs_in_litert
    assert int8.inputs[0].dtype == "int8" and int8.outputs[0].dtype == "int8"
    assert int8.outputs[0].shape == (1, *model.output_shape[1:])
    # int8 weights plus per-channel scales and int32 biases: under two bytes a parameter (float32 takes four).
    assert int8.size_bytes < 2 * model.count_params()


def test_measured_arena_is_the_exact_minimum(zoo_int8):
    """The arena edgeq reports lets the real TFLM interpreter allocate and invoke; 16 bytes less does not."""
    _, _, int8 = zoo_int8
    report = check_tflm(int8.tflite)
    assert report.runs and report.arena is not None
    minimum = report.arena.minimum_bytes
    at, below = run_probe(
        int8.tflite, [{"run": "tflm", "arena": minimum}, {"run": "tflm", "arena": minimum - 16}]
    )
    assert at.ok and not below.ok
    # TFLM either reports the failed allocation or, for some models (AD), segfaults: both are "does not run"
    assert below.crashed or "failed to allocate" in (below.error or "")
