"""int8 DIV and int8 / int16 ABS (kernel group ``division``): the ops of a Keras ``softsign``
(x / (1 + |x|): ABS, ADD, DIV), bit for bit as TensorFlow Lite Micro's reference kernels.

ABS is elementwise.cc's AbsEvalQuantized: ``|x - input zero point|``, rescaled by
input_scale / output_scale (the quotient of the float32 scales, QuantizeMultiplier) unless the
two scales are equal, plus the output zero point, clamped to the type. TFLM's Prepare requires
zero points of 0 for int16.

DIV is div.cc's EvalQuantized, reference_ops::DivElementwise / BroadcastDivSlow (walked with
numpy broadcasting, ``binary.broadcast_walk``): both inputs offset; where the divisor is negative
both change sign; the divisor's reciprocal (GetReciprocal in Q0.31, and its bits above one); the
dividend scaled up by its headroom (CountLeadingSignBits) and multiplied by the reciprocal, then by
the output multiplier (input1_scale / (input2_scale * output_scale) in float32) and divided by
2**(headroom + reciprocal bits - output shift), plus the output zero point, clamped to the fused
activation. The reciprocal depends on the int8 divisor alone, so the generator tabulates it (a
256-entry int32 table and a 256-entry int8 table of its bits, per DIV).

That power of two can reach 2**32 and beyond (for dividends near zero when the output scale is
coarse, e.g. ``a / b`` with ``b`` calibrated on [0.1, 1]), where gemmlowp's RoundingDivideByPOT
shifts an int32 by 32 or more bits: undefined in C. The kernel reproduces what TFLM's x86-64 build
computes there (the host interpreter edgeq compares with; checked on all 65536 pairs of int8
inputs for six pairs of calibration ranges, exponents up to 50): the mask ``(1ll << exponent) - 1``
truncated to int32 (all ones), the shift count taken modulo 32, int32 sums wrapping. TFLM built for
Arm would shift such values to 0 or -1 instead (an ASR by a register of 32 or more; not measured),
so on those inputs TFLM on a Cortex-M and on a PC differ. A divisor equal to its zero point
(division by zero, which TFLM only DCHECKs) gets TFLM's arithmetic too. A model whose exponents
can fall below 0 or exceed 63 (a negative shift, or ``1ll << 64``: output multipliers beyond about
2**22 or below 2**-26, not seen from the converter) is refused.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.engine.ops.activations import _multiply_by_pot, _newton_reciprocal
from edgeq.engine.ops.binary import _activation_range, _operands, broadcast_walk, walk_fields
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "division"
VALUES = np.arange(-128, 128, dtype=np.int64)  # table index i holds the entry for input byte i - 128
LIMITS = {"int8": (-128, 127), "int16": (-32768, 32767)}
MAX_RESCALE_SHIFT = 30  # ABS's x * (1 << shift) in TFLM: beyond 31 the shift itself is undefined
MAX_EXPONENT = 63  # DIV's 1ll << exponent in RoundingDivideByPOT


def _problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


# --- ABS ------------------------------------------------------------------------------------------


@lowering("ABS", group=GROUP, kinds=("int8", "int16"))
def absolute(b: Builder, op: Operator) -> Layer:
    """elementwise.cc's PrepareAbsRsqrt and AbsEvalQuantized<int8_t / int16_t>."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise _problem(op, "expects one input and one output")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    kind = source.dtype
    if output.dtype != kind:
        raise _problem(op, f"{kind} input, {output.dtype} output: TFLM's ABS requires one type")
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], kind)
    for tensor in (source, output):
        if tensor.quantization.per_channel:
            raise _problem(op, f"tensor {tensor.name} is quantized per channel")
    if source.elements != output.elements:
        raise _problem(op, f"input {source.shape} and output {output.shape} differ")
    if kind == "int16" and (zero_point(source) != 0 or zero_point(output) != 0):
        raise _problem(op, "TFLM's int16 ABS requires zero points of 0")
    input_scale, output_scale = np.float32(scale(source)), np.float32(scale(output))
    rescale = bool(input_scale != output_scale)  # TFLM compares the float32 scales
    multiplier, shift = quantize_multiplier(float(input_scale / output_scale)) if rescale else (0, 0)
    if shift > MAX_RESCALE_SHIFT:
        raise _problem(op, f"rescale shift {shift} too large")
    low, high = LIMITS[kind]
    fields = [output.elements, zero_point(source), zero_point(output), int(rescale), multiplier, shift,
              low, high]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    call = "edgeq_abs_s8" if kind == "int8" else "edgeq_abs_s16"
    return b.layer(op, "edgeq_abs_params", fields, call, operands, GROUP)


