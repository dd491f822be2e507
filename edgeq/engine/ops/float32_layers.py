"""float32 layers (kernel group ``float32``): CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
TRANSPOSE_CONV, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX, LOG_SOFTMAX, MEAN, SUM and RESIZE_BILINEAR
of float models and of the float islands of int8 models (DEQUANTIZE → float op → QUANTIZE).

The kernels (``kernels/float32.c.j2``) run TFLM's reference float loops in its order: each
convolution / fully-connected output sums its products from 0.0f in TFLM's tap order, adds the
bias (0.0f without one) and clamps as ActivationFunctionWithMinMax does; pools, reductions and
resizing likewise, with multiply-add contraction switched off. Compiled for x86-64 with gcc -O2
they give TFLM's bits exactly (tested with tolerance 0). SOFTMAX and LOG_SOFTMAX call expf / logf:
on the host edgeq's engine and the TFLM package call the same glibc functions, so they match bit
for bit there too; on a Cortex-M (newlib) SOFTMAX measured up to 2 ulp from TFLM on the host, every
other layer bit-identical (see ``float32_elementwise``).

What is computed at TFLM's prepare (paddings, resize coordinates) is computed here: the resize
coordinates with numpy float32 arithmetic, which rounds each operation as C's float does.
"""

from __future__ import annotations

import numpy as np

from edgeq.cnames import c_float
from edgeq.engine.lowering import Builder, Layer, lowering
from edgeq.engine.ops.reduce import mean_runs
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "float32"
KIND = ("float32",)
REDUCE_RUNS = 4  # EDGEQ_F32_REDUCE_RUNS in float32.h.j2
NO_BIAS = "(const float *)0"
FLT_MAX = c_float(float(np.finfo(np.float32).max))  # a literal: model.c does not include float.h
# CalculateActivationRange<float>: a fused activation's clamp range as C float literals
ACTIVATION_RANGES = {
    "NONE": (f"-{FLT_MAX}", FLT_MAX),
    "RELU": ("0.0f", FLT_MAX),
    "RELU6": ("0.0f", "6.0f"),
    "RELU_N1_TO_1": ("-1.0f", "1.0f"),
}


def problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


def activation_range(op: Operator) -> tuple[str, str]:
    """The fused activation's clamp range (TFLM's CalculateActivationRange for float)."""
    activation = str(op.option.get("fused_activation", "NONE"))
    if activation not in ACTIVATION_RANGES:
        raise problem(op, f"fused activation {activation}: TFLM's float kernels would ignore it")
    return ACTIVATION_RANGES[activation]


def require_float(b: Builder, op: Operator, indices: list[int] | tuple[int, ...]) -> list[Tensor]:
    """The tensors ``indices`` (all float32, else UnsupportedError naming TFLM's reason)."""
    tensors = []
    for index in indices:
        tensor = b.tensor(index)
        if tensor.dtype != "float32":
            raise problem(
                op,
                f"tensor {tensor.name} is {tensor.dtype} in a float32 op: TFLM runs float ops on "
                "float32 tensors only (no hybrid models)",
            )
        tensors.append(tensor)
    return tensors


def _bias(b: Builder, op: Operator, position: int) -> str:
    """The bias operand (input ``position``), or a null pointer when the op has none."""
    if len(op.inputs) > position and op.inputs[position] >= 0:
        require_float(b, op, [op.inputs[position]])
        return b.operand(op.inputs[position])
    return NO_BIAS


def _weighted_operands(b: Builder, op: Operator, source: int, weights: int, bias: int) -> list[str]:
    """input, weights, bias (or a null pointer) and output operands of a conv / fully-connected op."""
    return [b.operand(op.inputs[source]), b.operand(op.inputs[weights]), _bias(b, op, bias),
            b.operand(op.outputs[0], False)]  # fmt: skip


def _mismatch(op: Operator, *tensors: Tensor) -> UnsupportedError:
    return problem(op, f"shapes {', '.join(str(t.shape) for t in tensors)} do not match")


def _out_size(op: Operator, padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLite's ComputeOutSize."""
    if stride <= 0 or dilation <= 0 or kernel <= 0:
        raise problem(op, f"stride {stride}, dilation {dilation}, kernel {kernel}: TFLM refuses them")
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    if padding == "VALID":
        return (size + stride - effective) // stride
    raise problem(op, f"padding {padding}: TFLM takes SAME or VALID")


def _pad(stride: int, dilation: int, size: int, kernel: int, out: int) -> int:
    """TFLite's ComputePaddingWithOffset: the top / left padding."""
    return max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0) // 2


