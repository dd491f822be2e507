import numpy as np

from edgeq.engine.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)


def test_quantize_multiplier_normalises_to_q31():
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0**-40) == (0, 0)  # below 2**-31: flushed to zero
    q, shift = quantize_multiplier(0.0123)
    assert 1 << 30 <= q < 1 << 31 and abs(q * 2.0 ** (shift - 31) - 0.0123) < 1e-11
    # a fraction that rounds up to 2**31 moves to the next exponent
    assert quantize_multiplier(1 - 2.0**-40) == (1 << 30, 1)


def test_rounding_divide_rounds_halves_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7, 4, -4])
    assert rounding_divide_by_pot(x, 1).tolist() == [3, -3, 3, -3, 4, -4, 2, -2]
    assert rounding_divide_by_pot(np.array([12, -12, 10, -10]), 3).tolist() == [2, -2, 1, -1]


def test_doubling_high_mul_saturates_the_one_overflow_case():
    low = np.array([-(2**31)])
    assert saturating_rounding_doubling_high_mul(low, -(2**31)).tolist() == [2**31 - 1]
    assert saturating_rounding_doubling_high_mul(np.array([1 << 30]), 1 << 30).tolist() == [1 << 29]


def test_multiply_by_quantized_multiplier_matches_real_scaling():
    rng = np.random.default_rng(0)
    values = rng.integers(-(2**20), 2**20, size=1000)
    for real in (0.0037, 0.25, 0.9, 1.7):
        q, shift = quantize_multiplier(real)
        got = multiply_by_quantized_multiplier(values, q, shift)
        assert np.max(np.abs(got - values * real)) <= 1.0
