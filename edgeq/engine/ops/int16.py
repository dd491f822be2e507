"""Element-wise ops of int16x8 models (kernel group ``int16``): ADD, SUB, MUL, MAXIMUM, MINIMUM,
LOGISTIC, TANH, SOFTMAX, RELU, RELU6 and LEAKY_RELU on int16 tensors, bit for bit as TensorFlow
Lite Micro's reference int16 paths.

An int16 input has 65536 values, too many for the 256-entry tables of the int8 kernels, so these
kernels do TFLM's integer arithmetic per element in C with the constants TFLM's Prepare derives,
computed here. ADD and SUB rescale both inputs after a left shift of 15 (TFLM's general int16
path, not its power-of-two one); ADD derives its multipliers in double, SUB in float, as TFLM
does. LOGISTIC and TANH interpolate TFLM's 256-entry sigmoid table (one copy in the kernel file);
SOFTMAX interpolates the two 513-entry tables TFLM fills at Prepare (exp on [-10, 0] and
1 / (1 + x) on [0, 1]), which ``softmax_tables`` recomputes here in float32 as TFLM does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier, round_half_away
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.engine.ops.binary import broadcast_walk, walk_fields
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "int16"
INT16_MIN, INT16_MAX = -32768, 32767
ADD_LEFT_SHIFT = 15  # TFLM's int16 ADD / SUB scale both inputs up by 2**15 before rescaling
# the binary kernel's operations (EDGEQ_S16_* in int16.h.j2)
BINARY_OPS = {"ADD": 0, "SUB": 1, "MUL": 2, "MAXIMUM": 3, "MINIMUM": 4}
LUT_STEPS = 512  # TFLM's int16 lookup tables: 512 intervals, 513 entries


def problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


def activation_range16(op: Operator, output: Tensor) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for an int16 output."""
    activation = str(op.option.get("fused_activation", "NONE"))
    out_scale, zp = np.float32(scale(output)), zero_point(output)

    def quantize(value: float) -> int:
        return zp + round_half_away(float(np.float32(value) / out_scale))

    if activation == "NONE":
        return INT16_MIN, INT16_MAX
    if activation == "RELU":
        return max(INT16_MIN, quantize(0.0)), INT16_MAX
    if activation == "RELU6":
        return max(INT16_MIN, quantize(0.0)), min(INT16_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT16_MIN, quantize(-1.0)), min(INT16_MAX, quantize(1.0))
    raise problem(op, f"fused activation {activation} is not supported")


def per_tensor(op: Operator, *tensors: Tensor) -> None:
    for tensor in tensors:
        if tensor.quantization is None or tensor.quantization.per_channel:
            raise problem(op, f"tensor {tensor.name} is not quantized per tensor")


