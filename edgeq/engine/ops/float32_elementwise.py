"""float32 element-wise ops (kernel group ``float32``): ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE,
MAXIMUM, MINIMUM and PRELU with numpy broadcasting, and ABS, SQRT, RSQRT, SQUARE, NEG, EXP, LOG,
LOGISTIC, TANH, RELU, RELU6, ELU, HARD_SWISH, LEAKY_RELU.

Each output element is TFLM's float expression of its inputs (``kernels/float32.c.j2`` lists
them), so the order of the broadcast walk does not matter; the walk is ``ops/binary.py``'s.
ADD / SUB / MUL / DIV clamp to their fused activation's range even without one (TFLM clamps to
±FLT_MAX, so an infinite sum becomes FLT_MAX).

Tolerance: arithmetic, comparisons and sqrtf are exact, so those ops give TFLM's bits on any
IEEE single-precision target. EXP, LOG, LOGISTIC, TANH and ELU call libm's expf, logf, tanhf and
expm1f, as TFLM's kernels do (std::exp of a float, TfLiteExpm1, ...): on the host both the engine
and the TFLM package call the same glibc functions and match bit for bit (tested with tolerance 0).
newlib's expf differs from glibc's: measured on QEMU's Cortex-M4 (FPU) and Cortex-M0 (soft float)
against TFLM on the host, the tests' float models gave at most 2 ulp (relative 5.6e-8) in EXP,
LOGISTIC, SOFTMAX and the ops after them, and bit-identical results for every other op.
"""

from __future__ import annotations

from edgeq.cnames import c_float
from edgeq.engine.lowering import Builder, Layer, lowering
from edgeq.engine.ops.binary import broadcast_walk, walk_fields
from edgeq.engine.ops.float32_layers import FLT_MAX, GROUP, KIND, activation_range, problem, require_float
from edgeq.tflite.graph import Operator

# opcode → (kernel, whether TFLM clamps it to a fused activation)
BINARY = {
    "ADD": ("edgeq_f32_add", True),
    "SUB": ("edgeq_f32_sub", True),
    "MUL": ("edgeq_f32_mul", True),
    "DIV": ("edgeq_f32_div", True),
    "SQUARED_DIFFERENCE": ("edgeq_f32_squared_difference", False),
    "MAXIMUM": ("edgeq_f32_maximum", False),
    "MINIMUM": ("edgeq_f32_minimum", False),
    "PRELU": ("edgeq_f32_prelu", False),
}
UNARY = {
    "ABS": "edgeq_f32_abs",
    "SQRT": "edgeq_f32_sqrt",
    "RSQRT": "edgeq_f32_rsqrt",
    "SQUARE": "edgeq_f32_square",
    "NEG": "edgeq_f32_neg",
    "EXP": "edgeq_f32_exp",
    "LOG": "edgeq_f32_log",
    "LOGISTIC": "edgeq_f32_logistic",
    "TANH": "edgeq_f32_tanh",
    "RELU": "edgeq_f32_relu",
    "RELU6": "edgeq_f32_relu6",
    "ELU": "edgeq_f32_elu",
    "HARD_SWISH": "edgeq_f32_hard_swish",
    "LEAKY_RELU": "edgeq_f32_leaky_relu",
}
PRELU_MAX_RANK = 4  # BroadcastPrelu4DSlowFloat extends every shape to 4 dimensions


def _binary(b: Builder, op: Operator) -> Layer:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise problem(op, "expects two inputs and one output")
    first, second, output = require_float(b, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    kernel, clamped = BINARY[op.opcode]
    rank = max(len(first.shape), len(second.shape), len(output.shape))
    if op.opcode == "PRELU" and rank > PRELU_MAX_RANK:
        raise problem(op, f"{rank} dimensions: TFLM's PRELU takes at most {PRELU_MAX_RANK}")
    if op.opcode == "DIV" and "fused_activation" not in op.option:
        raise problem(op, "the model reader gives no DivOptions (its fused activation)")
    walk = broadcast_walk(op, first, second, output)
    low, high = activation_range(op) if clamped else (f"-{FLT_MAX}", FLT_MAX)
    fields = [
        *walk_fields(b, op, walk, output),
        low,
        high,
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_binary_params", fields, kernel, operands, GROUP)


def _unary(b: Builder, op: Operator) -> Layer:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise problem(op, "expects one input and one output")
    source, output = require_float(b, op, [op.inputs[0], op.outputs[0]])
    if source.elements != output.elements:
        raise problem(op, f"maps shape {source.shape} to {output.shape}")
    alpha = float(op.option.get("alpha", 0.0)) if op.opcode == "LEAKY_RELU" else 0.0
    fields = [output.elements, c_float(alpha)]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], False)]
    return b.layer(op, "edgeq_f32_unary_params", fields, UNARY[op.opcode], operands, GROUP)


for _opcode in BINARY:
    lowering(_opcode, group=GROUP, kinds=KIND)(_binary)
for _opcode in UNARY:
    lowering(_opcode, group=GROUP, kinds=KIND)(_unary)
