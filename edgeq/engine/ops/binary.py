"""Element-wise ops with two operands (kernel group ``binary``): int8 ADD and MUL, with broadcasting.

ADD's input rescaling depends on one int8 value, so the generator tabulates it (two 256-entry
int32 tables in flash per ADD) and the kernel looks it up.

TFLM runs both ops per element (``AddFunc`` / the body of ``MulElementwise``) and, when the two
input shapes differ after left-padding with ones, walks them with ``BroadcastBinaryOpSimple``:
numpy broadcasting over up to 8 dimensions. The arithmetic of an element does not depend on
the path, so the engine has one loop for both: the output in row-major order, with each input's
element step per (merged) output dimension precomputed here, 0 where that input is broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeq.engine.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.engine.params import activation_range
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

ADD_LEFT_SHIFT = 20  # TFLM's int8 ADD scales both inputs up by 2**20 before rescaling
MAX_RANK = 8  # BroadcastBinaryOpSimple's kMaxRank (and EDGEQ_BINARY_MAX_RANK in binary.h.j2)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


def _activation_range(op: Operator, output: Tensor) -> tuple[int, int]:
    """The fused activation's clamp range (TFLM's CalculateActivationRangeQuantized)."""
    activation = str(op.option.get("fused_activation", "NONE"))
    if activation not in ACTIVATIONS:
        raise _problem(op, f"fused activation {activation} is not supported")
    return activation_range(activation, output)


@dataclass(frozen=True)
class Walk:
    """The output's row-major loops after merging: extents (outermost first) and, per input, its
    element step per loop (0 where it is broadcast)."""

    shape: tuple[int, ...]
    steps: tuple[tuple[int, ...], ...]

    @property
    def steps1(self) -> tuple[int, ...]:
        return self.steps[0]

    @property
    def steps2(self) -> tuple[int, ...]:
        return self.steps[1]


def broadcast_walk(op: Operator, first: Tensor, second: Tensor, output: Tensor) -> Walk:
    """Numpy broadcasting of ``first`` and ``second`` to ``output``'s shape, as loops."""
    return broadcast_walk_of(op, [first, second], output)


def broadcast_walk_of(op: Operator, inputs: list[Tensor], output: Tensor) -> Walk:
    """Numpy broadcasting of ``inputs`` to ``output``'s shape, as loops; adjacent output dimensions
    are merged where every input steps through them contiguously (or not at all)."""
    rank = max(len(output.shape), *(len(t.shape) for t in inputs))
    if rank > MAX_RANK:
        raise _problem(op, f"{rank} dimensions: TFLM broadcasts at most {MAX_RANK}")

    def extend(shape: tuple[int, ...]) -> tuple[int, ...]:
        return (1,) * (rank - len(shape)) + tuple(int(d) for d in shape)

    out_shape, shapes = extend(output.shape), [extend(t.shape) for t in inputs]
    listed = " and ".join(str(t.shape) for t in inputs)
    if any(0 in s for s in (out_shape, *shapes)):
        raise _problem(op, f"empty tensor among {listed} and {output.shape}")
    expected = tuple(max(dims) for dims in zip(*shapes, strict=True))
    fits = all(d in (1, o) for s in shapes for d, o in zip(s, out_shape, strict=True))
    if out_shape != expected or not fits:
        raise _problem(op, f"shapes {listed} do not broadcast to {output.shape}")

    def steps(shape: tuple[int, ...]) -> list[int]:
        result, stride = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            result[d] = stride if shape[d] == out_shape[d] and out_shape[d] != 1 else 0
            stride *= shape[d]
        return result

    per_input = [steps(s) for s in shapes]
    loops: list[list[int]] = []  # [extent, step of each input], outermost first, built innermost first
    for d in range(rank - 1, -1, -1):
        extent = out_shape[d]
        if extent == 1:
            continue
        here = [s[d] for s in per_input]
        if loops and all(s == loops[0][0] * inner for s, inner in zip(here, loops[0][1:], strict=True)):
            loops[0][0] *= extent  # this dimension continues the inner loop for every input
            continue
        loops.insert(0, [extent, *here])
    if not loops:
        loops = [[1] + [0] * len(inputs)]
    return Walk(
        shape=tuple(lp[0] for lp in loops),
        steps=tuple(tuple(lp[1 + k] for lp in loops) for k in range(len(inputs))),
    )


