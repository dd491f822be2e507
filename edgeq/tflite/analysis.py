"""Counting what a model costs: parameters, weight bytes, MACs per operator, quantization summary.

Conventions (the same in every output): MACs count one multiply-accumulate per weight use for
CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED; pooling counts one accumulate
(or compare) per window element read; MEAN one per input element; element-wise ADD, SUB and MUL
one per output element; every other op 0. Parameters are the elements of constant tensors that
ops consume as data (weights, biases, constant operands), not shape or axis arguments.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from edgeq.tflite.graph import ModelGraph, Operator, Subgraph

# Inputs that are arguments (shapes, axes, paddings, sizes, indices), not parameters.
STRUCTURAL_INPUTS: dict[str, frozenset[int]] = {
    name: frozenset(positions)
    for name, positions in {
        "RESHAPE": {1}, "MEAN": {1}, "SUM": {1}, "REDUCE_MAX": {1}, "REDUCE_MIN": {1}, "REDUCE_PROD": {1},
        "REDUCE_ANY": {1}, "PAD": {1}, "PADV2": {1, 2}, "MIRROR_PAD": {1}, "STRIDED_SLICE": {1, 2, 3},
        "SLICE": {1, 2}, "TRANSPOSE": {1}, "EXPAND_DIMS": {1}, "RESIZE_BILINEAR": {1},
        "RESIZE_NEAREST_NEIGHBOR": {1}, "TRANSPOSE_CONV": {0}, "SPLIT": {0}, "SPLIT_V": {1, 2},
        "GATHER": {1}, "GATHER_ND": {1}, "TILE": {1}, "BROADCAST_TO": {1}, "ARG_MAX": {1}, "ARG_MIN": {1},
        "SPACE_TO_BATCH_ND": {1, 2}, "BATCH_TO_SPACE_ND": {1, 2}, "FILL": {0}, "CUMSUM": {1},
    }.items()
}  # fmt: skip


@dataclass(frozen=True)
class OperatorCost:
    index: int
    opcode: str
    version: int
    output_shape: tuple[int, ...]
    parameters: int
    macs: int
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "op": self.opcode,
            "version": self.version,
            "output_shape": list(self.output_shape),
            "parameters": self.parameters,
            "macs": self.macs,
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatorCost:
        return cls(
            index=int(data["index"]),
            opcode=str(data["op"]),
            version=int(data.get("version", 1)),
            output_shape=tuple(data.get("output_shape") or ()),
            parameters=int(data["parameters"]),
            macs=int(data["macs"]),
            summary=str(data.get("summary") or ""),
        )


def parameter_tensors(subgraph: Subgraph) -> set[int]:
    """Indices of constant tensors consumed as data by at least one operator."""
    found = set()
    for op in subgraph.operators:
        skip = STRUCTURAL_INPUTS.get(op.opcode, frozenset())
        for position, tensor in enumerate(op.inputs):
            if tensor >= 0 and position not in skip and subgraph.tensors[tensor].is_constant:
                found.add(tensor)
    return found


def operator_costs(graph: ModelGraph) -> tuple[OperatorCost, ...]:
    """One OperatorCost per operator of the main subgraph, in execution order."""
    subgraph = graph.main
    counted: set[int] = set()
    parameters = parameter_tensors(subgraph)
    costs = []
    for op in subgraph.operators:
        own = [t for t in op.inputs if t in parameters and t not in counted]
        counted.update(own)
        output = subgraph.tensors[op.outputs[0]].shape if op.outputs else ()
        costs.append(
            OperatorCost(
                index=op.index,
                opcode=op.opcode,
                version=op.version,
                output_shape=output,
                parameters=sum(subgraph.tensors[t].elements for t in own),
                macs=operator_macs(subgraph, op),
                summary=_summary(subgraph, op),
            )
        )
    return tuple(costs)


def operator_macs(subgraph: Subgraph, op: Operator) -> int:
    """MACs of one operator, by the conventions in this module's docstring."""
    shape = lambda index: subgraph.tensors[index].shape  # noqa: E731
    elements = lambda index: subgraph.tensors[index].elements  # noqa: E731
    name = op.opcode
    if not op.outputs:
        return 0
    out = op.outputs[0]
    if name == "CONV_2D":
        _, kh, kw, ic = shape(op.inputs[1])
        return elements(out) * kh * kw * ic
    if name == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = shape(op.inputs[1])
        return elements(out) * kh * kw
    if name == "TRANSPOSE_CONV":
        oc, kh, kw, _ = shape(op.inputs[1])
        return elements(op.inputs[2]) * kh * kw * oc
    if name == "FULLY_CONNECTED":
        units, depth = shape(op.inputs[1])[0], shape(op.inputs[1])[-1]
        rows = elements(op.inputs[0]) // depth if depth else 0
        return rows * units * depth
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        option = op.option
        return elements(out) * int(option.get("filter_w", 1)) * int(option.get("filter_h", 1))
    if name in ("MEAN", "SUM"):
        return elements(op.inputs[0])
    if name in ("ADD", "SUB", "MUL"):
        return elements(out)
    return 0