def checked_log2(value: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2 (float32): whether ``value`` is a power of two, and the rounded log2."""
    log2 = np.float32(np.log(np.float32(value))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    rounded = round_half_away(float(log2))
    return abs(float(np.float32(log2) - np.float32(rounded))) < float(np.float32(1e-3)), rounded


def _smaller_than_one(op: Operator, real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp (TFLM aborts outside (0, 1))."""
    if not 0.0 < real < 1.0:
        raise problem(op, f"rescale factor {real} outside (0, 1): TFLM's {op.opcode} refuses it")
    return quantize_multiplier(real)


def _binary_constants(op: Operator, first: Tensor, second: Tensor, output: Tensor) -> list[int]:
    """input1 offset, input2 offset, left shift, input1 multiplier / shift, input2 multiplier /
    shift, output offset, output multiplier / shift: TFLM's Prepare for each op."""
    s1, s2, so = scale(first), scale(second), scale(output)
    offsets = [-zero_point(first), -zero_point(second)]
    if op.opcode in ("MAXIMUM", "MINIMUM"):  # no Prepare: raw values compared
        return [*offsets, 0, 0, 0, 0, 0, zero_point(output), 0, 0]
    if op.opcode == "MUL":
        if any(zero_point(t) != 0 for t in (first, second, output)):
            raise problem(op, "TFLM's int16 MUL requires zero points of 0")
        multiplier, shift = quantize_multiplier(s1 * s2 / so)
        if shift > 30:
            raise problem(op, f"output rescale shift {shift} too large")
        return [0, 0, 0, 0, 0, 0, 0, 0, multiplier, shift]
    if op.opcode == "ADD":  # CalculateOpDataAdd: double arithmetic
        twice = 2 * max(s1, s2)
        reals = (s1 / twice, s2 / twice, twice / ((1 << ADD_LEFT_SHIFT) * so))
    else:  # CalculateOpDataSub: float arithmetic, widened to double
        twice32 = np.float32(2) * max(np.float32(s1), np.float32(s2))
        reals = (
            float(np.float32(s1) / twice32),
            float(np.float32(s2) / twice32),
            float(twice32 / (np.float32(1 << ADD_LEFT_SHIFT) * np.float32(so))),
        )
    (m1, e1), (m2, e2), (mo, eo) = (_smaller_than_one(op, real) for real in reals)
    return [*offsets, ADD_LEFT_SHIFT, m1, e1, m2, e2, zero_point(output), mo, eo]


@lowering("ADD", group=GROUP, kinds=("int16",))
@lowering("SUB", group=GROUP, kinds=("int16",))
@lowering("MUL", group=GROUP, kinds=("int16",))
@lowering("MAXIMUM", group=GROUP, kinds=("int16",))
@lowering("MINIMUM", group=GROUP, kinds=("int16",))
def binary(b: Builder, op: Operator) -> Layer:
    """TFLM's int16 AddElementwise / SubElementwise / MulElementwise / MaximumMinimum, walked
    with numpy broadcasting (BroadcastBinaryOpSimple gives each element the same arithmetic)."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise problem(op, "expects two inputs and one output")
    require_dtype(b.subgraph, op, [*op.inputs, op.outputs[0]], "int16")
    first, second, output = (b.tensor(i) for i in (*op.inputs, op.outputs[0]))
    per_tensor(op, first, second, output)
    walk = broadcast_walk(op, first, second, output)
    if op.opcode in ("MAXIMUM", "MINIMUM"):
        low, high = INT16_MIN, INT16_MAX
    else:
        low, high = activation_range16(op, output)
    fields = [
        *walk_fields(b, op, walk, output),
        BINARY_OPS[op.opcode],
        *_binary_constants(op, first, second, output),
        low,
        high,
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_binary_s16_params", fields, "edgeq_binary_s16", operands, GROUP)


def _unary(b: Builder, op: Operator) -> tuple[Tensor, Tensor, list[str]]:
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int16")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    per_tensor(op, source, output)
    if source.elements != output.elements:
        raise problem(op, f"input {source.shape} and output {output.shape} differ")
    return source, output, [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]


SIGMOID_STEPS_PER_UNIT = 24  # the table's entry i is sigmoid(i / 24)


def sigmoid_table() -> list[int]:
    """The 256-entry table TFLM's int16 LOGISTIC and TANH interpolate: 65536 * sigmoid(i / 24),
    each entry raised by half the error of the chord at the middle of its interval (so linear
    interpolation errs both ways, as TFLite's LUTPopulate does), rounded; the last entry is the
    largest uint16 (the curve's limit, 65536, does not fit). Equals TFLM's sigmoid_table_uint16."""

    def curve(i: float) -> float:
        return 65536.0 / (1.0 + math.exp(-i / SIGMOID_STEPS_PER_UNIT))

    table = [round(curve(i) + 0.5 * (curve(i + 0.5) - (curve(i) + curve(i + 1)) / 2)) for i in range(255)]
    return [*table, 65535]


def sigmoid_input_params16(op: Operator, input_scale: float) -> tuple[int, int]:
    """TFLM's int16 LOGISTIC / TANH Prepare, with the kernel's power-of-two rewrite: the input
    multiplier and right shift that bring the input to the table's scale of 1 / (3 * 4096)."""
    is_pot, log2 = checked_log2(input_scale)
    left_shift = (15 - 3) + log2  # 3 integer bits of input
    accepted = (0,) if op.opcode == "LOGISTIC" else (0, 1)
    if is_pot and left_shift in accepted:
        return 3 << left_shift, 0
    multiplier, left_shift = input_scale * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    if int(multiplier) > 32767:
        raise problem(op, f"input scale {input_scale}: TFLM's int16 input multiplier would exceed 32767")
    return int(multiplier), left_shift


@lowering("LOGISTIC", group=GROUP, kinds=("int16",))
@lowering("TANH", group=GROUP, kinds=("int16",))
def sigmoid(b: Builder, op: Operator) -> Layer:
    source, output, operands = _unary(b, op)
    if zero_point(source) != 0 or zero_point(output) != 0:
        raise problem(op, f"TFLM's int16 {op.opcode} requires zero points of 0")
    is_pot, log2 = checked_log2(scale(output))
    if not is_pot or log2 != -15:
        raise problem(op, f"output scale {scale(output)}: TFLM's int16 {op.opcode} requires 2**-15")
    multiplier, shift = sigmoid_input_params16(op, scale(source))
    call = "edgeq_logistic_s16" if op.opcode == "LOGISTIC" else "edgeq_tanh_s16"
    fields = [output.elements, multiplier, shift]
    return b.layer(op, "edgeq_sigmoid_s16_params", fields, call, operands, GROUP)


def _roundf(value: np.float32) -> np.float32:
    return np.float32(round_half_away(float(value)))


def lut_table(
    input_scale: float, input_zp: int, output_scale: float, transform: Callable[[np.float32], np.float32]
) -> list[int]:
    """TFLite's LUTPopulateInt16<float> (output zero point 0): ``transform`` sampled at 513
    points over the int16 input range, each but the last corrected by half the error of linear
    interpolation at its interval's midpoint. float32 arithmetic throughout, as TFLM."""
    f32 = np.float32
    input_min = f32(input_scale) * f32(INT16_MIN - input_zp)
    input_max = f32(input_scale) * f32(INT16_MAX - input_zp)
    output_min, output_max = f32(output_scale) * f32(INT16_MIN), f32(output_scale) * f32(INT16_MAX)
    step = (input_max - input_min) / f32(LUT_STEPS)
    half_step = step / f32(2)
    inverse = f32(65536) / (output_max - output_min)
    table = []
    for i in range(LUT_STEPS):
        value = transform(input_min + f32(i) * step)
        midpoint = transform(input_min + f32(i) * step + half_step)
        following = transform(input_min + f32(i + 1) * step)
        sample = _roundf(value * inverse)
        interpolated = _roundf((following * inverse + _roundf(value * inverse)) / f32(2))
        bias = _roundf((interpolated - _roundf(midpoint * inverse)) / f32(2))
        table.append(int(min(max(sample - bias, f32(INT16_MIN)), f32(INT16_MAX))))
    table.append(int(min(max(_roundf(transform(input_max) * inverse), f32(INT16_MIN)), f32(INT16_MAX))))
    return table


def softmax_tables() -> tuple[list[int], list[int]]:
    """The exp and 1 / (1 + x) tables TFLM's softmax Prepare fills for int16 inputs."""
    f32 = np.float32
    span = f32(INT16_MAX - INT16_MIN)

    def exp(value: np.float32) -> np.float32:
        return f32(math.exp(float(value)))  # std::exp(float), correctly rounded

    def reciprocal(value: np.float32) -> np.float32:
        return f32(1.0) / (f32(1.0) + f32(value))

    exp_table = lut_table(f32(10.0) / span, INT16_MAX, f32(2.0) / span, exp)
    return exp_table, lut_table(f32(1.0) / span, INT16_MIN, f32(2.0) / span, reciprocal)


@lowering("SOFTMAX", group=GROUP, kinds=("int16",))
def softmax(b: Builder, op: Operator) -> Layer:
    """TFLM's SoftmaxInt16: exp of the scaled difference to the row maximum from one table,
    the reciprocal of the sum of exps from the other."""
    source, output, operands = _unary(b, op)
    if not source.shape or source.shape != output.shape:
        raise problem(op, f"maps shape {source.shape} to {output.shape}: not supported")
    if zero_point(source) != 0 or zero_point(output) != 0:
        raise problem(op, "TFLM's int16 SOFTMAX requires zero points of 0")
    out_scale = np.float32(scale(output))
    if abs(out_scale - np.float32(1.0 / 32768)) > np.float32(0.001) * np.float32(1.0 / 32768):
        raise problem(op, f"output scale {out_scale}: TFLM's int16 SOFTMAX requires 1/32768")
    beta = float(np.float32(op.option.get("beta", 0.0)))
    multiplier, shift = quantize_multiplier(scale(source) * beta / (10.0 / 65535.0))
    if shift > 30:
        raise problem(op, f"input rescale shift {shift} too large")
    depth = source.shape[-1]
    if depth <= 0 or depth >= 1 << 16:
        raise problem(op, f"last axis of {depth} elements is not supported")
    exp_table, reciprocal_table = softmax_tables()
    prefix = b.prefix(op)
    fields = [source.elements // depth, depth, multiplier, shift,
              b.array(f"{prefix}_exp_lut", "int16_t", exp_table),
              b.array(f"{prefix}_reciprocal_lut", "int16_t", reciprocal_table)]  # fmt: skip
    return b.layer(op, "edgeq_softmax_s16_params", fields, "edgeq_softmax_s16", operands, GROUP)


def _ratio(numerator: float, denominator: float) -> float:
    """A float32 quotient widened to double, as TFLM's Prepare computes these multipliers."""
    return float(np.float32(numerator) / np.float32(denominator))


@lowering("RELU", group=GROUP, kinds=("int16",))
def relu(b: Builder, op: Operator) -> Layer:
    """TFLM's ReluQuantized<int16_t>: requantized to the output scale, clamped below at 0."""
    source, output, operands = _unary(b, op)
    if zero_point(source) != 0 or zero_point(output) != 0:
        raise problem(op, "TFLM's int16 RELU requires zero points of 0")
    multiplier, shift = quantize_multiplier(_ratio(scale(source), scale(output)))
    if shift > 30:
        raise problem(op, f"rescale shift {shift} too large")
    fields = [output.elements, zero_point(source), zero_point(output), multiplier, shift,
              max(INT16_MIN, zero_point(output)), INT16_MAX]  # fmt: skip
    return b.layer(op, "edgeq_relu_s16_params", fields, "edgeq_relu_s16", operands, GROUP)


@lowering("RELU6", group=GROUP, kinds=("int16",))
def relu6(b: Builder, op: Operator) -> Layer:
    """TFLM's Relu6Quantized<int16_t>: a clamp in the input's quantization."""
    source, _, operands = _unary(b, op)
    zero = zero_point(source)
    six = round_half_away(float(np.float32(6.0) / np.float32(scale(source)))) + zero
    six = min(max(six, INT16_MIN), INT16_MAX)
    fields = [b.tensor(op.outputs[0]).elements, zero, six]
    return b.layer(op, "edgeq_relu6_s16_params", fields, "edgeq_relu6_s16", operands, GROUP)


@lowering("LEAKY_RELU", group=GROUP, kinds=("int16",))
def leaky_relu(b: Builder, op: Operator) -> Layer:
    """TFLM's QuantizeLeakyRelu<int16_t>: identity or alpha requantization by the input's sign."""
    source, output, operands = _unary(b, op)
    alpha = np.float32(op.option.get("alpha", 0.0))
    input_scale, output_scale = np.float32(scale(source)), np.float32(scale(output))
    alpha_multiplier, alpha_shift = quantize_multiplier(float(input_scale * alpha / output_scale))
    identity_multiplier, identity_shift = quantize_multiplier(float(input_scale / output_scale))
    if max(alpha_shift, identity_shift) > 30:
        raise problem(op, "rescale shift too large")
    fields = [output.elements, zero_point(source), zero_point(output), identity_multiplier, identity_shift,
              abs(alpha_multiplier), alpha_shift, int(alpha_multiplier < 0)]  # fmt: skip
    return b.layer(op, "edgeq_leaky_relu_s16_params", fields, "edgeq_leaky_relu_s16", operands, GROUP)
