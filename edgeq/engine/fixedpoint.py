"""TensorFlow Lite's fixed-point requantization, in Python, bit for bit.

A real multiplier ``m`` (e.g. input_scale * filter_scale / output_scale) is stored as a Q31
integer ``q`` and a power-of-two exponent ``shift`` with ``m ≈ q / 2**31 * 2**shift``;
``multiply_by_quantized_multiplier`` applies it to an int32 accumulator with TFLite's default
("double") rounding: a saturating rounding doubling high multiply, then a rounding right shift
with ties away from zero. These are facts read from TFLite's reference code (quantization_util,
common.h, gemmlowp fixedpoint); edgeq's generator computes every multiplier here, at generation
time, so the C it emits only shifts and multiplies integers.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def round_half_away(value: float) -> int:
    """std::round / TfLiteRound: to the nearest integer, halves away from zero (exact for any
    float32 value, and for doubles below 2**52)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def quantize_multiplier(multiplier: float) -> tuple[int, int]:
    """``(q, shift)`` with ``multiplier ≈ q * 2**(shift - 31)``, q in [2**30, 2**31) or 0."""
    if multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(multiplier)
    quantized = round_half_away(fraction * (1 << 31))  # exact: scaling by 2**31 loses nothing
    if quantized == 1 << 31:
        quantized //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return quantized, shift


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul on int32 values (arrays or scalars)."""
    a64 = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a64 * b
    nudge = np.where(product >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    total = product + nudge
    # C integer division truncates toward zero
    high = np.where(total >= 0, total // (1 << 31), -((-total) // (1 << 31)))
    overflow = (a64 == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high).astype(np.int64)


def rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: x / 2**exponent, rounding half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> exponent) + (remainder > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(x: np.ndarray, quantized: int, shift: int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier (double rounding) on int32 values."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    shifted = np.asarray(x, dtype=np.int64) * np.int64(1 << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, quantized), right)
