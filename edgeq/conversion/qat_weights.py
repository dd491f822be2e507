"""Fake quantization of QAT weights (8 or 4 bits, symmetric, narrow range) and how the export
graph hands 4-bit weights to TFLiteConverter (see ``export_int4_weights``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeq.conversion.quiet import import_tensorflow

WEIGHT_BITS = (8, 4)
INT8_LEVELS, INT4_LEVELS = 127, 7  # the largest magnitude of symmetric narrow-range weights


def check_weight_bits(bits: int) -> None:
    """ValueError unless ``bits`` is one of WEIGHT_BITS."""
    if bits not in WEIGHT_BITS:
        raise ValueError(f"weight bits must be one of {', '.join(map(str, WEIGHT_BITS))}, got {bits}")


def quantize_weights(kind: str, kernel: Any, bits: int = 8) -> Any:
    """Symmetric fake quantization of a kernel: 8 bits (-127..127) per output channel except for
    Dense (per tensor), 4 bits (-7..7) per output channel for every kind."""
    tf = import_tensorflow()
    if kind == "Dense" and bits == 8:
        limit = tf.maximum(tf.stop_gradient(tf.reduce_max(tf.abs(kernel))), 1e-8)
        return tf.quantization.fake_quant_with_min_max_vars(
            kernel, -limit, limit, num_bits=8, narrow_range=True
        )
    flat = _channels_last(kind, kernel)
    limit = tf.stop_gradient(_channel_limits(flat))
    quantized = tf.quantization.fake_quant_with_min_max_vars_per_channel(
        flat, -limit, limit, num_bits=bits, narrow_range=True
    )
    return tf.reshape(quantized, kernel.shape)


def int4_grid(kind: str, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``kernel`` fake-quantized to 4 bits as in training (every value k * step, k in -7..7) and
    each output channel's 4-bit step (eager: call it outside a traced graph)."""
    tf = import_tensorflow()
    value = tf.constant(kernel, tf.float32)
    grid = quantize_weights(kind, value, bits=4).numpy()
    return grid, (_channel_limits(_channels_last(kind, value)) / INT4_LEVELS).numpy()


def export_int4_weights(kind: str, grid: np.ndarray, step: np.ndarray, bias: np.ndarray) -> tuple[Any, Any]:
    """The export graph's kernel and bias for 4-bit weights (``grid``, ``step``: see int4_grid).

    Convolutions: the grid behind an 8-bit narrow-range per-channel fake quant whose limit is 127
    four-bit steps, which the converter turns into int8 values -7..7 with the 4-bit scale.
    Dense: the converter cannot quantize a per-channel fake-quantized matmul kernel (its transpose
    to FULLY_CONNECTED's layout fails: "mismatched quantized axes"), so the grid goes in without
    fake quant; the converter then scales each channel by its largest value (7 steps) to 127, and
    ``edgeq.tflite.rewrite.regrid_fully_connected`` maps the int8 values back to -7..7. The bias
    goes in scaled by 7 / 127 so that its int32 values come out on the 4-bit scale (input scale x
    step)."""
    tf = import_tensorflow()
    if kind == "Dense":
        return tf.constant(grid), tf.constant(bias * np.float32(INT4_LEVELS / INT8_LEVELS))
    limit = tf.constant(INT8_LEVELS * step, tf.float32)
    quantized = tf.quantization.fake_quant_with_min_max_vars_per_channel(
        _channels_last(kind, tf.constant(grid)), -limit, limit, num_bits=8, narrow_range=True
    )
    return tf.reshape(quantized, grid.shape), tf.constant(bias)


def _channels_last(kind: str, kernel: Any) -> Any:
    """The kernel with its output channels on the last axis (a depthwise kernel's channel and
    multiplier axes merged, as TFLite stores it)."""
    tf = import_tensorflow()
    return tf.reshape(kernel, (*kernel.shape[:2], 1, -1)) if kind == "DepthwiseConv2D" else kernel


def _channel_limits(flat: Any) -> Any:
    """The largest magnitude in each output channel (at least 1e-8: an all-zero channel keeps a scale)."""
    tf = import_tensorflow()
    axes = tuple(range(len(flat.shape) - 1))
    return tf.maximum(tf.reduce_max(tf.abs(flat), axis=axes), 1e-8)
