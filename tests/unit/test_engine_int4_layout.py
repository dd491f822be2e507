"""The packed int4 weight layouts (edgeq.engine.ops.int4), read back the way the C kernels read
them (firmware_templates/engine/kernels/core_s4.c.j2), for shapes that reach every branch."""

from __future__ import annotations

import numpy as np
import pytest

from edgeq.engine.ops.int4 import (
    fits_scaled_sum,
    order_depthwise,
    order_rows,
    pack_rows,
)
from edgeq.tflite.graph import unpack_int4


def _nibble(data: np.ndarray, index: int) -> int:
    byte = int(data[index >> 1])
    value = (byte >> 4) if index & 1 else (byte & 15)
    return value - 16 if value > 7 else value


def _step(word: np.ndarray) -> list[int]:
    """A step word's 8 weights: byte j holds weight j (low nibble) and weight j + 4 (high)."""
    return [_nibble(word, 2 * j) for j in range(4)] + [_nibble(word, 2 * j + 1) for j in range(4)]


def _read_rows(data: np.ndarray, rows: int, depth: int, block: int) -> np.ndarray:
    """What s4_fc_row (block 4 on the DSP path, 1 elsewhere) / s4_conv_columns (block 2) multiply
    each row's inputs with."""
    steps, rest = divmod(depth, 8)
    tail = (rest + 1) // 2
    matrix = np.zeros((rows, depth), np.int64)
    at = 0
    for first in range(0, rows - rows % block, block):
        for k in range(steps):
            for u in range(block):
                matrix[first + u, 8 * k : 8 * k + 8] = _step(data[at + 4 * u : at + 4 * u + 4])
            at += 4 * block
        for u in range(block):
            matrix[first + u, 8 * steps :] = [_nibble(data[at + tail * u :], i) for i in range(rest)]
        at += block * tail
    for row in range(rows - rows % block, rows):
        for k in range(steps):
            matrix[row, 8 * k : 8 * k + 8] = _step(data[at + 4 * k : at + 4 * k + 4])
        matrix[row, 8 * steps :] = [_nibble(data[at + 4 * steps :], i) for i in range(rest)]
        at += 4 * steps + tail
    assert at == len(data)
    return matrix


@pytest.mark.parametrize("block", [1, 2, 4])
@pytest.mark.parametrize(("rows", "depth"), [(8, 16), (13, 63), (7, 27), (5, 4), (6, 3), (9, 15)])
def test_row_layout_reads_back_as_the_weights(rows, depth, block):
    rng = np.random.default_rng(rows * depth)
    matrix = rng.integers(-7, 8, (rows, depth))
    data = order_rows(matrix, block)
    assert len(data) == rows * (4 * (depth // 8) + (depth % 8 + 1) // 2)  # half a byte per weight
    assert np.array_equal(_read_rows(data, rows, depth, block), matrix)


def test_pack_rows_puts_weight_j_low_and_weight_j_plus_4_high():
    row = np.array([[1, 2, 3, 4, -1, -2, -3, -4, 5, -5, 6]])
    packed = pack_rows(row)
    assert packed.tolist() == [[0xF1, 0xE2, 0xD3, 0xC4, 0xB5, 0x06]]
    assert unpack_int4(packed[0, 4:].tobytes(), 3).tolist() == [5, -5, 6]


@pytest.mark.parametrize(("taps", "channels"), [(9, 5), (9, 12), (9, 18), (4, 8), (1, 3), (25, 16)])
def test_depthwise_layout_reads_back_as_the_weights(taps, channels):
    weights = np.random.default_rng(taps + channels).integers(-7, 8, (taps, channels))
    data = order_depthwise(weights)
    assert len(data) == (taps * channels + 1) // 2
    got = np.zeros_like(weights)
    at = 0
    whole = channels - channels % 8
    for c in range(0, whole, 8):  # s4_depthwise_pixel: a word per tap
        for t in range(taps):
            got[t, c : c + 8] = _step(data[at : at + 4])
            at += 4
    nibble = 0
    for c in range(whole, channels):  # then each remaining channel's taps, nibble by nibble
        for t in range(taps):
            got[t, c] = _nibble(data[at:], nibble)
            nibble += 1
    assert np.array_equal(got, weights)


def test_scaled_sums_that_could_overflow_int32_are_refused():
    # 16 * 128 * 7 * depth must stay within int32
    largest = (2**31 - 1) // (16 * 128 * 7)
    assert fits_scaled_sum(np.full((2, largest), 7))
    assert not fits_scaled_sum(np.full((2, largest + 1), 7))
    assert fits_scaled_sum(np.zeros((0, 0)))
