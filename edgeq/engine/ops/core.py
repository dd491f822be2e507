"""Convolutions, fully connected and pooling (kernel group ``core``); RESHAPE is an alias.

The fast kernels (``edgeq_conv_s8``, ``edgeq_depthwise_conv_s8``, ``edgeq_fully_connected_s8``)
get everything that does not change between inferences at generation time: the input offset is
folded into the bias (``bias + input_offset * sum of weights``, exact in int32, with padded taps
read as the input zero point so that they add nothing, as TFLite skips them), and the weights are
stored in the order the kernel path reads them (``interleave``). Depthwise convolutions with a
depth multiplier above 1 and fully connected layers with a weight zero point keep TFLite's
reference loops (``*_ref_s8``). Packed int4 weights get their own kernels (``ops/int4.py``).

The convolution, depthwise and pooling kernels (int8, int4, and int16's in ``ops/int16_layers.py``)
compute one image: for a batch of several, ``per_image`` calls them once per image, the input and
output pointers moved on by one image each time (a scratch buffer is reused); a batch of one
gives the single call unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

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
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Subgraph

alias("RESHAPE")
MAX_DEPTHWISE_TAPS = 64  # EDGEQ_DEPTHWISE_MAX_TAPS in core.h.j2


@dataclasses.dataclass(frozen=True)
class PerImage(Layer):
    """A kernel that computes one image, called once per image of the batch: ``images`` holds
    each call's operands (image 0's are ``operands``)."""

    images: tuple[tuple[str, ...], ...] = ()

    @property
    def statement(self) -> str:
        calls = (f"{self.call}(&{self.params_name}, {', '.join(operands)});" for operands in self.images)
        return "\n  ".join(calls)


def _image_operand(b: Builder, index: int, const: bool, image: int) -> str:
    """Tensor ``index``'s operand moved on by ``image`` images (its first dimension)."""
    tensor = b.tensor(index)
    elements = tensor.elements // tensor.shape[0]
    if tensor.is_constant:  # a const array of the tensor's C type: pointer arithmetic in elements
        return f"{b.operand(index, const)} + {image * elements}" if image else b.operand(index, const)
    step = image * elements * (tensor.nbytes // max(tensor.elements, 1))
    moved = dataclasses.replace(b, offsets=lambda t: b.offsets(t) + (step if t == index else 0))
    return moved.operand(index, const)


def per_image(b: Builder, op: Operator, layer: Layer, tensors: Sequence[tuple[int, bool] | None]) -> Layer:
    """``layer`` (a kernel that computes one image, called on image 0) called once per image of
    the op's batch. ``tensors`` names, per operand of ``layer``, the tensor it points into and
    whether it is const (the kernel reads it), or None for an operand every call shares (a
    scratch buffer). The batch is the first dimension, which every such tensor must share (TFLM
    requires it); a batch of one returns ``layer`` itself."""
    named = [spec[0] for spec in tensors if spec is not None]
    batches = {b.tensor(index).shape[0] if b.tensor(index).shape else 1 for index in named}
    if len(batches) != 1 or min(batches) < 1:
        shapes = ", ".join(str(b.tensor(index).shape) for index in named)
        raise UnsupportedError(f"op {op.index} ({op.opcode}): tensors {shapes} differ in batch size")
    count = batches.pop()
    if count == 1:
        return layer
    images = tuple(
        tuple(
            operand if spec is None else _image_operand(b, spec[0], spec[1], image)
            for operand, spec in zip(layer.operands, tensors, strict=True)
        )
        for image in range(count)
    )
    assert images[0] == layer.operands, "per_image: the operands do not name the layer's tensors"
    fields = {field.name: getattr(layer, field.name) for field in dataclasses.fields(Layer)}
    return PerImage(**fields, images=images)


def _per_image_pair(b: Builder, op: Operator, layer: Layer) -> Layer:
    """An int8 kernel of (input, output) that computes one image, called once per image."""
    return per_image(b, op, layer, [(op.inputs[0], True), (op.outputs[0], False)])


def _per_image_conv(b: Builder, op: Operator, layer: Layer) -> Layer:
    """A CONV_2D kernel (input, output, scratch) called once per image."""
    return per_image(b, op, layer, [(op.inputs[0], True), (op.outputs[0], False), None])


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
        return _per_image_conv(b, op, int4.convolution(b, op, conv, padded, operands))
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
    return _per_image_conv(b, op, b.layer(op, "edgeq_conv_params", fields, "edgeq_conv_s8", operands, "core"))


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
        return _per_image_pair(b, op, int4.depthwise(b, op, dw, taps, operands))
    requantization, _ = requantization_fields(b, op, out_c)
    if out_c != in_c or k_h * k_w > MAX_DEPTHWISE_TAPS:  # depth multiplier > 1: the reference loops
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        bias = b.array(f"{prefix}_bias", "int32_t", _bias(b, op, out_c)) if has_bias else "NULL"
        fields = [*geometry, out_c // in_c, -source.quantization.zero_points[0], *requantization[:3],
                  b.array(f"{prefix}_weights", "int8_t", taps), bias, *requantization[3:]]  # fmt: skip
        layer = b.layer(op, "edgeq_conv_ref_params", fields, "edgeq_depthwise_conv_ref_s8", operands, "core")
        return _per_image_pair(b, op, layer)
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
    layer = b.layer(op, "edgeq_depthwise_params", fields, "edgeq_depthwise_conv_s8", operands, "core")
    return _per_image_pair(b, op, layer)


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
    layer = b.layer(op, "edgeq_pool_params", [*fields, low, high], call, operands, "core")
    return _per_image_pair(b, op, layer)
