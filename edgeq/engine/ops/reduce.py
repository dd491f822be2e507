"""Softmax and reductions (kernel group ``reduce``): int8 SOFTMAX and int8 MEAN.

SOFTMAX follows TFLM's int8 path (reference_ops::Softmax with gemmlowp fixed point): the
prepare-time constants of softmax_common.cc (PreprocessSoftmaxScaling with 5 integer bits for
the scaled differences, CalculateInputRadius) are computed here in double precision exactly as
TFLite does, and the kernel evaluates exp() and the reciprocal of the sum with gemmlowp's
integer arithmetic. MEAN follows reference_ops::QuantizedMeanOrSum (the path TFLM takes for
every int8 MEAN): an int32 sum per output element, then one requantization whose multiplier
absorbs the division by the element count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeq.engine.fixedpoint import quantize_multiplier
from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype, scale, zero_point
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator

SCALED_DIFF_INTEGER_BITS = 5  # softmax: exp()'s argument is a Q5.26 fixed-point number
MAX_REAL_MULTIPLIER = float((1 << 31) - 1)  # PreprocessSoftmaxScaling's cap (double rounding)
MEAN_MAX_RUNS = 4  # kept / reduced runs of dimensions the MEAN kernel walks


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """``(input_multiplier, input_left_shift, diff_min)`` as TFLM's CalculateSoftmaxParams sets
    them for int8 input: PreprocessSoftmaxScaling, then -CalculateInputRadius."""
    real = beta * input_scale * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
    real = min(real, MAX_REAL_MULTIPLIER)
    if not real > 1.0:  # QuantizeMultiplierGreaterThanOne would fail TFLM's check
        raise ValueError(f"beta * input scale * 2**26 = {real} is not greater than 1")
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError(f"softmax input shift {left_shift} is negative")
    radius = (
        1.0
        * ((1 << SCALED_DIFF_INTEGER_BITS) - 1)
        * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
        / float(1 << left_shift)
    )
    return multiplier, left_shift, -math.floor(radius)


@lowering("SOFTMAX", group="reduce")
def softmax(b: Builder, op: Operator) -> Layer:
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    where = f"op {op.index} (SOFTMAX)"
    if source.dtype == "int8" and output.dtype == "int16":
        raise UnsupportedError(f"{where} has an int16 output: the engine's softmax writes int8 only")
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    if not source.shape or source.shape != output.shape:
        raise UnsupportedError(f"{where} maps shape {source.shape} to {output.shape}: not supported")
    # TFLM's prepare refuses any other int8 output quantization
    if zero_point(output) != -128 or np.float32(output.quantization.scales[0]) != np.float32(1.0 / 256):
        raise UnsupportedError(
            f"{where} has output scale {output.quantization.scales[0]} and zero point "
            f"{zero_point(output)}: TFLM requires 1/256 and -128"
        )
    beta = float(np.float32(op.option.get("beta", 0.0)))
    try:
        multiplier, left_shift, diff_min = softmax_scaling(beta, scale(source))
    except ValueError as exc:
        raise UnsupportedError(f"{where} with beta {beta}: {exc}") from exc
    depth = source.shape[-1]
    if depth <= 0:
        raise UnsupportedError(f"{where} has an empty last axis")
    fields = [source.elements // depth, depth, multiplier, left_shift, diff_min]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_softmax_params", fields, "edgeq_softmax_s8", operands, "reduce")


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """The multiplier and shift QuantizedMeanOrSum applies to ``sum - zero_point * count``:
    QuantizeMultiplier(input_scale / output_scale) with 1/count folded in."""
    multiplier, shift = quantize_multiplier(input_scale / output_scale)
    extra = count.bit_length() - 1  # 63 - CountLeadingZeros(count)
    extra = min(extra, 32, 31 + shift)
    if extra < 0:
        raise ValueError("the output scale is too large for the input scale")
    return (multiplier << extra) // count, shift - extra


def mean_runs(shape: tuple[int, ...], axes: set[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(kept, reduced)``: lists of ``(size, input stride)``, outermost first, of the runs of
    adjacent dimensions that are all kept or all reduced (dimensions of size 1 dropped)."""
    strides = [int(np.prod(shape[i + 1 :], dtype=np.int64)) for i in range(len(shape))]
    runs: list[tuple[bool, int, int]] = []  # (reduced, size, stride of the run's innermost dim)
    for i, size in enumerate(shape):
        if size == 1:
            continue
        if runs and runs[-1][0] == (i in axes):
            runs[-1] = (i in axes, runs[-1][1] * size, strides[i])
        else:
            runs.append((i in axes, size, strides[i]))
    kept = [(size, stride) for is_reduced, size, stride in runs if not is_reduced]
    reduced = [(size, stride) for is_reduced, size, stride in runs if is_reduced]
    return kept, reduced


