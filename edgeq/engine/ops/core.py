"""Convolutions, fully connected and pooling (kernel group ``core``); RESHAPE is an alias.

The fast kernels (``edgeq_conv_s8``, ``edgeq_depthwise_conv_s8``, ``edgeq_fully_connected_s8``)
get everything that does not change between inferences at generation time: the input offset is
folded into the bias (``bias + input_offset * sum of weights``, exact in int32, with padded taps
read as the input zero point so that they add nothing, as TFLite skips them), and the weights are
stored in the order the kernel path reads them (``interleave``). Depthwise convolutions with a
depth multiplier above 1 and fully connected layers with a weight zero point keep TFLite's
reference loops (``*_ref_s8``). Packed int4 weights get their own kernels (``ops/int4.py``).
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.lowering import (
    Builder,
    Layer,
    alias,
    interleave,
    lowering,
    requantization_fields,
    require_dtype,
    wrap_int32,
)
from edgeq.engine.ops import int4
from edgeq.engine.params import activation_range, requantize_params, same_padding
from edgeq.engine.paths import KernelPath
from edgeq.tflite.graph import Operator, Subgraph

alias("RESHAPE")
MAX_DEPTHWISE_TAPS = 64  # EDGEQ_DEPTHWISE_MAX_TAPS in core.h.j2


def _bias(b: Builder, op: Operator, count: int) -> np.ndarray:
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    return (
        b.tensor(op.inputs[2]).values().astype(np.int64).reshape(-1)
        if has_bias
        else np.zeros(count, np.int64)
    )


def _folded(b: Builder, op: Operator, rows: np.ndarray) -> tuple[str, int]:
    """The bias with the input offset folded in (bias + (-input zero point) * sum of each row of
    weights ``rows``, one row per output channel), and whether the kernels may requantize with
    ``kernel_output_fast``: every shift a right shift and every accumulator provably below 2**30
    (|folded bias| + 128 * sum of |weights|), so one rounding addition cannot overflow."""
    offset = -int(b.tensor(op.inputs[0]).quantization.zero_points[0])
    folded = wrap_int32(_bias(b, op, len(rows)) + offset * rows.sum(axis=1))
    bound = np.abs(folded) + 128 * np.abs(rows).sum(axis=1)
    shifts = requantize_params(b.subgraph, op).shifts
    fast = int(max(shifts) <= -1 and int(bound.max(initial=0)) < 2**30)
    return b.array(f"{b.prefix(op)}_bias", "int32_t", folded), fast


def _folded_fields(b: Builder, op: Operator, rows: np.ndarray, scales: list[object]) -> list[object]:
    """bias, multipliers, shifts, fast_requantize: the fields that follow the weights."""
    bias, fast = _folded(b, op, rows)
    return [bias, *scales, fast]


def _require_types(b: Builder, op: Operator) -> None:
    """int8 activations, and int8 or packed int4 weights."""
    for index in (op.inputs[0], op.inputs[1], op.outputs[0]):
        require_dtype(b.subgraph, op, [index], *(("int8", "int4") if index == op.inputs[1] else ("int8",)))


def _conv_scratch(subgraph: Subgraph, op: Operator, path: KernelPath) -> int:
    if op.opcode != "CONV_2D":
        return 0
    stride = _column_stride(subgraph, op)
    direct = _direct(subgraph, op, path)
    if path.name == "dsp":  # the pair buffer of both columns, and a column when in_c % 4 != 0
        in_c = subgraph.tensors[op.inputs[0]].shape[3]
        return 2 * stride + (stride if in_c % 4 and not direct else 0)
    return 0 if direct else path.conv_pixels * stride


def _column_stride(subgraph: Subgraph, op: Operator) -> int:
    depth = int(np.prod(subgraph.tensors[op.inputs[1]].shape[1:]))
    return (depth + 3) // 4 * 4


def _padded_depth(depth: int, path: KernelPath) -> int:
    """Paths that read 4 bytes per step get each weight row padded with zeros to a multiple of 4
    (so no tail loop runs; the im2col column's padding bytes are multiplied by those zeros)."""
    return (depth + 3) // 4 * 4 if path.chunk == 4 else depth


def _direct(subgraph: Subgraph, op: Operator, path: KernelPath) -> bool:
    """A 1x1 convolution without padding reads its input pixels in place, without im2col (when
    its rows need no padding on this path)."""
    source, output, weights = (subgraph.tensors[i] for i in (op.inputs[0], op.outputs[0], op.inputs[1]))
    k_h, k_w = weights.shape[1], weights.shape[2]
    in_h, in_w, depth = source.shape[1], source.shape[2], source.shape[3]
    pads = same_padding(op.option, in_h, in_w, k_h, k_w, output.shape[1], output.shape[2])
    return (k_h, k_w) == (1, 1) and pads == (0, 0) and _padded_depth(depth, path) == depth


@lowering("FULLY_CONNECTED", group="core")
def fully_connected(b: Builder, op: Operator) -> Layer:
    _require_types(b, op)
    source, weights = b.tensor(op.inputs[0]), b.tensor(op.inputs[1])
    depth, units = weights.shape[1], weights.shape[0]
    matrix = weights.values().astype(np.int64).reshape(units, depth)
    filter_offset = -int(weights.quantization.zero_points[0])
    if filter_offset == 0 and int4.uses_int4(b.subgraph, op) and int4.fits_scaled_sum(matrix):
        return int4.fully_connected(b, op, matrix, _folded(b, op, matrix))
    requantization, per_channel = requantization_fields(b, op, 1)
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    prefix = b.prefix(op)
    if filter_offset != 0:  # asymmetric weights: TFLite's reference loop
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        bias = b.array(f"{prefix}_bias", "int32_t", _bias(b, op, units)) if has_bias else "NULL"
        fields = [source.elements // depth, depth, units, -source.quantization.zero_points[0], filter_offset,
                  *requantization[:3], b.array(f"{prefix}_weights", "int8_t", matrix), bias,
                  *requantization[3:], int(per_channel)]  # fmt: skip
        return b.layer(op, "edgeq_fc_ref_params", fields, "edgeq_fully_connected_ref_s8", operands, "core")
    fields = [
        source.elements // depth,
        depth,
        units,
        *requantization[:3],
        b.array(f"{prefix}_weights", "int8_t", interleave(matrix, 4, b.path.chunk)),
        *_folded_fields(b, op, matrix, requantization[3:]),
        int(per_channel),
    ]
    return b.layer(op, "edgeq_fc_params", fields, "edgeq_fully_connected_s8", operands, "core")


def _geometry(b: Builder, op: Operator) -> list[int]:
    source, output, weights = b.tensor(op.inputs[0]), b.tensor(op.outputs[0]), b.tensor(op.inputs[1])
    option = op.option
    _, in_h, in_w, in_c = source.shape
    _, out_h, out_w, out_c = output.shape
    k_h, k_w = weights.shape[1], weights.shape[2]
    pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    return [in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, option["stride_h"], option["stride_w"],
            option.get("dilation_h", 1), option.get("dilation_w", 1), pad_h, pad_w]  # fmt: skip


@lowering("CONV_2D", group="core", scratch=_conv_scratch)
def convolution(b: Builder, op: Operator) -> Layer:
    _require_types(b, op)
    source, weights = b.tensor(op.inputs[0]), b.tensor(op.inputs[1])
    geometry = _geometry(b, op)
    out_c = geometry[5]
    matrix = weights.values().astype(np.int64).reshape(out_c, -1)
    direct = _direct(b.subgraph, op, b.path)
    depth = _padded_depth(matrix.shape[1], b.path)
    padded = np.pad(matrix, ((0, 0), (0, depth - matrix.shape[1])))
    needs = _conv_scratch(b.subgraph, op, b.path)
    scratch = f"arena + {b.scratch(op.index)}" if needs else "NULL"
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0]), scratch]
    if int4.uses_int4(b.subgraph, op) and int4.fits_scaled_sum(matrix):
        params = requantize_params(b.subgraph, op)
        bias, fast = _folded(b, op, matrix)
        conv = [*geometry, int(direct), _column_stride(b.subgraph, op), depth,
                int(source.quantization.zero_points[0]), params.output_zero_point, params.activation_min,
                params.activation_max, "NULL", bias, "NULL", "NULL", fast]  # fmt: skip
        return int4.convolution(b, op, conv, padded, operands)
    requantization, _ = requantization_fields(b, op, out_c)
    fields = [
        *geometry,
        int(direct),
        _column_stride(b.subgraph, op),
        depth,
        int(source.quantization.zero_points[0]),
        *requantization[:3],
        b.array(f"{b.prefix(op)}_weights", "int8_t", interleave(padded, b.path.conv_block, b.path.chunk)),
        *_folded_fields(b, op, matrix, requantization[3:]),
    ]
    return b.layer(op, "edgeq_conv_params", fields, "edgeq_conv_s8", operands, "core")


