"""Comparisons and SELECT_V2 (kernel group ``compare``): EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL,
LESS and LESS_EQUAL of int8 and float32 tensors, and SELECT_V2 of int8 and float32 ones, with
numpy broadcasting, as TensorFlow Lite Micro computes them (kernels/comparisons.cc, select.cc).
Keras ``hard_shrink`` (ABS, GREATER, SELECT_V2) and ``sparse_sigmoid`` (GREATER_EQUAL, LESS_EQUAL,
ADD, MUL, SELECT_V2) convert to these.

A comparison writes a bool tensor: one byte per element, 0 or 1 (``uint8_t`` in C, like TFLite's
``bool``), which SELECT_V2 reads as its condition or the model returns.

float32 comparisons are C's ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` (NaN compares unequal to
everything). int8 ones are reference_ops' ``...WithScaling``: ComparisonsPrepare turns each input's
own scale into a multiplier (QuantizeMultiplierSmallerThanOneExp of the float32 scale widened to a
double; TFLM aborts unless 0 < scale < 1), and each element is
``MultiplyByQuantizedMultiplierSmallerThanOneExp((q - zero point) * 2**8, multiplier, shift)``,
both sides compared as int32. The output has no quantization.

SELECT_V2 copies ``x``'s element where the condition is true, else ``y``'s: bytes, no arithmetic,
so TFLM requires nothing of the int8 quantizations (the converter gives x, y and the output one
scale and zero point; were they to differ, TFLM would copy the bytes anyway, and so does the
engine).

TFLM walks broadcast shapes with BroadcastBinaryOpSimple / BroadcastSelectSimple (up to 8
dimensions, loops merged); every output element depends on its own inputs only, so the engine walks
the output in row-major order over merged loops with each input's element step per loop (0 where
it is broadcast), the same loop for equal shapes.

Types: TFLM's comparisons also take int32, int64 (and bool for EQUAL / NOT_EQUAL), which the engine
does not compare (``op_kind``: its kinds are int8, int16 and float32). TFLM's GREATER takes int16
too, but ComparisonsPrepare computes the rescaling parameters for int8 only, so int16 GREATER
compares with whatever its OpData holds: the engine refuses it, and the other comparisons' int16
as TFLM's Eval does. The converter's int16x8 mode does not quantize comparisons or SELECT_V2 at all.
"""

from __future__ import annotations

from edgeq.engine.fixedpoint import quantize_multiplier
from edgeq.engine.lowering import Builder, Layer, lowering, scale, zero_point
from edgeq.engine.ops.binary import broadcast_walk_of, walk_fields
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

GROUP = "compare"
KINDS = ("int8", "float32")

# Which of the four outcomes a comparison is true for: bit 0 a < b, bit 1 a == b, bit 2 a > b,
# bit 3 unordered (a float NaN on either side).
OUTCOMES = {
    "EQUAL": 0b0010,
    "NOT_EQUAL": 0b1101,
    "GREATER": 0b0100,
    "GREATER_EQUAL": 0b0110,
    "LESS": 0b0001,
    "LESS_EQUAL": 0b0011,
}
COMPARE_KERNELS = {"int8": "edgeq_compare_s8", "float32": "edgeq_compare_f32"}
SELECT_KERNELS = {"int8": "edgeq_select_s8", "float32": "edgeq_select_f32"}


def _problem(op: Operator, reason: str) -> UnsupportedError:
    return UnsupportedError(f"op {op.index} ({op.opcode}): {reason}")


def _rescale(op: Operator, tensor: Tensor) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp of the input's scale (TFLM's TFLITE_CHECKs abort outside
    (0, 1))."""
    real = scale(tensor)
    if not 0.0 < real < 1.0:
        raise _problem(op, f"input {tensor.name} has scale {real}: TFLM's comparison needs 0 < scale < 1")
    multiplier, shift = quantize_multiplier(real)
    assert shift <= 0
    return multiplier, shift


@lowering("EQUAL", group=GROUP, kinds=KINDS)
@lowering("NOT_EQUAL", group=GROUP, kinds=KINDS)
@lowering("GREATER", group=GROUP, kinds=KINDS)
@lowering("GREATER_EQUAL", group=GROUP, kinds=KINDS)
@lowering("LESS", group=GROUP, kinds=KINDS)
@lowering("LESS_EQUAL", group=GROUP, kinds=KINDS)
def comparison(b: Builder, op: Operator) -> Layer:
    """comparisons.cc's ComparisonsPrepare and <Op>Eval: reference_ops' <Op>NoScaling (float32) and
    <Op>WithScaling (int8), broadcast by Broadcast4DSlow<Op>... (BroadcastBinaryOpSimple)."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise _problem(op, "expects two inputs and one output")
    first, second, output = b.tensor(op.inputs[0]), b.tensor(op.inputs[1]), b.tensor(op.outputs[0])
    kind = first.dtype
    if kind not in KINDS or second.dtype != kind:
        raise _problem(
            op, f"{first.dtype} and {second.dtype} inputs: the engine compares int8 or float32 pairs"
        )
    if output.dtype != "bool":
        raise _problem(op, f"a {output.dtype} output: TFLM's comparisons write bool")
    walk = broadcast_walk_of(op, [first, second], output)
    fields = [*walk_fields(b, op, walk, output), OUTCOMES[op.opcode]]
    if kind == "int8":
        for tensor in (first, second):
            if tensor.quantization is None or tensor.quantization.per_channel:
                raise _problem(op, f"int8 tensor {tensor.name} needs one scale and zero point")
        (m1, s1), (m2, s2) = _rescale(op, first), _rescale(op, second)
        fields += [-zero_point(first), m1, s1, -zero_point(second), m2, s2]
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, f"edgeq_compare_{'s8' if kind == 'int8' else 'f32'}_params", fields,
                   COMPARE_KERNELS[kind], operands, GROUP)  # fmt: skip


@lowering("SELECT_V2", group=GROUP, kinds=KINDS)
def select_v2(b: Builder, op: Operator) -> Layer:
    """select.cc's SelectPrepare and SelectEval: reference_ops::Select, or BroadcastSelect5DSlow
    (BroadcastSelectSimple) when the shapes differ."""
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise _problem(op, "expects three inputs and one output")
    condition, x, y = (b.tensor(i) for i in op.inputs)
    output = b.tensor(op.outputs[0])
    if condition.dtype != "bool":
        raise _problem(op, f"a {condition.dtype} condition: TFLM's SELECT_V2 requires bool")
    if x.dtype != y.dtype or output.dtype != x.dtype:
        raise _problem(
            op, f"x {x.dtype}, y {y.dtype}, output {output.dtype}: TFLM's SELECT_V2 needs one type"
        )
    if x.dtype not in KINDS:
        raise _problem(op, f"{x.dtype} values: the engine selects int8 or float32 (TFLM also int16)")
    walk = broadcast_walk_of(op, [condition, x, y], output)
    fields = walk_fields(b, op, walk, output, ("steps_condition", "steps_x", "steps_y"))
    operands = [b.operand(i) for i in op.inputs] + [b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_select_params", fields, SELECT_KERNELS[x.dtype], operands, GROUP)
