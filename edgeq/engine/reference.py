"""A numpy model of TensorFlow Lite Micro's int8 reference kernels, run over edgeq's ModelGraph.

It exists to pin down TFLM's integer arithmetic (constants, rounding, padding, clamping) before
the C generator emits the same arithmetic, and to test both against the real TFLM interpreter
with zero tolerance. Supported: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D,
MAX_POOL_2D, RESHAPE, ADD (same shapes); int8 activations, int8 weights (per-channel or
per-tensor), int32 bias.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.fixedpoint import multiply_by_quantized_multiplier
from edgeq.engine.params import (
    ADD_LEFT_SHIFT,
    Requantize,
    activation_range,
    add_params,
    requantize_params,
    same_padding,
)
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import ModelGraph, Operator, Subgraph

SUPPORTED = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "RESHAPE",
    "ADD",
)


def add(subgraph: Subgraph, op: Operator, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    p = add_params(subgraph, op)
    shifted1 = (x1.astype(np.int64) + p.input1_offset) * (1 << ADD_LEFT_SHIFT)
    shifted2 = (x2.astype(np.int64) + p.input2_offset) * (1 << ADD_LEFT_SHIFT)
    total = multiply_by_quantized_multiplier(shifted1, p.input1_multiplier, p.input1_shift) + (
        multiply_by_quantized_multiplier(shifted2, p.input2_multiplier, p.input2_shift)
    )
    out = multiply_by_quantized_multiplier(total, p.output_multiplier, p.output_shift) + p.output_offset
    return np.clip(out, p.activation_min, p.activation_max).astype(np.int8)


def _requantize(acc: np.ndarray, params: Requantize, channel_axis: int = -1) -> np.ndarray:
    out = np.empty_like(acc, dtype=np.int64)
    channels = acc.shape[channel_axis]
    for c in range(channels):
        index = min(c, len(params.multipliers) - 1)
        values = np.take(acc, c, axis=channel_axis)
        scaled = multiply_by_quantized_multiplier(values, params.multipliers[index], params.shifts[index])
        out_slice = [slice(None)] * acc.ndim
        out_slice[channel_axis] = c
        out[tuple(out_slice)] = scaled
    out += params.output_zero_point
    return np.clip(out, params.activation_min, params.activation_max).astype(np.int8)


def conv2d(subgraph: Subgraph, op: Operator, x: np.ndarray, depthwise: bool) -> np.ndarray:
    tensors = subgraph.tensors
    weights = tensors[op.inputs[1]].values().astype(np.int64)
    bias = (
        tensors[op.inputs[2]].values().astype(np.int64) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    )
    output = tensors[op.outputs[0]]
    option = op.option
    input_offset = -tensors[op.inputs[0]].quantization.zero_points[0]
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = output.shape
    k_h, k_w = weights.shape[1], weights.shape[2]
    pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    stride_h, stride_w = option["stride_h"], option["stride_w"]
    dil_h, dil_w = option.get("dilation_h", 1), option.get("dilation_w", 1)
    # input + offset, with out-of-image positions contributing 0 (TFLM skips them)
    shifted = x.astype(np.int64) + input_offset
    acc = np.zeros((1, out_h, out_w, out_c), dtype=np.int64)
    multiplier = out_c // in_c if depthwise else 1
    for ky in range(k_h):
        for kx in range(k_w):
            for oy in range(out_h):
                iy = oy * stride_h - pad_h + ky * dil_h
                if not 0 <= iy < in_h:
                    continue
                for ox in range(out_w):
                    ix = ox * stride_w - pad_w + kx * dil_w
                    if not 0 <= ix < in_w:
                        continue
                    pixel = shifted[0, iy, ix]
                    if depthwise:
                        acc[0, oy, ox] += np.repeat(pixel, multiplier) * weights[0, ky, kx]
                    else:
                        acc[0, oy, ox] += weights[:, ky, kx, :] @ pixel
    if bias is not None:
        acc += bias
    return _requantize(acc, requantize_params(subgraph, op))


def fully_connected(subgraph: Subgraph, op: Operator, x: np.ndarray) -> np.ndarray:
    tensors = subgraph.tensors
    weights = tensors[op.inputs[1]]
    filter_offset = -weights.quantization.zero_points[0]
    w = weights.values().astype(np.int64) + filter_offset
    input_offset = -tensors[op.inputs[0]].quantization.zero_points[0]
    rows = x.reshape(-1, w.shape[1]).astype(np.int64) + input_offset
    acc = rows @ w.T
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        acc += tensors[op.inputs[2]].values().astype(np.int64)
    out = _requantize(acc, requantize_params(subgraph, op))
    return out.reshape(tensors[op.outputs[0]].shape)


def pool(subgraph: Subgraph, op: Operator, x: np.ndarray, average: bool) -> np.ndarray:
    output = subgraph.tensors[op.outputs[0]]
    option = op.option
    _, in_h, in_w, _ = x.shape
    _, out_h, out_w, channels = output.shape
    f_h, f_w = option["filter_h"], option["filter_w"]
    pad_h, pad_w = same_padding(
        {**option, "dilation_h": 1, "dilation_w": 1}, in_h, in_w, f_h, f_w, out_h, out_w
    )
    low, high = activation_range(str(option.get("fused_activation", "NONE")), output)
    result = np.zeros(output.shape, dtype=np.int8)
    for oy in range(out_h):
        for ox in range(out_w):
            y0, x0 = oy * option["stride_h"] - pad_h, ox * option["stride_w"] - pad_w
            window = x[0, max(y0, 0) : min(y0 + f_h, in_h), max(x0, 0) : min(x0 + f_w, in_w)].astype(np.int64)
            window = window.reshape(-1, channels)
            if average:
                total, count = window.sum(axis=0), window.shape[0]
                value = np.where(total > 0, (total + count // 2) // count, -((-total + count // 2) // count))
            else:
                value = window.max(axis=0)
            result[0, oy, ox] = np.clip(value, low, high)
    return result


def run_reference(graph: ModelGraph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the main subgraph on int8 inputs; returns int8 outputs. UnsupportedError names other ops."""
    subgraph = graph.main
    unsupported = sorted({op.opcode for op in subgraph.operators} - set(SUPPORTED))
    if unsupported:
        raise UnsupportedError(f"the reference kernels do not cover {', '.join(unsupported)}")
    values: dict[int, np.ndarray] = dict(zip(subgraph.inputs, inputs, strict=True))
    for op in subgraph.operators:
        x = values[op.inputs[0]]
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            out = conv2d(subgraph, op, x, depthwise=op.opcode == "DEPTHWISE_CONV_2D")
        elif op.opcode == "FULLY_CONNECTED":
            out = fully_connected(subgraph, op, x)
        elif op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            out = pool(subgraph, op, x, average=op.opcode == "AVERAGE_POOL_2D")
        elif op.opcode == "ADD":
            other = subgraph.tensors[op.inputs[1]]
            out = add(subgraph, op, x, other.values() if other.is_constant else values[op.inputs[1]])
        else:  # RESHAPE
            out = x.reshape(subgraph.tensors[op.outputs[0]].shape)
        values[op.outputs[0]] = out
    return [values[t] for t in subgraph.outputs]
