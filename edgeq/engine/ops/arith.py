"""Element-wise int8 arithmetic beyond ADD and MUL (kernel group ``arith``): SUB, MAXIMUM, MINIMUM,
SQUARED_DIFFERENCE, PRELU and RSQRT, bit for bit as TensorFlow Lite Micro's reference kernels.

The two-input ops broadcast as TFLM's ``BroadcastBinaryOpSimple`` does, with the loops of
``binary.broadcast_walk``. Where a step of TFLM's arithmetic depends on one int8 input alone (the
rescaling of each SUB / SQUARED_DIFFERENCE input, all of RSQRT), the generator tabulates it for
the 256 input values, so SUB runs ``binary``'s ADD kernel with the second table negated and RSQRT
``activations``' lookup-table kernel.
"""

from __future__ import annotations

import math

import numpy as np

from edgeq.engine.fixedpoint import (
    INT32_MAX,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
)
from edgeq.engine.fixedpoint import saturating_rounding_doubling_high_mul as high_mul
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, wrap_int32, zero_point
from edgeq.engine.ops.activations import _multiply_by_pot, _wrap
from edgeq.engine.ops.binary import _activation_range, _operands, broadcast_walk, walk_fields
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "arith"
VALUES = np.arange(-128, 128, dtype=np.int64)  # table index i holds the entry for input byte i - 128
SUB_LEFT_SHIFT = 20  # TFLM's int8 SUB scales both inputs up by 2**20 before rescaling
SQUARED_DIFFERENCE_LEFT_SHIFT = 7  # ... and SQUARED_DIFFERENCE by 2**7 (255**2 * 2**14 fits int32)
RSQRT_SHIFT = 20  # RsqrtEvalQuantized keeps 20 more bits between its two multiplications


def _problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


def requantize(x: np.ndarray | int, multiplier: int, shift: int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier on int32, with the int32 wrap-around of its
    ``x * (1 << left_shift)``."""
    left = max(shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) * (1 << left))
    return multiply_by_quantized_multiplier(shifted, multiplier, min(shift, 0))


def _smaller_than_one(op: Operator, real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp (TFLM aborts outside (0, 1))."""
    if not 0.0 < real < 1.0:
        raise _problem(op, f"rescale factor {real} outside (0, 1): TFLM's {op.opcode} refuses it")
    return quantize_multiplier(real)


def _rescaled(tensor: Tensor, left_shift: int, multiplier: int, shift: int) -> np.ndarray:
    """Each int8 value of ``tensor``, offset, scaled up by 2**left_shift and rescaled
    (MultiplyByQuantizedMultiplierSmallerThanOneExp): 256 int32 values."""
    return multiply_by_quantized_multiplier((VALUES - zero_point(tensor)) << left_shift, multiplier, shift)


def _binary_operands(b: Builder, op: Operator) -> list[str]:
    return [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0])]


@lowering("SUB", group="binary")
def sub(b: Builder, op: Operator) -> Layer:
    """TFLM's int8 SUB (sub_common.cc: the scales divided in float32) is its ADD with the second
    rescaled input negated: ``binary``'s ADD kernel with a negated second table."""
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    f32 = np.float32
    twice_max = f32(2) * max(f32(scale(first)), f32(scale(second)))
    m1, s1 = _smaller_than_one(op, float(f32(scale(first)) / twice_max))
    m2, s2 = _smaller_than_one(op, float(f32(scale(second)) / twice_max))
    mo, so = _smaller_than_one(op, float(twice_max / (f32(1 << SUB_LEFT_SHIFT) * f32(scale(output)))))
    low, high = _activation_range(op, output)
    table1 = _rescaled(first, SUB_LEFT_SHIFT, m1, s1)
    table2 = -_rescaled(second, SUB_LEFT_SHIFT, m2, s2)
    # kernel_output_fast is exact when the output shift is a right shift and |difference| < 2**30
    fast = int(so <= -1 and int(np.abs(table1).max()) + int(np.abs(table2).max()) < 2**30)
    prefix = b.prefix(op)
    tables = [b.array(f"{prefix}_table1", "int32_t", table1), b.array(f"{prefix}_table2", "int32_t", table2)]
    fields = [*walk_fields(b, op, walk, output), *tables, zero_point(output), mo, so, low, high, fast]
    return b.layer(op, "edgeq_add_params", fields, "edgeq_add_s8", _binary_operands(b, op), "binary")


@lowering("MAXIMUM", group=GROUP)
@lowering("MINIMUM", group=GROUP)
def maximum_minimum(b: Builder, op: Operator) -> Layer:
    """TFLM compares the raw int8 values (it has no prepare and reads no quantization)."""
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    fields = [*walk_fields(b, op, walk, output), int(op.opcode == "MAXIMUM")]
    return b.layer(op, "edgeq_minmax_params", fields, "edgeq_minmax_s8", _binary_operands(b, op), GROUP)