# --- DIV ------------------------------------------------------------------------------------------


def sign_bits(values: np.ndarray) -> np.ndarray:
    """TFLite's CountLeadingSignBits of int32 values: 31 for 0 and -1."""
    values = np.asarray(values, dtype=np.int64)
    magnitude = np.where(values < 0, ~values, values)
    return 31 - np.array([int(v).bit_length() for v in magnitude.reshape(-1)], dtype=np.int64).reshape(
        values.shape
    )


def reciprocals(divisors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal(x, 31, &shift) of each non-negative int32 ``x``: 1 / x as a Q0.31
    value in [1/2, 1] and the bits of x above one (31 - CountLeadingZeros(x)). For x = 0 (a
    divisor at its zero point) the same arithmetic: 32 leading zeros, the normalised x 0."""
    divisors = np.asarray(divisors, dtype=np.int64)
    bits = np.array([int(v).bit_length() for v in divisors.reshape(-1)], dtype=np.int64).reshape(
        divisors.shape
    )
    leading_zeros = 32 - bits
    normalised = np.where(divisors == 0, 0, (divisors << np.minimum(leading_zeros, 31)) & 0xFFFFFFFF)
    minus_one = normalised - (1 << 31)  # (x << headroom) - 1.0, in Q0.31
    inverse = _multiply_by_pot(_newton_reciprocal(minus_one), 1)  # one_over_one_plus_x_for_x_in_0_1
    return inverse, 31 - leading_zeros


def _exponent_range(first: Tensor, second: Tensor, output_shift: int) -> tuple[int, int]:
    """The smallest and largest power of two TFLM's DIV divides by (RoundingDivideByPOT's
    exponent, headroom + reciprocal bits - output shift) over every pair of int8 inputs."""
    dividends = VALUES - zero_point(first)
    divisors = VALUES - zero_point(second)
    _, bits = reciprocals(np.abs(divisors))
    lowest, highest = None, None
    for negative in (False, True):
        chosen = divisors < 0 if negative else divisors >= 0
        if not chosen.any():
            continue
        headroom = sign_bits(-dividends if negative else dividends)
        low = int(headroom.min()) + int(bits[chosen].min()) - output_shift
        high = int(headroom.max()) + int(bits[chosen].max()) - output_shift
        lowest = low if lowest is None else min(lowest, low)
        highest = high if highest is None else max(highest, high)
    assert lowest is not None and highest is not None
    return lowest, highest


@lowering("DIV", group=GROUP)
def divide(b: Builder, op: Operator) -> Layer:
    """div.cc's CalculateOpDataDiv and reference_ops' int8 DivElementwise / BroadcastDivSlow."""
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    f32 = np.float32
    real = float(f32(scale(first)) / (f32(scale(second)) * f32(scale(output))))
    multiplier, shift = quantize_multiplier(real)
    low, high = _activation_range(op, output)
    lowest, highest = _exponent_range(first, second, shift)
    if lowest < 0 or highest > MAX_EXPONENT:
        exponent = lowest if lowest < 0 else highest
        raise _problem(op, f"output shift {shift}: TFLM's DIV would divide by 2**{exponent}, undefined in C")
    inverse, bits = reciprocals(np.abs(VALUES - zero_point(second)))
    prefix = b.prefix(op)
    tables = [b.array(f"{prefix}_reciprocals", "int32_t", inverse), b.array(f"{prefix}_bits", "int8_t", bits)]
    fields = [*walk_fields(b, op, walk, output), *tables, -zero_point(first), -zero_point(second),
              zero_point(output), multiplier, shift, low, high]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_div_params", fields, "edgeq_div_s8", operands, GROUP)
