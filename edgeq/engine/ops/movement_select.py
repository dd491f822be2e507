"""Ops that pick elements (kernel group ``movement``): ARG_MAX / ARG_MIN (the index of the first
largest or smallest value along an axis) and REDUCE_MAX (the largest value over some axes), as
TFLM computes them for int8 and float32 tensors: comparisons only, no requantization.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.lowering import Builder, Layer, lowering, scale, zero_point
from edgeq.engine.ops.movement import ALL_KINDS, braces, constant_ints, refuse_types, where
from edgeq.engine.ops.reduce import reduction
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator

REDUCE_RUNS = 4  # kept / reduced runs of dimensions the REDUCE_MAX kernel walks
ARG_KERNELS = {
    ("ARG_MAX", "int8"): "edgeq_arg_max_s8",
    ("ARG_MAX", "float32"): "edgeq_arg_max_f32",
    ("ARG_MIN", "int8"): "edgeq_arg_min_s8",
    ("ARG_MIN", "float32"): "edgeq_arg_min_f32",
}
REDUCE_MAX_KERNELS = {"int8": "edgeq_reduce_max_s8", "float32": "edgeq_reduce_max_f32"}


@lowering("ARG_MAX", group="movement", kinds=ALL_KINDS)
@lowering("ARG_MIN", group="movement", kinds=ALL_KINDS)
def arg_min_max(b: Builder, op: Operator) -> Layer:
    """TFLM's ArgMinMax: along the axis, the first index whose value is strictly greater (smaller)
    than every earlier one's (a float NaN never wins; ties keep the first index)."""
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if source.dtype not in ("int8", "float32"):
        raise UnsupportedError(
            f"{where(op)}: TFLM's {op.opcode} takes float32 and int8 inputs only, not {source.dtype}"
        )
    if output.dtype != "int32":
        raise UnsupportedError(
            f"{where(op)}: TFLM's {op.opcode} writes int32 indices only, not {output.dtype}"
        )
    values = constant_ints(b, op, op.inputs[1], "axis")
    if b.tensor(op.inputs[1]).dtype != "int32":
        raise UnsupportedError(f"{where(op)}: TFLM's {op.opcode} takes an int32 axis only")
    rank = len(source.shape)
    axis = values[0] + rank if values[0] < 0 else values[0]
    if not 0 <= axis < rank:
        raise UnsupportedError(f"{where(op)}: axis {values[0]} out of range for {rank} dimensions")
    if tuple(output.shape) != source.shape[:axis] + source.shape[axis + 1 :]:
        raise UnsupportedError(
            f"{where(op)}: the output {output.shape} is not the input {source.shape} without axis {axis}"
        )
    outer = int(np.prod(source.shape[:axis], dtype=np.int64))
    inner = int(np.prod(source.shape[axis + 1 :], dtype=np.int64))
    fields = [outer, source.shape[axis], inner]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    kernel = ARG_KERNELS[(op.opcode, source.dtype)]
    return b.layer(op, "edgeq_arg_params", fields, kernel, operands, "movement")


@lowering("REDUCE_MAX", group="movement", kinds=ALL_KINDS)
def reduce_max(b: Builder, op: Operator) -> Layer:
    """TFLM's ReduceMax (ReduceGeneric): each output starts at the type's lowest value and takes
    every larger input, in input order. int8 needs the output quantized like the input (TFLM's
    Eval checks it), so the bytes are compared as they are."""
    refuse_types(b, op, ("float32", "int8"))
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if source.dtype != output.dtype:
        raise UnsupportedError(f"{where(op)}: input {source.dtype} and output {output.dtype} differ")
    if source.dtype == "int8":
        if source.quantization is None or output.quantization is None:
            raise UnsupportedError(f"{where(op)}: int8 tensors without quantization")
        if scale(source) != scale(output) or zero_point(source) != zero_point(output):
            raise UnsupportedError(
                f"{where(op)}: TFLM's REDUCE_MAX needs the output quantized like the input"
            )
    found = reduction(b, op, REDUCE_RUNS, 1 << 62)
    kept, reduced = found.kept, found.reduced

    def padded(runs: list[tuple[int, int]]) -> list[str]:
        runs = [*runs, *[(1, 0)] * (REDUCE_RUNS - len(runs))]
        return [braces([r[k] for r in runs]) for k in (0, 1)]

    fields = [*padded(kept), *padded(reduced)]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    kernel = REDUCE_MAX_KERNELS[source.dtype]
    return b.layer(op, "edgeq_reduce_max_params", fields, kernel, operands, "movement")