@lowering("SQUARED_DIFFERENCE", group=GROUP)
def squared_difference(b: Builder, op: Operator) -> Layer:
    """squared_difference.cc's PrepareQuantized (in double) and its int8 SquaredDifference: both
    inputs scaled up by 2**7 and rescaled to twice the larger input scale (tabulated), the
    difference squared, then MultiplyByQuantizedMultiplier to the output scale."""
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    scale1, scale2 = scale(first), scale(second)
    twice_max = 2.0 * max(scale1, scale2)
    m1, s1 = _smaller_than_one(op, scale1 / twice_max)
    m2, s2 = _smaller_than_one(op, scale2 / twice_max)
    # (1 << 14) * output scale is a float32 product in TFLM
    denominator = float(np.float32(1 << (2 * SQUARED_DIFFERENCE_LEFT_SHIFT)) * np.float32(scale(output)))
    mo, so = quantize_multiplier(twice_max * twice_max / denominator)
    if so > 30:
        raise _problem(op, f"output rescale shift {so} too large")
    prefix = b.prefix(op)
    tables = [
        b.array(f"{prefix}_table1", "int32_t", _rescaled(first, SQUARED_DIFFERENCE_LEFT_SHIFT, m1, s1)),
        b.array(f"{prefix}_table2", "int32_t", _rescaled(second, SQUARED_DIFFERENCE_LEFT_SHIFT, m2, s2)),
    ]
    fields = [*walk_fields(b, op, walk, output), *tables, zero_point(output), mo, so]
    return b.layer(
        op,
        "edgeq_squared_difference_params",
        fields,
        "edgeq_squared_difference_s8",
        _binary_operands(b, op),
        GROUP,
    )


@lowering("PRELU", group=GROUP)
def prelu(b: Builder, op: Operator) -> Layer:
    """reference_ops::BroadcastPrelu4DSlow: a non-negative offset input is rescaled by
    input_scale / output_scale, a negative one multiplied by its offset alpha and rescaled by
    input_scale * alpha_scale / output_scale (CalculatePreluParams, in double)."""
    source, alpha, output = _operands(b, op)
    walk = broadcast_walk(op, source, alpha, output)
    m1, s1 = quantize_multiplier(scale(source) / scale(output))
    m2, s2 = quantize_multiplier(scale(source) * scale(alpha) / scale(output))
    fields = [*walk_fields(b, op, walk, output), -zero_point(source), -zero_point(alpha), zero_point(output),
              m1, s1, m2, s2]  # fmt: skip
    return b.layer(op, "edgeq_prelu_params", fields, "edgeq_prelu_s8", _binary_operands(b, op), GROUP)


# --- RSQRT ----------------------------------------------------------------------------------------


def inv_sqrt_multiplier(value: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(value, kReverseShift): 1/sqrt(value) as a Q31
    multiplier and a left shift, by five Newton-Raphson steps in gemmlowp Q3.28 fixed point."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = ((32 - value.bit_length()) - 1) // 2 - 1  # CountLeadingZeros(value) - 1, in bit pairs, less one
    shift -= pairs
    value <<= 2 * pairs
    half_input = rounding_divide_by_pot(np.int64(value >> 1), 1)  # SaturatingRoundingMultiplyByPOT<-1>
    half_three = (1 << 28) + (1 << 27)  # 1.5 in Q3.28
    x = np.int64(1 << 28)  # 1.0 in Q3.28
    for _ in range(5):
        cube = _multiply_by_pot(high_mul(high_mul(x, x), x), 6)  # Q9.22 rescaled to Q3.28
        x = _multiply_by_pot(_wrap(high_mul(half_three, x) - high_mul(half_input, cube)), 3)
    raw = int(high_mul(x, 1518500250))  # times sqrt(2) / 2 in Q0.31
    if shift < 0:
        raw = int(_wrap(np.int64(raw) << -shift))
        shift = 0
    return raw, -shift


def rsqrt_table(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> np.ndarray:
    """The 256 outputs of TFLM's int8 RSQRT (elementwise.cc RsqrtEvalQuantized, with the output
    multiplier 1 / (sqrt(input_scale) * output_scale) of SetRsqrtOutputMultiplier, in float32).
    TFLM's Eval fails on inputs below the zero point; their entries replay the same arithmetic."""
    real = 1.0 / float(np.sqrt(np.float32(input_scale)) * np.float32(output_scale))
    multiplier, shift = quantize_multiplier(real)
    outputs = []
    for value in (VALUES - input_zp).tolist():
        if value == 0:
            outputs.append(127)  # TFLM's choice for 1/sqrt(0)
            continue
        inverse, inverse_shift = inv_sqrt_multiplier(value)
        data = requantize(1, inverse, inverse_shift + RSQRT_SHIFT)
        result = int(requantize(data, multiplier, shift - RSQRT_SHIFT)) + output_zp
        outputs.append(min(max(result, -128), 127))
    return np.asarray(outputs, dtype=np.int8)


@lowering("RSQRT", group="activations")
def rsqrt(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if source.elements != output.elements:
        raise _problem(op, f"input {source.shape} and output {output.shape}")
    if not math.isfinite(scale(source)) or scale(source) <= 0 or scale(output) <= 0:
        raise _problem(op, "non-positive input or output scale")
    table = rsqrt_table(scale(source), zero_point(source), scale(output), zero_point(output))
    fields = [output.elements, b.array(f"{b.prefix(op)}_table", "int8_t", table)]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(
        op, "edgeq_activation_lut_params", fields, "edgeq_activation_lut_s8", operands, "activations"
    )
