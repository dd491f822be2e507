"""Packed int4 weights (kernel group ``core_s4``): CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
whose weights are INT4 tensors, read as nibbles straight from flash (never unpacked into RAM).

The weights are repacked at generation time in the order the kernels read them: a *step* of 8
weights of one row is one 32-bit word whose byte j holds weight j in its low nibble and weight
j + 4 in its high nibble. ``W & 0xF0F0F0F0`` and ``(W << 4) & 0xF0F0F0F0`` are then 4 bytes of
16 * weight each, which the DSP path widens with SXTB16 to line up with SXTB16 of two input
words; the sums are multiples of 16 and are shifted right by 4 at the end (exact; the generator
checks the int32 bound). Rows are grouped as the int8 kernels group them (``interleave``: 4 units
for FULLY_CONNECTED on the DSP path, 2 output channels for CONV_2D); the portable fully connected
kernel reads row after row (a smaller loop, for cores without the DSP extension). The depth left
over after the steps is packed two per byte, low nibble first, row after row. A depthwise
convolution stores, per group of 8 channels, one word per tap (channel j low, j + 4 high), then
the other channels' taps as one run of nibbles.

Per-channel shifts are stored as int8 (TFLite's shifts lie far inside its range, checked), so
that the constants other than the weights do not eat the halved weights' savings. The input
offset is folded into the bias exactly as for int8 (``core._folded``); the scratch buffers are
the int8 kernels' own.

The portable and DSP paths have their own int4 loops; the Helium (mve) path uses the portable
int4 loops (with the int8 Helium kernels' scratch: one im2col column at a time).

Where the packed kernels do not apply (a depth multiplier above 1, asymmetric weights, a depth
whose 16x-scaled sum could overflow int32) the int8 lowering runs on the unpacked values instead.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.lowering import Builder, Layer, interleave, requantization_fields
from edgeq.tflite.graph import Operator, Subgraph, pack_int4

GROUP = "core_s4"
STEP = 8  # weights per 32-bit word
SCALED_LIMIT = 2**31 - 1  # |16 * sum of w * x| must stay within int32


def uses_int4(subgraph: Subgraph, op: Operator) -> bool:
    """Whether ``op``'s weights are a packed INT4 constant."""
    return len(op.inputs) > 1 and subgraph.tensors[op.inputs[1]].dtype == "int4"


def fits_scaled_sum(rows: np.ndarray) -> bool:
    """Whether 16 * sum(w * x) over every row stays within int32 for any int8 input (|x| <= 128)."""
    return int(16 * 128 * np.abs(rows).sum(axis=1).max(initial=0)) <= SCALED_LIMIT


def pack_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row of int4 values as bytes: its steps of 8 (byte j: weight j low, j + 4 high), then
    the weights left over packed two per byte, low nibble first. Returns a (rows, bytes) uint8 array."""
    rows, depth = matrix.shape
    steps = depth // STEP
    nibbles = (np.asarray(matrix, dtype=np.int64) & 0x0F).astype(np.uint8)
    body = nibbles[:, : steps * STEP].reshape(rows, steps, 2, 4)
    words = (body[:, :, 0, :] | (body[:, :, 1, :] << 4)).reshape(rows, 4 * steps)
    tail = np.array(
        [np.frombuffer(pack_int4(row), np.uint8) for row in matrix[:, steps * STEP :]], dtype=np.uint8
    ).reshape(rows, -1)
    return np.concatenate([words, tail], axis=1)


def order_rows(matrix: np.ndarray, block: int) -> np.ndarray:
    """The weight bytes of a conv / fully-connected kernel: ``pack_rows`` grouped by ``block`` rows
    in chunks of one word (a tail of up to 4 bytes reads the same interleaved or row after row)."""
    return interleave(pack_rows(matrix), block, 4)


def order_depthwise(taps: np.ndarray) -> np.ndarray:
    """Depthwise weights ``taps`` [tap][channel] as the kernel reads them: per group of 8
    channels one word per tap (byte j: channel j low, channel j + 4 high), then the remaining
    channels' taps, channel after channel, as one run of nibbles."""
    count, channels = taps.shape
    whole = channels - channels % STEP
    nibbles = (np.asarray(taps, dtype=np.int64) & 0x0F).astype(np.uint8)
    groups = nibbles[:, :whole].reshape(count, whole // STEP, 2, 4).transpose(1, 0, 2, 3)
    words = (groups[:, :, 0, :] | (groups[:, :, 1, :] << 4)).reshape(-1)
    rest = np.frombuffer(pack_int4(taps[:, whole:].T.reshape(-1)), np.uint8)
    return np.concatenate([words, rest])


def fully_connected(b: Builder, op: Operator, matrix: np.ndarray, folded: tuple[str, int]) -> Layer:
    """``edgeq_fully_connected_s4``: four units per pass, as ``edgeq_fully_connected_s8``."""
    source = b.tensor(op.inputs[0])
    units, depth = matrix.shape
    scales, per_channel = requantization_fields(b, op, 1, "int8_t")
    bias, fast = folded
    fields = [
        source.elements // depth,
        depth,
        units,
        *scales[:3],
        b.array(f"{b.prefix(op)}_weights", "uint8_t", order_rows(matrix, 4 if b.path.name == "dsp" else 1)),
        bias,
        *scales[3:],
        fast,
        int(per_channel),
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_fc_s4_params", fields, "edgeq_fully_connected_s4", operands, GROUP)


def convolution(
    b: Builder, op: Operator, conv_fields: list[object], padded: np.ndarray, operands: list[str]
) -> Layer:
    """``edgeq_conv_s4``: ``conv_fields`` are the int8 kernel's ``edgeq_conv_params`` (its weights,
    multipliers and shifts left NULL), which the im2col helpers read."""
    scales, _ = requantization_fields(b, op, padded.shape[0], "int8_t")
    fields = [
        "{" + ", ".join(str(value) for value in conv_fields) + "}",
        b.array(f"{b.prefix(op)}_weights", "uint8_t", order_rows(padded, 2)),
        *scales[3:],
    ]
    return b.layer(op, "edgeq_conv_s4_params", fields, "edgeq_conv_s4", operands, GROUP)


def depthwise(
    b: Builder, op: Operator, dw_fields: list[object], taps: np.ndarray, operands: list[str]
) -> Layer:
    """``edgeq_depthwise_conv_s4``: eight channels per pass; ``dw_fields`` are the int8 kernel's
    ``edgeq_depthwise_params`` (weights, multipliers and shifts NULL), which ``core_taps`` reads."""
    scales, _ = requantization_fields(b, op, taps.shape[1], "int8_t")
    fields = [
        "{" + ", ".join(str(value) for value in dw_fields) + "}",
        b.array(f"{b.prefix(op)}_weights", "uint8_t", order_depthwise(taps)),
        *scales[3:],
    ]
    return b.layer(op, "edgeq_depthwise_s4_params", fields, "edgeq_depthwise_conv_s4", operands, GROUP)