def _summary(subgraph: Subgraph, op: Operator) -> str:
    option = op.option
    parts = []
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV") and len(op.inputs) > 1:
        kernel = subgraph.tensors[op.inputs[1]].shape
        parts.append(f"{kernel[1]}x{kernel[2]}")
    if "filter_w" in option:
        parts.append(f"{option['filter_h']}x{option['filter_w']}")
    if "stride_w" in option and (option["stride_w"], option["stride_h"]) != (1, 1):
        parts.append(f"stride {option['stride_h']}x{option['stride_w']}")
    if option.get("dilation_w", 1) != 1 or option.get("dilation_h", 1) != 1:
        parts.append(f"dilation {option['dilation_h']}x{option['dilation_w']}")
    if "padding" in option:
        parts.append(str(option["padding"]).lower())
    if option.get("depth_multiplier", 1) not in (0, 1):
        parts.append(f"x{option['depth_multiplier']}")
    if option.get("fused_activation", "NONE") != "NONE":
        parts.append(str(option["fused_activation"]).lower())
    if op.custom_code is not None:
        parts.append("custom" + (" (Flex: needs TensorFlow)" if op.is_flex else ""))
    return ", ".join(parts)


@dataclass(frozen=True)
class QuantizationSummary:
    """How the model's tensors are typed: counts per dtype, and per-channel quantized weights."""

    activation_dtypes: dict[str, int]
    weight_dtypes: dict[str, int]
    per_channel_weights: int
    per_tensor_weights: int
    float_ops: tuple[str, ...]

    @property
    def scheme(self) -> str:
        """int8, int16x8, int4 weights, float16 weights, dynamic range, float32 or mixed."""
        acts, weights = set(self.activation_dtypes), set(self.weight_dtypes) - {"int32", "int64"}
        if acts <= {"int8"} and weights <= {"int8"}:
            return "int8"
        if acts <= {"int8"} and "int4" in weights and weights <= {"int8", "int4"}:
            return "int4 weights, int8 activations" + (" (some int8 weights)" if "int8" in weights else "")
        low = weights & {"int4", "int2"}
        if "float32" in acts and low and weights <= {"int8", "int4", "int2", "float32", "float16"}:
            bits = "/".join(sorted(low))
            return f"dynamic range ({bits} weights, float activations)"
        if "int16" in acts and acts <= {"int16", "int8", "int32"} and weights <= {"int8"}:
            return "int16x8"
        if acts <= {"float32"} and weights == {"float16"}:
            return "float16 weights"
        if "float32" in acts and "int8" in weights and "float32" not in weights:
            return "dynamic range (int8 weights, float activations)"
        if acts <= {"float32"} and weights <= {"float32"}:
            return "float32"
        return "mixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "activation_dtypes": self.activation_dtypes,
            "weight_dtypes": self.weight_dtypes,
            "per_channel_weights": self.per_channel_weights,
            "per_tensor_weights": self.per_tensor_weights,
            "float_ops": list(self.float_ops),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizationSummary:
        """From ``to_dict``: the scheme follows from the dtypes."""
        return cls(
            activation_dtypes=dict(data["activation_dtypes"]),
            weight_dtypes=dict(data["weight_dtypes"]),
            per_channel_weights=int(data["per_channel_weights"]),
            per_tensor_weights=int(data["per_tensor_weights"]),
            float_ops=tuple(data.get("float_ops") or ()),
        )


def quantization_summary(graph: ModelGraph) -> QuantizationSummary:
    subgraph = graph.main
    parameters = parameter_tensors(subgraph)
    activations: Counter[str] = Counter()
    weights: Counter[str] = Counter()
    per_channel = per_tensor = 0
    for tensor in subgraph.tensors:
        if tensor.index in parameters:
            weights[tensor.dtype] += 1
            if tensor.dtype in ("int8", "int16", "int4", "int2"):
                if tensor.quantization is not None and tensor.quantization.per_channel:
                    per_channel += 1
                else:
                    per_tensor += 1
        elif not tensor.is_constant:
            activations[tensor.dtype] += 1
    float_ops = sorted(
        {
            op.opcode
            for op in subgraph.operators
            if op.opcode != "DEQUANTIZE" and any(subgraph.tensors[t].dtype == "float32" for t in op.outputs)
        }
    )
    return QuantizationSummary(
        activation_dtypes=dict(sorted(activations.items())),
        weight_dtypes=dict(sorted(weights.items())),
        per_channel_weights=per_channel,
        per_tensor_weights=per_tensor,
        float_ops=tuple(float_ops),
    )
