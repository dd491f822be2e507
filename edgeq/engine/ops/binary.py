"""Element-wise ops with two operands (kernel group ``binary``): int8 ADD of equal shapes."""

from __future__ import annotations

from edgeq.engine.lowering import Builder, Layer, lowering, require_dtype
from edgeq.engine.params import add_params
from edgeq.tflite.graph import Operator


@lowering("ADD", group="binary")
def add(b: Builder, op: Operator) -> Layer:
    require_dtype(b.subgraph, op, [*op.inputs[:2], op.outputs[0]], "int8")
    p = add_params(b.subgraph, op)
    fields = [b.tensor(op.outputs[0]).elements, p.input1_offset, p.input2_offset, p.output_offset,
              p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift, p.output_multiplier,
              p.output_shift, p.activation_min, p.activation_max]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0])]
    return b.layer(op, "edgeq_add_params", fields, "edgeq_add_s8", operands, "binary")