@dataclass(frozen=True)
class Reduction:
    """What a MEAN / SUM / REDUCE_MAX reduces: the resolved axes, the input elements per output
    (``count``) and the kept / reduced runs of ``mean_runs``."""

    axes: frozenset[int]
    count: int
    kept: list[tuple[int, int]]
    reduced: list[tuple[int, int]]


def reduction(b: Builder, op: Operator, max_runs: int, max_count: int) -> Reduction:
    """The reduction ``op`` (input 0 over the constant int32 axis tensor input 1, negative axes
    from the end, into output 0) performs; UnsupportedError naming the op for anything else, for
    more than ``max_runs`` runs or for ``max_count`` or more elements per output."""
    source, output, axis = b.tensor(op.inputs[0]), b.tensor(op.outputs[0]), b.tensor(op.inputs[1])
    where = f"op {op.index} ({op.opcode})"
    if not axis.is_constant or axis.dtype != "int32":
        raise UnsupportedError(f"{where}: TFLM needs a constant int32 axis tensor")
    rank = len(source.shape)
    axes: set[int] = set()
    for value in np.asarray(axis.values()).reshape(-1).tolist():
        current = value + rank if value < 0 else value
        if not 0 <= current < rank:
            raise UnsupportedError(f"{where}: axis {value} out of range for rank {rank}")
        axes.add(current)
    if any(d <= 0 for d in source.shape):
        raise UnsupportedError(f"{where}: an empty input shape {source.shape}")
    count = int(np.prod([source.shape[i] for i in axes], dtype=np.int64))
    kept_shape = [d for i, d in enumerate(source.shape) if i not in axes]
    if output.elements != int(np.prod(kept_shape, dtype=np.int64)):
        raise UnsupportedError(f"{where}: maps shape {source.shape} to {output.shape}: not supported")
    kept, reduced = mean_runs(source.shape, axes)
    if len(kept) > max_runs or len(reduced) > max_runs or count >= max_count:
        raise UnsupportedError(f"{where}: reduces axes {sorted(axes)} of {source.shape}: not supported")
    return Reduction(frozenset(axes), count, kept, reduced)


@lowering("MEAN", group="reduce")
def mean(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    where = f"op {op.index} (MEAN)"
    found = reduction(b, op, MEAN_MAX_RUNS, 1 << 23)
    count, kept, reduced = found.count, found.kept, found.reduced
    try:
        multiplier, shift = mean_multiplier(scale(source), scale(output), count)
    except ValueError as exc:
        raise UnsupportedError(f"{where}: {exc}") from exc

    def padded(runs: list[tuple[int, int]]) -> list[str]:
        runs = [*runs, *[(1, 0)] * (MEAN_MAX_RUNS - len(runs))]
        return ["{" + ", ".join(str(r[k]) for r in runs) + "}" for k in (0, 1)]

    fields = [*padded(kept), *padded(reduced), count, zero_point(source), multiplier, shift,
              zero_point(output)]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_mean_params", fields, "edgeq_mean_s8", operands, "reduce")
