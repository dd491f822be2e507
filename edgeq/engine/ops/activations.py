"""Element-wise int8 activations (kernel group ``activations``): LOGISTIC, TANH, HARD_SWISH,
RELU, RELU6 and LEAKY_RELU, bit for bit as TensorFlow Lite Micro's reference kernels.

An int8 element-wise op maps each of the 256 possible input bytes to one output byte. LOGISTIC,
TANH and HARD_SWISH run long fixed-point computations per element in TFLM (gemmlowp's logistic
and tanh in Q4.27 / Q0.31, a chain of int16 multiplies for hard swish); here that integer
arithmetic is replayed in Python for all 256 inputs at generation time and the kernel is a
256-byte lookup table (what optimized MCU libraries do). The table equals TFLM's output for every
input because each step below is TFLM's integer operation, with its rounding, saturation and
(where C++ wraps) two's-complement wrap-around. RELU, RELU6 and LEAKY_RELU are one requantize
(or a clamp) per element: their kernels do that arithmetic in C with prepare-time constants.
"""

from __future__ import annotations

import math

import numpy as np

from edgeq.engine.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    round_half_away,
)
from edgeq.engine.fixedpoint import multiply_by_quantized_multiplier as requantize
from edgeq.engine.fixedpoint import rounding_divide_by_pot as divide_by_pot
from edgeq.engine.fixedpoint import saturating_rounding_doubling_high_mul as high_mul
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator

GROUP = "activations"
INPUTS = np.arange(-128, 128, dtype=np.int64)  # table index i holds the output for input byte i - 128
INPUT_INTEGER_BITS = 4  # TFLM's int8 LOGISTIC and TANH rescale their input to Q4.27


# --- gemmlowp fixed point on int32 values held in int64 numpy arrays --------------------------


def _wrap(x: np.ndarray) -> np.ndarray:
    """int32 two's-complement wrap-around (gemmlowp's plain int32 Add / Sub / Neg)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> on int32."""
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _exp_on_quarter_interval(a: np.ndarray) -> np.ndarray:
    """gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl (Q0.31 in and out)."""
    constant_term, one_third = 1895147668, 715827883  # exp(-1/8), 1/3 in Q0.31
    x = _wrap(a + (1 << 28))
    x2 = high_mul(x, x)
    x3 = high_mul(x2, x)
    x4_over_4 = divide_by_pot(high_mul(x2, x2), 2)
    tail = divide_by_pot(_wrap(high_mul(_wrap(x4_over_4 + x3), one_third) + x2), 1)
    return _wrap(constant_term + high_mul(constant_term, _wrap(x + tail)))


# exp(-2**k) in Q0.31, for the bits k of the input's magnitude above the first quarter
EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
              (3, 720401), (4, 242))  # fmt: skip


