"""Layers of int16x8 models (kernel group ``int16_layers``): CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED and TRANSPOSE_CONV with int16 activations and int8 weights, AVERAGE_POOL_2D,
MAX_POOL_2D and MEAN on int16, bit for bit as TensorFlow Lite Micro's reference kernels.

TFLM accumulates int16 x int8 products in 64 bits when the bias is int64 (the converter's
choice) and requantizes with its 64-bit MultiplyByQuantizedMultiplier, which first rounds the
Q31 multiplier to 16 bits: the generator stores those reduced multipliers. An int32 bias makes
TFLM accumulate in 32 bits and requantize as for int8 (CONV_2D and FULLY_CONNECTED only). The
kernels are plain loops in TFLM's order. TRANSPOSE_CONV gathers, for each output element, the
inputs TFLM scatters into it: integer sums do not depend on the order, so it needs no scratch.
The convolution, transposed convolution and pooling kernels compute one image: a batch of several
calls them once per image (``core.per_image``).
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.engine.ops.core import per_image
from edgeq.engine.ops.int16 import activation_range16, per_tensor, problem
from edgeq.engine.ops.reduce import MEAN_MAX_RUNS, mean_multiplier, reduction
from edgeq.engine.params import same_padding
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "int16_layers"
WIDE_SHIFT_LIMIT = 8  # TFLM's 64-bit MultiplyByQuantizedMultiplier asserts shift < 8


def _reduced(multiplier: int) -> int:
    """The 16-bit multiplier TFLM's 64-bit MultiplyByQuantizedMultiplier uses."""
    return (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF


def _requantization(
    b: Builder, op: Operator, source: Tensor, weights: Tensor, output: Tensor, bias_index: int, channels: int
) -> list[object]:
    """bias64, bias32, multipliers, shifts, wide: PopulateConvolutionQuantizationParams' per
    channel multipliers (double input_scale * filter_scale / output_scale), and the bias."""
    require_dtype(b.subgraph, op, [weights.index], "int8")
    per_tensor(op, source, output)
    scales = weights.quantization.scales
    if len(scales) not in (1, channels):
        raise problem(op, f"{len(scales)} filter scales for {channels} output channels")
    pairs = [quantize_multiplier(scale(source) * float(np.float32(s)) / scale(output)) for s in scales]
    pairs = pairs * (channels if len(pairs) == 1 else 1)
    bias = b.tensor(bias_index) if bias_index >= 0 else None
    wide = bias is None or bias.dtype in ("int64", "int16")
    if bias is not None and bias.dtype not in ("int64", "int32", "int16"):
        raise problem(op, f"bias type {bias.dtype} is not supported")
    if bias is not None and bias.dtype == "int16" and op.opcode != "TRANSPOSE_CONV":
        raise problem(op, "an int16 bias is read as int64 only by TFLM's TRANSPOSE_CONV")
    if bias is not None and bias.dtype == "int32" and op.opcode in ("DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
        raise problem(op, f"TFLM's int16 {op.opcode} reads its bias as int64, the model's is int32")
    if wide and any(shift >= WIDE_SHIFT_LIMIT for _, shift in pairs):
        raise problem(op, "a rescale shift of 8 or more: TFLM's 64-bit requantization takes shifts below 8")
    if not wide and any(shift > 30 for _, shift in pairs):
        raise problem(op, "a rescale shift above 30")
    prefix = b.prefix(op)
    values = bias.values().astype(np.int64).reshape(-1) if bias is not None else None
    if values is not None and len(values) != channels:
        raise problem(op, f"{len(values)} bias values for {channels} output channels")
    bias64 = b.array(f"{prefix}_bias", "int64_t", values) if values is not None and wide else "NULL"
    bias32 = b.array(f"{prefix}_bias", "int32_t", values) if values is not None and not wide else "NULL"
    multipliers = [_reduced(q) if wide else q for q, _ in pairs]
    return [bias64, bias32, b.array(f"{prefix}_multipliers", "int32_t", multipliers),
            b.array(f"{prefix}_shifts", "int32_t", [s for _, s in pairs]), int(wide)]  # fmt: skip


def _require_int16(b: Builder, op: Operator, source: int) -> tuple[Tensor, Tensor]:
    require_dtype(b.subgraph, op, [source, op.outputs[0]], "int16")
    return b.tensor(source), b.tensor(op.outputs[0])


def _misfit(op: Operator, weights: Tensor, source: Tensor, output: Tensor) -> UnsupportedError:
    return problem(op, f"weights {weights.shape} do not fit input {source.shape} and output {output.shape}")


def _bias_index(op: Operator, position: int) -> int:
    return op.inputs[position] if len(op.inputs) > position else -1


def _per_image(b: Builder, op: Operator, source: int, struct: str, fields: list[object], call: str) -> Layer:
    """``call(&params, input, output)`` on tensor ``source`` and the output, a kernel that
    computes one image, called once per image of the batch."""
    operands = [b.operand(source), b.operand(op.outputs[0], const=False)]
    layer = b.layer(op, struct, fields, call, operands, GROUP)
    return per_image(b, op, layer, [(source, True), (op.outputs[0], False)])


@lowering("CONV_2D", group=GROUP, kinds=("int16",))
@lowering("DEPTHWISE_CONV_2D", group=GROUP, kinds=("int16",))
def convolution(b: Builder, op: Operator) -> Layer:
    """TFLM's ConvPerChannel / DepthwiseConvPerChannel for int16: padded taps are skipped, zero
    points are not read (TFLM's int16 kernels take none)."""
    source, output = _require_int16(b, op, op.inputs[0])
    weights = b.tensor(op.inputs[1])
    if len(source.shape) != 4 or len(output.shape) != 4 or len(weights.shape) != 4:
        raise problem(op, "expects 4-dimensional input, filter and output")
    option = op.option
    _, in_h, in_w, in_c = source.shape
    _, out_h, out_w, out_c = output.shape
    k_h, k_w = weights.shape[1], weights.shape[2]
    if op.opcode == "CONV_2D":
        depth = weights.shape[3]  # the filter's input depth (in_c / groups)
        if weights.shape[0] != out_c or depth <= 0 or in_c % depth or out_c % (in_c // depth):
            raise problem(
                op, f"filter {weights.shape} does not fit input {source.shape} and output {output.shape}"
            )
    else:
        depth = out_c // in_c  # the depth multiplier
        if weights.shape[3] != out_c or out_c != in_c * depth:
            raise problem(
                op, f"filter {weights.shape} does not fit input {source.shape} and output {output.shape}"
            )
    pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    low, high = activation_range16(op, output)
    fields = [
        in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, option["stride_h"], option["stride_w"],
        option.get("dilation_h", 1), option.get("dilation_w", 1), pad_h, pad_w, depth, low, high,
        b.array(f"{b.prefix(op)}_weights", "int8_t", weights.values().reshape(-1)),
        *_requantization(b, op, source, weights, output, _bias_index(op, 2), out_c),
    ]  # fmt: skip
    call = "edgeq_conv_s16" if op.opcode == "CONV_2D" else "edgeq_depthwise_conv_s16"
    return _per_image(b, op, op.inputs[0], "edgeq_conv_s16_params", fields, call)


@lowering("TRANSPOSE_CONV", group=GROUP, kinds=("int16",))
def transpose_convolution(b: Builder, op: Operator) -> Layer:
    """TFLM's int16 TransposeConv (inputs: output shape, filter, input, bias)."""
    source, output = _require_int16(b, op, op.inputs[2])
    weights = b.tensor(op.inputs[1])
    if len(source.shape) != 4 or len(output.shape) != 4 or len(weights.shape) != 4:
        raise problem(op, "expects 4-dimensional input, filter and output")
    option = op.option
    _, in_h, in_w, in_c = source.shape
    _, out_h, out_w, out_c = output.shape
    k_h, k_w = weights.shape[1], weights.shape[2]
    if weights.shape[0] != out_c or weights.shape[3] != in_c:
        raise problem(
            op, f"filter {weights.shape} does not fit input {source.shape} and output {output.shape}"
        )
    # TFLM pads as a convolution of the output: ComputePaddingHeightWidth on the output's size
    stride_h, stride_w = option["stride_h"], option["stride_w"]
    undilated = {**option, "dilation_h": 1, "dilation_w": 1}
    conv_h, conv_w = (out_h + stride_h - 1) // stride_h, (out_w + stride_w - 1) // stride_w
    pad_h, pad_w = same_padding(undilated, out_h, out_w, k_h, k_w, conv_h, conv_w)
    low, high = activation_range16(op, output)
    fields = [
        in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, 1, 1, pad_h, pad_w, in_c,
        low, high, b.array(f"{b.prefix(op)}_weights", "int8_t", weights.values().reshape(-1)),
        *_requantization(b, op, source, weights, output, _bias_index(op, 3), out_c),
    ]  # fmt: skip
    return _per_image(b, op, op.inputs[2], "edgeq_conv_s16_params", fields, "edgeq_transpose_conv_s16")


@lowering("FULLY_CONNECTED", group=GROUP, kinds=("int16",))
def fully_connected(b: Builder, op: Operator) -> Layer:
    """TFLM's FullyConnected / FullyConnectedPerChannel for int16 inputs (every row of the
    input, as a rank-3 Dense gives, times the weights)."""
    source, output = _require_int16(b, op, op.inputs[0])
    weights = b.tensor(op.inputs[1])
    if len(weights.shape) != 2:
        raise problem(op, f"weights of shape {weights.shape}: expects 2 dimensions")
    units, depth = weights.shape
    if any(zp != 0 for zp in weights.quantization.zero_points):
        raise problem(op, "TFLM requires int8 weights with zero point 0")
    if source.elements % depth or output.elements != source.elements // depth * units:
        raise problem(
            op, f"input {source.shape} and output {output.shape} do not fit weights {weights.shape}"
        )
    low, high = activation_range16(op, output)
    fields = [
        source.elements // depth, depth, units, -zero_point(source), zero_point(output), low, high,
        b.array(f"{b.prefix(op)}_weights", "int8_t", weights.values().reshape(-1)),
        *_requantization(b, op, source, weights, output, _bias_index(op, 2), units),
    ]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_fc_s16_params", fields, "edgeq_fully_connected_s16", operands, GROUP)


@lowering("AVERAGE_POOL_2D", group=GROUP, kinds=("int16",))
@lowering("MAX_POOL_2D", group=GROUP, kinds=("int16",))
def pool(b: Builder, op: Operator) -> Layer:
    """TFLM's int16 AveragePool (rounded int32 average of the taps inside the input) and
    MaxPool; TFLM requires the output quantized like the input."""
    source, output = _require_int16(b, op, op.inputs[0])
    per_tensor(op, source, output)
    same_scale = abs(np.float32(scale(source)) - np.float32(scale(output))) <= 1.0e-6
    if not same_scale or zero_point(source) != zero_point(output):
        raise problem(op, "TFLM requires the output quantized like the input")
    option = op.option
    _, in_h, in_w, channels = source.shape
    _, out_h, out_w, _ = output.shape
    f_h, f_w = option["filter_h"], option["filter_w"]
    undilated = {**option, "dilation_h": 1, "dilation_w": 1}
    pad_h, pad_w = same_padding(undilated, in_h, in_w, f_h, f_w, out_h, out_w)
    low, high = activation_range16(op, output)
    fields = [in_h, in_w, channels, out_h, out_w, f_h, f_w, option["stride_h"], option["stride_w"],
              pad_h, pad_w, low, high]  # fmt: skip
    call = "edgeq_average_pool_s16" if op.opcode == "AVERAGE_POOL_2D" else "edgeq_max_pool_s16"
    return _per_image(b, op, op.inputs[0], "edgeq_pool_s16_params", fields, call)


@lowering("MEAN", group=GROUP, kinds=("int16",))
def mean(b: Builder, op: Operator) -> Layer:
    """TFLM's int16 MEAN: reference_ops::QuantizedMeanOrSum<int16_t>, as the int8 one (an int32
    sum, then one requantization with 1 / count folded into the multiplier)."""
    source, output = _require_int16(b, op, op.inputs[0])
    per_tensor(op, source, output)
    # |sum| < 2**15 * count must fit TFLM's int32 accumulator
    found = reduction(b, op, MEAN_MAX_RUNS, 1 << 16)
    count, kept, reduced = found.count, found.kept, found.reduced
    try:
        multiplier, shift = mean_multiplier(scale(source), scale(output), count)
    except ValueError as exc:
        raise problem(op, str(exc)) from exc

    def padded(runs: list[tuple[int, int]]) -> list[str]:
        runs = [*runs, *[(1, 0)] * (MEAN_MAX_RUNS - len(runs))]
        return ["{" + ", ".join(str(r[k]) for r in runs) + "}" for k in (0, 1)]

    fields = [*padded(kept), *padded(reduced), count, zero_point(source), multiplier, shift,
              zero_point(output)]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_mean_s16_params", fields, "edgeq_mean_s16", operands, GROUP)