def _window_padding(
    op: Operator, in_hw: tuple[int, int], kernel: tuple[int, int], out_hw: tuple[int, int]
) -> tuple[int, int]:
    """Paddings of a conv / pool as TFLM's ComputePaddingHeightWidth (output size checked)."""
    option, padding = op.option, str(op.option.get("padding"))
    strides = (int(option["stride_h"]), int(option["stride_w"]))
    dilations = (int(option.get("dilation_h", 1)), int(option.get("dilation_w", 1)))
    pads = []
    for size, k, stride, dilation, out in zip(in_hw, kernel, strides, dilations, out_hw, strict=True):
        expected = _out_size(op, padding, size, k, stride, dilation)
        if expected != out:
            raise problem(op, f"output size {out} where TFLM computes {expected}")
        pads.append(_pad(stride, dilation, size, k, out))
    return pads[0], pads[1]


def _rank4(op: Operator, *tensors: Tensor) -> None:
    for tensor in tensors:
        if len(tensor.shape) != 4:
            raise problem(op, f"tensor {tensor.name} has shape {tensor.shape}: TFLM needs 4 dimensions")


@lowering("CONV_2D", group=GROUP, kinds=KIND)
def conv_2d(b: Builder, op: Operator) -> Layer:
    source, weights, output = require_float(b, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    _rank4(op, source, weights, output)
    batches, in_h, in_w, in_c = source.shape
    out_c, k_h, k_w, filter_in_c = weights.shape
    _, out_h, out_w, _ = output.shape
    if in_c % filter_in_c or out_c % (in_c // filter_in_c) or output.shape[3] != out_c:
        raise _mismatch(op, source, weights, output)
    pad_h, pad_w = _window_padding(op, (in_h, in_w), (k_h, k_w), (out_h, out_w))
    option = op.option
    fields = [batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, filter_in_c, option["stride_h"],
              option["stride_w"], option.get("dilation_h", 1), option.get("dilation_w", 1), pad_h, pad_w,
              *activation_range(op)]  # fmt: skip
    operands = _weighted_operands(b, op, 0, 1, 2)
    return b.layer(op, "edgeq_f32_conv_params", fields, "edgeq_f32_conv", operands, GROUP)


@lowering("DEPTHWISE_CONV_2D", group=GROUP, kinds=KIND)
def depthwise_conv_2d(b: Builder, op: Operator) -> Layer:
    source, weights, output = require_float(b, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    _rank4(op, source, weights, output)
    batches, in_h, in_w, in_c = source.shape
    _, k_h, k_w, out_c = weights.shape
    _, out_h, out_w, _ = output.shape
    multiplier = out_c // in_c if in_c else 0
    declared = int(op.option.get("depth_multiplier", 0))
    if out_c != in_c * multiplier or output.shape[3] != out_c or declared not in (0, multiplier):
        raise problem(op, f"shapes {source.shape}, {weights.shape}, depth multiplier {declared} do not match")
    pad_h, pad_w = _window_padding(op, (in_h, in_w), (k_h, k_w), (out_h, out_w))
    option = op.option
    fields = [batches, in_h, in_w, in_c, out_h, out_w, multiplier, k_h, k_w, option["stride_h"],
              option["stride_w"], option.get("dilation_h", 1), option.get("dilation_w", 1), pad_h, pad_w,
              *activation_range(op)]  # fmt: skip
    operands = _weighted_operands(b, op, 0, 1, 2)
    return b.layer(op, "edgeq_f32_depthwise_params", fields, "edgeq_f32_depthwise_conv", operands, GROUP)


@lowering("FULLY_CONNECTED", group=GROUP, kinds=KIND)
def fully_connected(b: Builder, op: Operator) -> Layer:
    source, weights, output = require_float(b, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    if int(op.option.get("weights_format", 0)) != 0:
        raise problem(op, "shuffled weights: TFLM's float FULLY_CONNECTED reads the default format only")
    if len(weights.shape) != 2 or not output.shape:
        raise problem(op, f"weights {weights.shape}, output {output.shape}: not supported")
    units, depth = weights.shape
    if output.shape[-1] != units or units == 0:
        raise problem(op, f"output {output.shape} does not end in the weights' {units} units")
    batches = output.elements // units
    if source.elements != batches * depth:
        raise problem(op, f"input {source.shape} is not {batches} rows of {depth}")
    fields = [batches, units, depth, *activation_range(op)]
    operands = _weighted_operands(b, op, 0, 1, 2)
    return b.layer(op, "edgeq_f32_fully_connected_params", fields, "edgeq_f32_fully_connected", operands,
                   GROUP)  # fmt: skip


@lowering("TRANSPOSE_CONV", group=GROUP, kinds=KIND)
def transpose_conv(b: Builder, op: Operator) -> Layer:
    """Inputs: the output shape (constant int32), weights [out_c, k_h, k_w, in_c], input, bias."""
    if len(op.inputs) not in (3, 4):
        raise problem(op, f"{len(op.inputs)} inputs: TFLM takes 3 or 4")
    weights, source, output = require_float(b, op, [op.inputs[1], op.inputs[2], op.outputs[0]])
    _rank4(op, source, weights, output)
    shape = b.tensor(op.inputs[0])
    if not shape.is_constant or [int(v) for v in shape.values().reshape(-1)] != list(output.shape):
        raise problem(op, f"output shape input {shape.name} is not a constant {list(output.shape)}")
    batches, in_h, in_w, in_c = source.shape
    out_c, k_h, k_w, filter_in_c = weights.shape
    _, out_h, out_w, _ = output.shape
    if filter_in_c != in_c or output.shape[3] != out_c or output.shape[0] != batches:
        raise _mismatch(op, source, weights, output)
    option, padding = op.option, str(op.option.get("padding"))
    strides = int(option["stride_h"]), int(option["stride_w"])
    # TFLM pads as a convolution from the output's size back to the input's (dilation 1)
    pad_h, pad_w = (
        _pad(stride, 1, size, k, _out_size(op, padding, size, k, stride, 1))
        for size, k, stride in ((out_h, k_h, strides[0]), (out_w, k_w, strides[1]))
    )
    fields = [batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, *strides, pad_h, pad_w,
              *activation_range(op)]  # fmt: skip
    operands = _weighted_operands(b, op, 2, 1, 3)
    return b.layer(op, "edgeq_f32_transpose_conv_params", fields, "edgeq_f32_transpose_conv", operands, GROUP)


def _pool(b: Builder, op: Operator, kernel: str) -> Layer:
    source, output = require_float(b, op, [op.inputs[0], op.outputs[0]])
    _rank4(op, source, output)
    batches, in_h, in_w, channels = source.shape
    _, out_h, out_w, _ = output.shape
    option = op.option
    f_h, f_w = int(option["filter_h"]), int(option["filter_w"])
    pad_h, pad_w = _window_padding(op, (in_h, in_w), (f_h, f_w), (out_h, out_w))  # pools have no dilation
    if output.shape[0] != batches or output.shape[3] != channels:
        raise problem(op, f"input {source.shape} and output {output.shape} do not match")
    for out, stride, pad, f, size in ((out_h, option["stride_h"], pad_h, f_h, in_h),
                                      (out_w, option["stride_w"], pad_w, f_w, in_w)):  # fmt: skip
        origins = np.arange(out) * stride - pad
        if np.any(np.minimum(f, size - origins) <= np.maximum(0, -origins)):
            raise problem(op, "a pooling window lies wholly in the padding: TFLM fails on it")
    fields = [batches, in_h, in_w, channels, out_h, out_w, f_h, f_w, option["stride_h"], option["stride_w"],
              pad_h, pad_w, *activation_range(op)]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_pool_params", fields, kernel, operands, GROUP)


@lowering("AVERAGE_POOL_2D", group=GROUP, kinds=KIND)
def average_pool_2d(b: Builder, op: Operator) -> Layer:
    return _pool(b, op, "edgeq_f32_average_pool")


@lowering("MAX_POOL_2D", group=GROUP, kinds=KIND)
def max_pool_2d(b: Builder, op: Operator) -> Layer:
    return _pool(b, op, "edgeq_f32_max_pool")


def _softmax(b: Builder, op: Operator, kernel: str, beta: float) -> Layer:
    source, output = require_float(b, op, [op.inputs[0], op.outputs[0]])
    if not source.shape or source.shape != output.shape or source.shape[-1] == 0:
        raise problem(op, f"maps shape {source.shape} to {output.shape}: not supported")
    depth = source.shape[-1]
    fields = [source.elements // depth, depth, c_float(beta)]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_softmax_params", fields, kernel, operands, GROUP)


@lowering("SOFTMAX", group=GROUP, kinds=KIND)
def softmax(b: Builder, op: Operator) -> Layer:
    return _softmax(b, op, "edgeq_f32_softmax", float(np.float32(op.option.get("beta", 0.0))))


@lowering("LOG_SOFTMAX", group=GROUP, kinds=KIND)
def log_softmax(b: Builder, op: Operator) -> Layer:
    return _softmax(b, op, "edgeq_f32_log_softmax", 1.0)


def _reduce(b: Builder, op: Operator, mean: bool) -> Layer:
    source, output = require_float(b, op, [op.inputs[0], op.outputs[0]])
    axis = b.tensor(op.inputs[1])
    if not axis.is_constant or axis.dtype != "int32":
        raise problem(op, "the axis tensor is not a constant int32 tensor")
    rank = len(source.shape)
    resolved: set[int] = set()
    for value in axis.values().reshape(-1).tolist():
        current = value + rank if value < 0 else value
        if not 0 <= current < rank:
            raise problem(op, f"axis {value} is out of range for rank {rank}")
        resolved.add(current)
    if any(d <= 0 for d in source.shape):
        raise problem(op, f"empty input shape {source.shape}")
    kept_shape = [d for i, d in enumerate(source.shape) if i not in resolved]
    if output.elements != int(np.prod(kept_shape, dtype=np.int64)):
        raise problem(op, f"maps shape {source.shape} to {output.shape}: not supported")
    kept, reduced = mean_runs(source.shape, resolved)
    if len(kept) > REDUCE_RUNS or len(reduced) > REDUCE_RUNS:
        raise problem(op, f"reduces axes {sorted(resolved)} of {source.shape}: too many runs of dimensions")
    count = int(np.prod([source.shape[i] for i in resolved], dtype=np.int64))

    def padded(runs: list[tuple[int, int]]) -> list[str]:
        runs = [*runs, *[(1, 0)] * (REDUCE_RUNS - len(runs))]
        return ["{" + ", ".join(str(r[k]) for r in runs) + "}" for k in (0, 1)]

    fields = [*padded(kept), *padded(reduced), int(mean), c_float(float(np.float32(count)))]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_reduce_params", fields, "edgeq_f32_reduce", operands, GROUP)


@lowering("MEAN", group=GROUP, kinds=KIND)
def mean(b: Builder, op: Operator) -> Layer:
    return _reduce(b, op, mean=True)


@lowering("SUM", group=GROUP, kinds=KIND)
def reduce_sum(b: Builder, op: Operator) -> Layer:
    return _reduce(b, op, mean=False)


def resize_coordinates(
    out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool
) -> tuple[list[int], list[int], np.ndarray]:
    """TFLM's ComputeInterpolationValues for every output row (or column), in float32: the lower
    and upper input index and ``scaled - lower`` (the second neighbour's weight)."""
    f32 = np.float32
    scale = f32(in_size) / f32(out_size)
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    lower, upper, weight = [], [], []
    for value in range(out_size):
        scaled = (f32(value) + f32(0.5)) * scale - f32(0.5) if half_pixel_centers else f32(value) * scale
        low = max(int(np.floor(scaled)), 0)
        lower.append(low)
        upper.append(min(int(np.ceil(scaled)), in_size - 1))
        weight.append(f32(scaled - f32(low)))
    return lower, upper, np.array(weight, dtype=np.float32)


@lowering("RESIZE_BILINEAR", group=GROUP, kinds=KIND)
def resize_bilinear(b: Builder, op: Operator) -> Layer:
    source, output = require_float(b, op, [op.inputs[0], op.outputs[0]])
    _rank4(op, source, output)
    size = b.tensor(op.inputs[1])
    if not size.is_constant or size.dtype != "int32" or size.elements != 2:
        raise problem(op, "the size input is not a constant int32 pair: TFLM requires one")
    out_h, out_w = (int(v) for v in size.values().reshape(-1))
    batches, in_h, in_w, channels = source.shape
    if output.shape != (batches, out_h, out_w, channels) or min(out_h, out_w) <= 0:
        raise problem(op, f"output {output.shape} is not the size input's {out_h}x{out_w}")
    if "align_corners" not in op.option or "half_pixel_centers" not in op.option:
        raise problem(op, "the model reader gives no ResizeBilinearOptions (align_corners, ...)")
    align, half = bool(op.option["align_corners"]), bool(op.option["half_pixel_centers"])
    if align and half:
        raise problem(op, "half_pixel_centers with align_corners: TFLM refuses them together")
    prefix = b.prefix(op)
    y0, y1, dy = resize_coordinates(out_h, in_h, align, half)
    x0, x1, dx = resize_coordinates(out_w, in_w, align, half)
    fields = [batches, in_h, in_w, channels, out_h, out_w,
              b.array(f"{prefix}_y0", "int32_t", y0), b.array(f"{prefix}_y1", "int32_t", y1),
              b.array(f"{prefix}_x0", "int32_t", x0), b.array(f"{prefix}_x1", "int32_t", x1),
              b.array(f"{prefix}_dy", "float", dy), b.array(f"{prefix}_dx", "float", dx)]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_resize_bilinear_params", fields, "edgeq_f32_resize_bilinear", operands,
                   GROUP)  # fmt: skip