def _exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: Q(integer_bits) input <= 0, Q0.31 output. Only 4 and 5
    integer bits are used here (gemmlowp's clamp below -32 applies from 6 on)."""
    fractional_bits = 31 - integer_bits
    quarter = 1 << (fractional_bits - 2)
    shifted = _wrap((a & (quarter - 1)) - quarter)
    result = _exp_on_quarter_interval(_multiply_by_pot(shifted, integer_bits))
    remainder = _wrap(shifted - a)
    for exponent, multiplier in EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (fractional_bits + exponent))) != 0
            result = np.where(bit, high_mul(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal(a: np.ndarray) -> np.ndarray:
    """The Q2.29 estimate of 1 / ((1 + a) / 2) gemmlowp's divisions refine in three steps."""
    half_denominator_sum = a + INT32_MAX
    half_denominator = np.where(
        half_denominator_sum >= 0, (half_denominator_sum + 1) // 2, -((-half_denominator_sum + 1) // 2)
    )  # RoundingHalfSum(a, One): (sum ± 1) / 2, truncated
    x = _wrap(1515870810 + high_mul(half_denominator, -1010580540))  # 48/17 - 32/17 d, in Q2.29
    for _ in range(3):
        one_minus = _wrap((1 << 29) - high_mul(half_denominator, x))
        x = _wrap(x + _multiply_by_pot(high_mul(x, one_minus), 2))
    return x


def gemmlowp_logistic(a: np.ndarray) -> np.ndarray:
    """gemmlowp logistic of a Q4.27 value, in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    magnitude = np.where(a > 0, a, _wrap(-a))
    positive = _multiply_by_pot(_newton_reciprocal(_exp_on_negative_values(_wrap(-magnitude), 4)), 1)
    result = np.where(a > 0, positive, _wrap(INT32_MAX - positive))
    return np.where(a == 0, 1 << 30, result)


def gemmlowp_tanh(a: np.ndarray) -> np.ndarray:
    """gemmlowp tanh of a Q4.27 value, in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    negative_part = np.where(a < 0, a, _wrap(-a))
    # -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)): the doubled input is the same raw value in Q5.26
    t = _multiply_by_pot(_wrap(_newton_reciprocal(_exp_on_negative_values(negative_part, 5)) - (1 << 29)), 2)
    return np.where(a == 0, 0, np.where(a < 0, _wrap(-t), t))


# --- LOGISTIC and TANH ----------------------------------------------------------------------------


def sigmoid_input_params(input_scale: float) -> tuple[int, int, int]:
    """TFLM's int8 LOGISTIC / TANH prepare: (input_multiplier, input_left_shift, input_range_radius)."""
    fraction, left_shift = math.frexp(input_scale * float(1 << (31 - INPUT_INTEGER_BITS)))
    if not 0 <= left_shift < 63:
        raise UnsupportedError(f"input scale {input_scale}: TFLM's shifts are undefined for it")
    multiplier = round_half_away(fraction * float(1 << 31))
    radius = math.floor(
        1.0 * ((1 << INPUT_INTEGER_BITS) - 1) * (1 << (31 - INPUT_INTEGER_BITS)) / (1 << left_shift)
    )  # CalculateInputRadius, in double as TFLM computes it
    return multiplier, left_shift, radius


def sigmoid_table(opcode: str, input_scale: float, input_zero_point: int) -> np.ndarray:
    """The 256 outputs of TFLM's int8 LOGISTIC or TANH (reference_integer_ops)."""
    multiplier, left_shift, radius = sigmoid_input_params(input_scale)
    x = INPUTS - input_zero_point
    inside = (x > -radius) & (x < radius)
    # outside the radius the input is not rescaled (it could overflow): the result is saturated
    q4 = requantize(np.where(inside, x, 0), multiplier, left_shift)
    if opcode == "LOGISTIC":
        value = divide_by_pot(gemmlowp_logistic(q4), 31 - 8) - 128
    else:
        value = divide_by_pot(gemmlowp_tanh(q4), 31 - 7)
    value = np.clip(value, -128, 127)
    return np.where(x <= -radius, -128, np.where(x >= radius, 127, value)).astype(np.int8)


# --- HARD_SWISH (int16 fixed point) ---------------------------------------------------------------


def _int16(x: np.ndarray) -> np.ndarray:
    """Conversion to int16_t (two's-complement wrap-around)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def _high_mul16(a: np.ndarray, b: np.ndarray | int, rounding: bool = True) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16 (or TFLite's SaturatingDoublingHighMul,
    which truncates, when ``rounding`` is False)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    if rounding:
        product = product + np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(product >= 0, product >> 15, -((-product) >> 15))
    return np.where((a == b) & (a == -32768), 32767, _int16(high))


def _divide_by_pot16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT on int16_t (the mask is an int16_t too)."""
    x = np.asarray(x, dtype=np.int64)
    mask = int(_int16((1 << exponent) - 1))
    threshold = _int16((mask >> 1) + (x < 0))
    return _int16((x >> exponent) + ((x & mask) > threshold))


def _saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), -32768, 32767)


