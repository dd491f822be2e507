"""int8 ops of whole layers (kernel group ``arith_layers``): TRANSPOSE_CONV, RESIZE_BILINEAR and
LOG_SOFTMAX, and SUM (``reduce``'s MEAN kernel), bit for bit as TensorFlow Lite Micro's reference
kernels.

TRANSPOSE_CONV: TFLM scatters each input pixel times the filter into an int32 buffer of the whole
output, then requantizes it; the engine gathers, for each output element, the same products (int32
sums do not depend on their order), so it needs no scratch buffer. RESIZE_BILINEAR: TFLM's integer
path (ResizeBilinearInteger, 10 fractional bits); its source rows, columns and weights depend on
the output position only and are computed here. LOG_SOFTMAX: exp() of a difference from the row
maximum takes 256 values, tabulated here; the log of their sum runs in the kernel (TFLite's
log_x_for_x_greater_than_or_equal_to_1 in gemmlowp fixed point).
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier, rounding_divide_by_pot
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.engine.ops.activations import _exp_on_negative_values
from edgeq.engine.ops.arith import requantize
from edgeq.engine.ops.reduce import MEAN_MAX_RUNS, reduction, softmax_scaling
from edgeq.engine.params import activation_range
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator

GROUP = "arith_layers"
RESIZE_FRACTION_BITS = 10  # ResizeBilinearInteger's positions are in 1/1024 pixel
LOG_SOFTMAX_ACCUMULATION_BITS = 12  # the sum of exps is Q12.19
LOG_SOFTMAX_OUTPUT_SCALE = np.float32(16.0 / 256)  # TFLM's LOG_SOFTMAX requires this output scale ...
LOG_SOFTMAX_OUTPUT_ZERO_POINT = 127  # ... and zero point
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


# --- SUM ------------------------------------------------------------------------------------------


@lowering("SUM", group="reduce")
def reduce_sum(b: Builder, op: Operator) -> Layer:
    """reference_ops::QuantizedMeanOrSum with compute_sum: MEAN's kernel with the multiplier
    input_scale / output_scale (reduce_common.cc, in double) and no 1/count folded in."""
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    found = reduction(b, op, MEAN_MAX_RUNS, 1 << 23)
    count, kept, reduced = found.count, found.kept, found.reduced
    multiplier, shift = quantize_multiplier(scale(source) / scale(output))
    if shift > 30:
        raise _problem(op, f"output rescale shift {shift} too large")

    def padded(runs: list[tuple[int, int]]) -> list[str]:
        runs = [*runs, *[(1, 0)] * (MEAN_MAX_RUNS - len(runs))]
        return ["{" + ", ".join(str(r[k]) for r in runs) + "}" for k in (0, 1)]

    fields = [
        *padded(kept),
        *padded(reduced),
        count,
        zero_point(source),
        multiplier,
        shift,
        zero_point(output),
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_mean_params", fields, "edgeq_mean_s8", operands, "reduce")


# --- TRANSPOSE_CONV -------------------------------------------------------------------------------


def transpose_padding(padding: str, stride: int, size: int, kernel: int) -> int:
    """TFLM's TRANSPOSE_CONV padding: ComputePaddingHeightWidth with the *output* size as the
    image size (the convolution this one transposes)."""
    numerator = size + stride - 1 if padding == "SAME" else size + stride - kernel
    if numerator < 0:
        raise ValueError(f"size {size} is smaller than the filter {kernel}")
    out = numerator // stride
    return max((out - 1) * stride + kernel - size, 0) // 2


@lowering("TRANSPOSE_CONV", group=GROUP)
def transpose_conv(b: Builder, op: Operator) -> Layer:
    if len(op.inputs) not in (3, 4) or len(op.outputs) != 1:
        raise _problem(op, "expects 3 or 4 inputs and one output")
    sizes, weights_index, source_index = op.inputs[:3]
    bias_index = op.inputs[3] if len(op.inputs) == 4 else -1
    require_dtype(b.subgraph, op, [source_index, weights_index, op.outputs[0]], "int8")
    source, weights, output = b.tensor(source_index), b.tensor(weights_index), b.tensor(op.outputs[0])
    if not weights.is_constant:
        raise _problem(op, "non-constant weights")
    if len(source.shape) != 4 or len(weights.shape) != 4 or len(output.shape) != 4:
        raise _problem(op, "TFLM's TRANSPOSE_CONV takes 4-D input, filter and output")
    batches, in_h, in_w, in_c = source.shape
    out_c, k_h, k_w, filter_c = weights.shape
    if filter_c != in_c or output.shape[0] != batches or output.shape[3] != out_c:
        raise _problem(op, f"shapes {source.shape}, {weights.shape} and {output.shape} do not match")
    option = op.option
    activation = str(option.get("fused_activation", "NONE"))
    if activation not in ACTIVATIONS:
        raise _problem(op, f"fused activation {activation} is not supported")
    stride_h, stride_w = int(option.get("stride_h", 1)), int(option.get("stride_w", 1))
    if stride_h < 1 or stride_w < 1:
        raise _problem(op, f"strides {stride_h}x{stride_w}")
    padding = str(option.get("padding", "SAME"))
    out_h, out_w = output.shape[1], output.shape[2]
    try:
        pad_h = transpose_padding(padding, stride_h, out_h, k_h)
        pad_w = transpose_padding(padding, stride_w, out_w, k_w)
    except ValueError as exc:
        raise _problem(op, str(exc)) from None
    filter_scales = weights.quantization.scales
    if len(filter_scales) not in (1, out_c):
        raise _problem(
            op,
            f"{len(filter_scales)} filter scales for {out_c} channels (TFLM requires 1 or one per channel)",
        )
    pairs = [
        quantize_multiplier(
            scale(source) * float(np.float32(filter_scales[min(c, len(filter_scales) - 1)])) / scale(output)
        )
        for c in range(out_c)
    ]
    prefix = b.prefix(op)
    bias = "NULL"
    if bias_index >= 0:
        bias_tensor = b.tensor(bias_index)
        if bias_tensor.dtype != "int32" or not bias_tensor.is_constant or bias_tensor.elements != out_c:
            raise _problem(op, "the bias must be a constant int32 vector of one value per output channel")
        bias = b.array(f"{prefix}_bias", "int32_t", bias_tensor.values())
    low, high = activation_range(activation, output)
    del sizes  # TFLM takes the output size from the output tensor's shape
    fields = [batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_h, pad_w,
              -zero_point(source), zero_point(output), low, high,
              b.array(f"{prefix}_weights", "int8_t", weights.values()), bias,
              b.array(f"{prefix}_multipliers", "int32_t", [m for m, _ in pairs]),
              b.array(f"{prefix}_shifts", "int32_t", [s for _, s in pairs])]  # fmt: skip
    operands = [b.operand(source_index), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_transpose_conv_params", fields, "edgeq_transpose_conv_s8", operands, GROUP)


# --- RESIZE_BILINEAR ------------------------------------------------------------------------------


def _divide(numerator: int, denominator: int) -> int:
    """C integer division (truncates toward zero)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def resize_positions(
    in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool
) -> tuple[list[int], list[int], list[int]]:
    """For each output row (or column): the two source rows and the position past the first, in
    1/1024 pixel (ComputeInterpolationValuesInteger)."""
    one = 1 << RESIZE_FRACTION_BITS
    scale_10 = _divide(one * in_size + out_size // 2, out_size)
    if align_corners and out_size > 1:
        scale_10 = _divide(one * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    lower, upper, fraction = [], [], []
    for value in range(out_size):
        scaled = (
            value * scale_10 + _divide(scale_10, 2) - (1 << 9) if half_pixel_centers else value * scale_10
        )
        first = max(_divide(scaled, one), 0)
        lower.append(first)
        upper.append(min(_divide(scaled + one - 1, one), in_size - 1))
        fraction.append(scaled - one * first)
    return lower, upper, fraction


@lowering("RESIZE_BILINEAR", group=GROUP)
def resize_bilinear(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, size, output = b.tensor(op.inputs[0]), b.tensor(op.inputs[1]), b.tensor(op.outputs[0])
    if len(source.shape) != 4 or len(output.shape) != 4:
        raise _problem(op, "TFLM's RESIZE_BILINEAR takes a 4-D input")
    if size.dtype != "int32" or not size.is_constant or len(size.shape) != 1 or size.elements != 2:
        raise _problem(op, "TFLM's RESIZE_BILINEAR needs a constant int32 size of 2 values")
    option = op.option
    if "align_corners" not in option or "half_pixel_centers" not in option:
        raise _problem(op, "its align_corners / half_pixel_centers options are not read from the model")
    align, half = bool(option["align_corners"]), bool(option["half_pixel_centers"])
    if align and half:
        raise _problem(op, "TFLM refuses half_pixel_centers with align_corners")
    out_h, out_w = (int(v) for v in np.asarray(size.values()).reshape(-1))
    batches, in_h, in_w, depth = source.shape
    if output.shape != (batches, out_h, out_w, depth) or min(out_h, out_w, in_h, in_w) < 1:
        raise _problem(op, f"resizes {source.shape} to {output.shape} with size {out_h}x{out_w}")
    prefix = b.prefix(op)
    arrays = []
    for axis, (in_size, out_size) in (("y", (in_h, out_h)), ("x", (in_w, out_w))):
        for name, values in zip(
            ("0", "1", "_fraction"), resize_positions(in_size, out_size, align, half), strict=True
        ):
            arrays.append(b.array(f"{prefix}_{axis}{name}", "int32_t", values))
    fields = [batches, in_h, in_w, depth, out_h, out_w, *arrays]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_resize_bilinear_params", fields, "edgeq_resize_bilinear_s8", operands, GROUP)


# --- LOG_SOFTMAX ----------------------------------------------------------------------------------


@lowering("LOG_SOFTMAX", group=GROUP)
def log_softmax(b: Builder, op: Operator) -> Layer:
    """log_softmax.cc's prepare (PreprocessLogSoftmaxScalingExp with beta 1 and 5 integer bits)
    and reference_ops::LogSoftmaxQuantized."""
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if not source.shape or source.shape != output.shape:
        raise _problem(op, f"maps shape {source.shape} to {output.shape}: TFLM requires equal shapes")
    if np.float32(output.quantization.scales[0]) != LOG_SOFTMAX_OUTPUT_SCALE or (
        zero_point(output) != LOG_SOFTMAX_OUTPUT_ZERO_POINT
    ):
        raise _problem(op, "TFLM's int8 LOG_SOFTMAX requires output scale 16/256 and zero point 127")
    try:
        multiplier, left_shift, diff_min = softmax_scaling(1.0, scale(source))
    except ValueError as exc:
        raise _problem(op, str(exc)) from None
    if left_shift < 1:
        raise _problem(op, f"input scale {scale(source)}: TFLM's reverse scaling overflows (1 << 31)")
    reverse_multiplier, reverse_shift = quantize_multiplier((1 << (31 - left_shift)) / float(multiplier))
    if not reverse_shift <= 0:
        raise _problem(op, "the reverse scaling is not smaller than one, which TFLM refuses")
    diffs = -np.arange(256, dtype=np.int64)  # table index -diff
    rescaled = requantize(diffs, multiplier, left_shift)  # Q5.26
    exps = rounding_divide_by_pot(_exp_on_negative_values(rescaled, 5), LOG_SOFTMAX_ACCUMULATION_BITS)
    exps = np.where(diffs >= diff_min, exps, 0)  # TFLM leaves those out of the sum
    depth = source.shape[-1]
    prefix = b.prefix(op)
    tables = [b.array(f"{prefix}_rescaled", "int32_t", rescaled), b.array(f"{prefix}_exps", "int32_t", exps)]
    fields = [source.elements // depth, depth, diff_min, reverse_multiplier, reverse_shift, *tables]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_log_softmax_params", fields, "edgeq_log_softmax_s8", operands, GROUP)
