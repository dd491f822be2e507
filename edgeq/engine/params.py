"""Constants TensorFlow Lite Micro derives at prepare time (multipliers, shifts, paddings, clamp
ranges), computed in Python exactly as TFLM does, for the C generator and the numpy reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier, round_half_away
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Subgraph, Tensor

ADD_LEFT_SHIFT = 20  # TFLM's int8 ADD scales both inputs up by 2**20 before rescaling


@dataclass(frozen=True)
class AddParams:
    """TFLM's int8 ADD: both inputs rescaled to twice the larger input scale, summed, rescaled."""

    input1_offset: int
    input2_offset: int
    output_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    activation_min: int
    activation_max: int


def add_params(subgraph: Subgraph, op: Operator) -> AddParams:
    """The constants TFLM's ADD prepares for int8 tensors (same shapes)."""
    first, second = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.inputs[1]]
    output = subgraph.tensors[op.outputs[0]]
    if first.shape != second.shape or first.shape != output.shape:
        raise UnsupportedError(
            f"op {op.index} ADD broadcasts {first.shape} and {second.shape}: not supported yet"
        )
    scale1 = float(np.float32(first.quantization.scales[0]))
    scale2 = float(np.float32(second.quantization.scales[0]))
    output_scale = float(np.float32(output.quantization.scales[0]))
    twice_max = 2 * max(scale1, scale2)
    m1, s1 = quantize_multiplier(scale1 / twice_max)
    m2, s2 = quantize_multiplier(scale2 / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * output_scale))
    low, high = activation_range(str(op.option.get("fused_activation", "NONE")), output)
    return AddParams(
        input1_offset=-first.quantization.zero_points[0],
        input2_offset=-second.quantization.zero_points[0],
        output_offset=output.quantization.zero_points[0],
        input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2, input2_shift=s2,
        output_multiplier=mo, output_shift=so, activation_min=low, activation_max=high,
    )  # fmt: skip


@dataclass(frozen=True)
class Requantize:
    """Per-output-channel (or single) Q31 multipliers and shifts, and the output's clamp range."""

    multipliers: tuple[int, ...]
    shifts: tuple[int, ...]
    output_zero_point: int
    activation_min: int
    activation_max: int


def activation_range(activation: str, output: Tensor) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8 outputs."""
    low, high = -128, 127
    scale, zero_point = output.quantization.scales[0], output.quantization.zero_points[0]

    def quantize(value: float) -> int:
        return zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))

    if activation == "RELU":
        return max(low, quantize(0.0)), high
    if activation == "RELU6":
        return max(low, quantize(0.0)), min(high, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(low, quantize(-1.0)), min(high, quantize(1.0))
    return low, high


def requantize_params(subgraph: Subgraph, op: Operator) -> Requantize:
    """The multipliers of a conv / depthwise / fully-connected op, as TFLM computes them at prepare."""
    tensors = subgraph.tensors
    source, weights, output = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    input_scale = float(np.float32(source.quantization.scales[0]))
    output_scale = float(np.float32(output.quantization.scales[0]))
    pairs = [
        quantize_multiplier(input_scale * float(np.float32(filter_scale)) / output_scale)
        for filter_scale in weights.quantization.scales
    ]
    low, high = activation_range(str(op.option.get("fused_activation", "NONE")), output)
    return Requantize(
        multipliers=tuple(q for q, _ in pairs),
        shifts=tuple(s for _, s in pairs),
        output_zero_point=output.quantization.zero_points[0],
        activation_min=low,
        activation_max=high,
    )


def same_padding(
    option: dict, in_h: int, in_w: int, k_h: int, k_w: int, out_h: int, out_w: int
) -> tuple[int, int]:
    """TFLite's ComputePaddingHeightWidth (the top/left pad; VALID pads nothing)."""
    if option.get("padding") != "SAME":
        return 0, 0
    dilation_h, dilation_w = option.get("dilation_h", 1), option.get("dilation_w", 1)

    def pad(stride: int, dilation: int, size: int, kernel: int, out: int) -> int:
        effective = (kernel - 1) * dilation + 1
        return max(((out - 1) * stride + effective - size) // 2, 0)

    return (
        pad(option["stride_h"], dilation_h, in_h, k_h, out_h),
        pad(option["stride_w"], dilation_w, in_w, k_w, out_w),
    )