def _int16_multiplier(multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier then DownScaleInt32ToInt16Multiplier."""
    q31, exponent = quantize_multiplier(multiplier)
    if q31 >= INT32_MAX - (1 << 15):
        return 32767, exponent
    return (q31 + (1 << 15)) >> 16, exponent


def hard_swish_table(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> np.ndarray:
    """The 256 outputs of TFLM's int8 HARD_SWISH (reference_ops::HardSwish with HardSwishPrepare's
    float32 scale arithmetic)."""
    hires_scale = np.float32(1.0 / 128.0) * np.float32(input_scale)
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    output_m, output_exponent = _int16_multiplier(float(hires_scale / np.float32(output_scale)))
    reluish_m, reluish_exponent = _int16_multiplier(float(hires_scale / reluish_scale))
    if output_exponent > 0:
        raise UnsupportedError("the output multiplier exceeds 1 (TFLM's HardSwishPrepare refuses it)")
    if not -31 <= reluish_exponent <= 31 or output_exponent < -31:
        raise UnsupportedError("scales outside the range TFLM's shifts are defined for")
    hires = _int16(_int16(INPUTS - input_zp) * (1 << 7))
    preshift_output = _high_mul16(hires, output_m)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, reluish_exponent - 1)
    reluish = _high_mul16(reluish, reluish_m)
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if reluish_exponent < 0:
        reluish = _divide_by_pot16(reluish, -reluish_exponent)
    reluish = _int16((reluish + (1 << 15)) >> 1)
    preshift = _high_mul16(reluish, preshift_output, rounding=False)
    value = _int16(_divide_by_pot16(preshift, -output_exponent) + output_zp)
    return np.clip(value, -128, 127).astype(np.int8)


# --- lowerings ------------------------------------------------------------------------------------


def _elementwise(b: Builder, op: Operator) -> tuple[int, str, str]:
    """Element count and the input / output operands of a one-input int8 element-wise op."""
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if source.elements != output.elements:
        raise UnsupportedError(f"op {op.index} ({op.opcode}): input {source.shape} and output {output.shape}")
    return output.elements, b.operand(op.inputs[0]), b.operand(op.outputs[0])


def _table_layer(b: Builder, op: Operator, table: np.ndarray, size: int, operands: list[str]) -> Layer:
    fields = [size, b.array(f"{b.prefix(op)}_table", "int8_t", table)]
    return b.layer(op, "edgeq_activation_lut_params", fields, "edgeq_activation_lut_s8", operands, GROUP)


@lowering("LOGISTIC", group=GROUP)
@lowering("TANH", group=GROUP)
def sigmoid(b: Builder, op: Operator) -> Layer:
    size, source, target = _elementwise(b, op)
    output = b.tensor(op.outputs[0])
    if op.opcode == "LOGISTIC" and zero_point(output) != -128:
        raise UnsupportedError(
            f"op {op.index} (LOGISTIC): output zero point {zero_point(output)}; TFLM requires -128"
        )
    # TFLM's kernels assume the output scale 1/256 (LOGISTIC) or 1/128 (TANH) and never read it
    source_tensor = b.tensor(op.inputs[0])
    try:
        table = sigmoid_table(op.opcode, scale(source_tensor), zero_point(source_tensor))
    except UnsupportedError as exc:
        raise UnsupportedError(f"op {op.index} ({op.opcode}): {exc}") from None
    return _table_layer(b, op, table, size, [source, target])


@lowering("HARD_SWISH", group=GROUP)
def hard_swish(b: Builder, op: Operator) -> Layer:
    size, source, target = _elementwise(b, op)
    source_tensor, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    try:
        table = hard_swish_table(
            scale(source_tensor), zero_point(source_tensor), scale(output), zero_point(output)
        )
    except UnsupportedError as exc:
        raise UnsupportedError(f"op {op.index} (HARD_SWISH): {exc}") from None
    return _table_layer(b, op, table, size, [source, target])


def _ratio(numerator: float, denominator: float) -> float:
    """A float32 quotient widened to double, as TFLM's prepare computes its real multipliers."""
    return float(np.float32(numerator) / np.float32(denominator))


@lowering("RELU", group=GROUP)
def relu(b: Builder, op: Operator) -> Layer:
    size, source, target = _elementwise(b, op)
    source_tensor, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    multiplier, shift = quantize_multiplier(_ratio(scale(source_tensor), scale(output)))
    # CalculateReluOpData: the quantized 0.0 is the output zero point (roundf(0 / scale) == 0)
    fields = [size, zero_point(source_tensor), zero_point(output), multiplier, shift,
              max(-128, zero_point(output)), 127]  # fmt: skip
    return b.layer(op, "edgeq_relu_params", fields, "edgeq_relu_s8", [source, target], GROUP)


@lowering("RELU6", group=GROUP)
def relu6(b: Builder, op: Operator) -> Layer:
    size, source, target = _elementwise(b, op)
    # Relu6Prepare clamps in the input's quantization (the output's is not read)
    source_tensor = b.tensor(op.inputs[0])
    zero = zero_point(source_tensor)
    six = round_half_away(float(np.float32(6.0) / np.float32(scale(source_tensor)))) + zero
    six = min(max(six, -128), 127)
    return b.layer(op, "edgeq_relu6_params", [size, zero, six], "edgeq_relu6_s8", [source, target], GROUP)


@lowering("LEAKY_RELU", group=GROUP)
def leaky_relu(b: Builder, op: Operator) -> Layer:
    size, source, target = _elementwise(b, op)
    source_tensor, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    alpha = np.float32(op.option.get("alpha", 0.0))
    input_scale, output_scale = np.float32(scale(source_tensor)), np.float32(scale(output))
    alpha_multiplier, alpha_shift = quantize_multiplier(float(input_scale * alpha / output_scale))
    identity_multiplier, identity_shift = quantize_multiplier(float(input_scale / output_scale))
    # QuantizeLeakyRelu applies |alpha| and negates the rescaled value for a negative alpha
    fields = [size, zero_point(source_tensor), zero_point(output), identity_multiplier, identity_shift,
              abs(alpha_multiplier), alpha_shift, int(alpha_multiplier < 0)]  # fmt: skip
    return b.layer(op, "edgeq_leaky_relu_params", fields, "edgeq_leaky_relu_s8", [source, target], GROUP)
