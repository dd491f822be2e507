"""Convolutions, fully connected and pooling (kernel group ``core``); RESHAPE is an alias."""

from __future__ import annotations

from edgeq.engine.lowering import Builder, Layer, alias, lowering, require_dtype
from edgeq.engine.params import activation_range, requantize_params, same_padding
from edgeq.tflite.graph import Operator

alias("RESHAPE")


def _weights(b: Builder, op: Operator) -> tuple[list[object], bool]:
    """Weights, bias, multipliers and shifts arrays; whether the multipliers are per channel."""
    weights = b.tensor(op.inputs[1])
    prefix = b.prefix(op)
    params = requantize_params(b.subgraph, op)
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = b.array(f"{prefix}_bias", "int32_t", b.tensor(op.inputs[2]).values()) if has_bias else "NULL"
    per_channel = len(params.multipliers) > 1
    # convolutions index multipliers by output channel: repeat a per-tensor one for each channel
    copies = 1 if per_channel or op.opcode == "FULLY_CONNECTED" else b.tensor(op.outputs[0]).shape[-1]
    return [
        params.output_zero_point,
        params.activation_min,
        params.activation_max,
        b.array(f"{prefix}_weights", "int8_t", weights.values()),
        bias,
        b.array(f"{prefix}_multipliers", "int32_t", list(params.multipliers) * copies),
        b.array(f"{prefix}_shifts", "int32_t", list(params.shifts) * copies),
    ], per_channel


@lowering("FULLY_CONNECTED", group="core")
def fully_connected(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.inputs[1], op.outputs[0]], "int8")
    source, weights = b.tensor(op.inputs[0]), b.tensor(op.inputs[1])
    depth, units = weights.shape[1], weights.shape[0]
    tail, per_channel = _weights(b, op)
    fields = [
        source.elements // depth,
        depth,
        units,
        -source.quantization.zero_points[0],
        -weights.quantization.zero_points[0],
        *tail,
        int(per_channel),
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_fc_params", fields, "edgeq_fully_connected_s8", operands, "core")


@lowering("CONV_2D", group="core")
@lowering("DEPTHWISE_CONV_2D", group="core")
def convolution(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.inputs[1], op.outputs[0]], "int8")
    source, output, weights = b.tensor(op.inputs[0]), b.tensor(op.outputs[0]), b.tensor(op.inputs[1])
    option = op.option
    _, in_h, in_w, in_c = source.shape
    _, out_h, out_w, out_c = output.shape
    k_h, k_w = weights.shape[1], weights.shape[2]
    pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    tail, _ = _weights(b, op)
    fields = [
        in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, option["stride_h"], option["stride_w"],
        option.get("dilation_h", 1), option.get("dilation_w", 1), pad_h, pad_w,
        out_c // in_c if depthwise else 1, -source.quantization.zero_points[0], *tail,
    ]  # fmt: skip
    call = "edgeq_depthwise_conv_s8" if depthwise else "edgeq_conv_s8"
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_conv_params", fields, call, operands, "core")


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