@lowering("DEPTHWISE_CONV_2D", group="core")
def depthwise_convolution(b: Builder, op: Operator) -> Layer:
    _require_types(b, op)
    source, weights = b.tensor(op.inputs[0]), b.tensor(op.inputs[1])
    geometry = _geometry(b, op)
    in_c, out_c, k_h, k_w = geometry[2], geometry[5], geometry[6], geometry[7]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    prefix = b.prefix(op)
    taps = weights.values().astype(np.int64).reshape(k_h * k_w, out_c)
    packed = out_c == in_c and k_h * k_w <= MAX_DEPTHWISE_TAPS and int4.uses_int4(b.subgraph, op)
    if packed and int4.fits_scaled_sum(taps.T):
        params = requantize_params(b.subgraph, op)
        bias, fast = _folded(b, op, taps.T)
        zero_point = int(source.quantization.zero_points[0])
        pad = b.array(f"{prefix}_pad", "int8_t", [zero_point] * in_c)
        dw = [*geometry[:5], *geometry[6:], params.output_zero_point, params.activation_min,
              params.activation_max, "NULL", bias, "NULL", "NULL", fast, pad]  # fmt: skip
        return int4.depthwise(b, op, dw, taps, operands)
    requantization, _ = requantization_fields(b, op, out_c)
    if out_c != in_c or k_h * k_w > MAX_DEPTHWISE_TAPS:  # depth multiplier > 1: the reference loops
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        bias = b.array(f"{prefix}_bias", "int32_t", _bias(b, op, out_c)) if has_bias else "NULL"
        fields = [*geometry, out_c // in_c, -source.quantization.zero_points[0], *requantization[:3],
                  b.array(f"{prefix}_weights", "int8_t", taps), bias, *requantization[3:]]  # fmt: skip
        return b.layer(op, "edgeq_conv_ref_params", fields, "edgeq_depthwise_conv_ref_s8", operands, "core")
    whole = out_c - out_c % 4
    groups = taps[:, :whole].reshape(k_h * k_w, whole // 4, 4).transpose(1, 0, 2).reshape(-1)
    order = np.concatenate([groups, taps[:, whole:].T.reshape(-1)])
    zero_point = int(source.quantization.zero_points[0])
    del geometry[5]  # out_c == in_c
    fields = [
        *geometry,
        *requantization[:3],
        b.array(f"{prefix}_weights", "int8_t", order),
        *_folded_fields(b, op, taps.T, requantization[3:]),
        b.array(f"{prefix}_pad", "int8_t", [zero_point] * in_c),
    ]
    return b.layer(op, "edgeq_depthwise_params", fields, "edgeq_depthwise_conv_s8", operands, "core")


@lowering("AVERAGE_POOL_2D", group="core")
@lowering("MAX_POOL_2D", group="core")
def pool(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    option = op.option
    _, in_h, in_w, channels = source.shape
    _, out_h, out_w, _ = output.shape
    f_h, f_w = option["filter_h"], option["filter_w"]
    undilated = {**option, "dilation_h": 1, "dilation_w": 1}
    pad_h, pad_w = same_padding(undilated, in_h, in_w, f_h, f_w, out_h, out_w)
    low, high = activation_range(str(option.get("fused_activation", "NONE")), output)
    strides = [option["stride_h"], option["stride_w"]]
    fields = [in_h, in_w, channels, out_h, out_w, f_h, f_w, *strides, pad_h, pad_w]
    call = "edgeq_average_pool_s8" if op.opcode == "AVERAGE_POOL_2D" else "edgeq_max_pool_s8"
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_pool_params", [*fields, low, high], call, operands, "core")