def _operands(b: Builder, op: Operator) -> tuple[Tensor, Tensor, Tensor]:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise _problem(op, "expects two inputs and one output")
    require_dtype(b.subgraph, op, [*op.inputs, op.outputs[0]], "int8")
    tensors = (b.tensor(op.inputs[0]), b.tensor(op.inputs[1]), b.tensor(op.outputs[0]))
    for tensor in tensors:
        if tensor.quantization.per_channel:
            raise _problem(op, f"tensor {tensor.name} is quantized per channel")
    return tensors


def walk_fields(
    b: Builder, op: Operator, walk: Walk, output: Tensor, names: tuple[str, ...] = ("steps1", "steps2")
) -> list[object]:
    """The params fields of a broadcasting kernel: output elements, loop count, the loops'
    extents and each input's steps (arrays ``<prefix>_shape`` and ``<prefix>_<name>``)."""
    prefix = b.prefix(op)
    return [
        output.elements,
        len(walk.shape),
        b.array(f"{prefix}_shape", "int32_t", list(walk.shape)),
        *(b.array(f"{prefix}_{name}", "int32_t", list(s)) for name, s in zip(names, walk.steps, strict=True)),
    ]


def _smaller_than_one(op: Operator, real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp (TFLM aborts outside (0, 1))."""
    if not 0.0 < real < 1.0:
        raise _problem(op, f"rescale factor {real} outside (0, 1): TFLM's ADD refuses it")
    return quantize_multiplier(real)


@lowering("ADD", group="binary")
def add(b: Builder, op: Operator) -> Layer:
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    scale1, scale2, out_scale = scale(first), scale(second), scale(output)
    twice_max = 2 * max(scale1, scale2)
    m1, s1 = _smaller_than_one(op, scale1 / twice_max)
    m2, s2 = _smaller_than_one(op, scale2 / twice_max)
    mo, so = _smaller_than_one(op, twice_max / ((1 << ADD_LEFT_SHIFT) * out_scale))
    low, high = _activation_range(op, output)
    values = np.arange(-128, 128, dtype=np.int64)

    def table(name: str, tensor: Tensor, multiplier: int, shift: int) -> str:
        shifted = (values - zero_point(tensor)) * (1 << ADD_LEFT_SHIFT)  # |.| < 2**28: fits int32
        rescaled = multiply_by_quantized_multiplier(shifted, multiplier, shift)
        return b.array(f"{b.prefix(op)}_{name}", "int32_t", rescaled)

    tables = [table("table1", first, m1, s1), table("table2", second, m2, s2)]

    # kernel_output_fast is exact when the output shift is a right shift and |sum| < 2**30
    def largest(tensor: Tensor, multiplier: int, shift: int) -> int:
        shifted = (values - zero_point(tensor)) * (1 << ADD_LEFT_SHIFT)
        return int(np.abs(multiply_by_quantized_multiplier(shifted, multiplier, shift)).max())

    fast = int(so <= -1 and largest(first, m1, s1) + largest(second, m2, s2) < 2**30)
    fields = [*walk_fields(b, op, walk, output), *tables, zero_point(output), mo, so, low, high, fast]
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_add_params", fields, "edgeq_add_s8", operands, "binary")


@lowering("MUL", group="binary")
def mul(b: Builder, op: Operator) -> Layer:
    first, second, output = _operands(b, op)
    walk = broadcast_walk(op, first, second, output)
    multiplier, shift = quantize_multiplier(scale(first) * scale(second) / scale(output))
    if shift > 30:
        raise _problem(op, f"output rescale shift {shift} too large")
    low, high = _activation_range(op, output)
    fields = [*walk_fields(b, op, walk, output), -zero_point(first), -zero_point(second), zero_point(output),
              multiplier, shift, low, high]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_mul_params", fields, "edgeq_mul_s8", operands, "binary")
