"""Ops that move or convert values (kernel group ``data``): PAD / PADV2 and CONCATENATION (int8,
int16, float32), QUANTIZE (float32 → int8 / int16; requantization int8 / int16 → int8 / int16) and
DEQUANTIZE (int8 / int16 → float32). SQUEEZE and EXPAND_DIMS are aliases, like RESHAPE: TFLite
gives their output the input's type and quantization, so the bytes are the same under another shape.
"""

from __future__ import annotations

from edgeq.cnames import c_float
from edgeq.engine.fixedpoint import quantize_multiplier
from edgeq.engine.lowering import C_TYPES, Builder, Layer, alias, lowering, require_dtype, scale, zero_point
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator

alias("SQUEEZE", "EXPAND_DIMS")

PAD_MAX_DIMS = 5  # TFLM's PadKernelMaxDimensionCount
CONCATENATION_MAX_INPUTS = 10  # TFLM's kMaxInputNum
CONCATENATION_MAX_DIMS = 6  # TFLM's RuntimeShape::kMaxSmallSize

# (input dtype, output dtype) → kernel, for QUANTIZE and DEQUANTIZE
QUANTIZE_KERNELS = {
    ("float32", "int8"): "edgeq_quantize_f32_s8",
    ("float32", "int16"): "edgeq_quantize_f32_s16",
    ("int8", "int8"): "edgeq_requantize_s8_s8",
    ("int8", "int16"): "edgeq_requantize_s8_s16",
    ("int16", "int8"): "edgeq_requantize_s16_s8",
    ("int16", "int16"): "edgeq_requantize_s16_s16",
}
DEQUANTIZE_KERNELS = {"int8": "edgeq_dequantize_s8_f32", "int16": "edgeq_dequantize_s16_f32"}
PAD_KERNELS = {"int8": "edgeq_pad_s8", "int16": "edgeq_pad_s16", "float32": "edgeq_pad_f32"}
CONCATENATION_KERNELS = {
    "int8": "edgeq_concatenation_s8",
    "int16": "edgeq_concatenation_s16",
    "float32": "edgeq_concatenation_f32",
}


def _where(op: Operator) -> str:
    return f"op {op.index} ({op.opcode})"


def _braces(values: list[int]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def _per_tensor(b: Builder, op: Operator, index: int) -> None:
    """UnsupportedError unless tensor ``index`` has exactly one scale and zero point."""
    quantization = b.tensor(index).quantization
    if quantization is None or len(quantization.scales) != 1 or len(quantization.zero_points) != 1:
        raise UnsupportedError(f"{_where(op)}: tensor {b.tensor(index).name} is not quantized per tensor")


def _activation(op: Operator) -> None:
    activation = str(op.option.get("fused_activation", "NONE"))
    if activation != "NONE":
        raise UnsupportedError(f"{_where(op)}: TFLM rejects a fused {activation} on this op")


@lowering("PAD", group="data", kinds=("int8", "int16", "float32"))
@lowering("PADV2", group="data", kinds=("int8", "int16", "float32"))
def pad(b: Builder, op: Operator) -> Layer:
    """TFLM's Pad: the output in order, input values inside the paddings, the pad value outside.
    The pad value is PADV2's constant, else the output zero point for int8 and 0 for int16 and
    float32."""
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], "int8", "int16", "float32")
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if source.dtype != output.dtype:
        raise UnsupportedError(f"{_where(op)}: input {source.dtype} and output {output.dtype} differ")
    paddings = b.tensor(op.inputs[1])
    if not paddings.is_constant or paddings.dtype != "int32":
        raise UnsupportedError(f"{_where(op)}: TFLM needs constant int32 paddings")
    rank = len(output.shape)
    pairs = [[int(v) for v in pair] for pair in paddings.values().reshape(-1, 2)]
    if len(source.shape) != rank or len(pairs) != rank or rank > PAD_MAX_DIMS:
        raise UnsupportedError(f"{_where(op)}: paddings for {rank} dimensions (TFLM pads up to 5)")
    if any(lo < 0 or hi < 0 for lo, hi in pairs) or any(
        o != i + lo + hi for o, i, (lo, hi) in zip(output.shape, source.shape, pairs, strict=True)
    ):
        raise UnsupportedError(f"{_where(op)}: paddings {pairs} do not give the output shape")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        constant = b.tensor(op.inputs[2])
        if not constant.is_constant or constant.dtype != source.dtype or constant.elements != 1:
            raise UnsupportedError(f"{_where(op)}: the pad value must be a constant scalar of the input type")
        if source.dtype == "int8":
            _per_tensor(b, op, op.inputs[2])
            _per_tensor(b, op, op.outputs[0])
            same = zero_point(constant) == zero_point(output) and scale(constant) == scale(output)
            if not same:
                raise UnsupportedError(f"{_where(op)}: TFLM needs the pad value quantized like the output")
        value = constant.values().reshape(-1)[0]
    elif source.dtype == "int8":
        _per_tensor(b, op, op.outputs[0])
        value = zero_point(output)
    else:
        value = 0
    # leading dimensions of size 1 without padding, as TFLM extends shapes to 5 dimensions
    missing = PAD_MAX_DIMS - rank
    dims = [1] * missing + list(output.shape)
    before = [0] * missing + [lo for lo, _ in pairs]
    after = [0] * missing + [hi for _, hi in pairs]
    if source.dtype == "float32":
        fields = [_braces(dims), _braces(before), _braces(after), c_float(float(value))]
        struct = "edgeq_pad_f32_params"
    else:
        fields = [_braces(dims), _braces(before), _braces(after), int(value)]
        struct = "edgeq_pad_params"
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, struct, fields, PAD_KERNELS[source.dtype], operands, "data")


@lowering("CONCATENATION", group="data", kinds=("int8", "int16", "float32"))
def concatenation(b: Builder, op: Operator) -> Layer:
    """TFLM's Concatenation: for each slice before the axis, each input's block in turn. A copy:
    TFLM requires int8 inputs quantized like the output, and int16 ones with zero point 0."""
    inputs = [index for index in op.inputs if index >= 0]
    output = b.tensor(op.outputs[0])
    dtype = output.dtype if output.dtype in ("int16", "float32") else "int8"
    require_dtype(b.subgraph, op, [*inputs, op.outputs[0]], dtype)
    _activation(op)
    rank = len(output.shape)
    if not 1 <= len(inputs) <= CONCATENATION_MAX_INPUTS or rank > CONCATENATION_MAX_DIMS:
        raise UnsupportedError(f"{_where(op)}: TFLM concatenates up to 10 inputs of up to 6 dimensions")
    axis = int(op.option.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise UnsupportedError(f"{_where(op)}: axis {op.option.get('axis')} out of range")
    inner = 1
    for dim in output.shape[axis + 1 :]:
        inner *= dim
    outer = 1
    for dim in output.shape[:axis]:
        outer *= dim
    sizes = []
    for index in [*inputs, op.outputs[0]]:
        tensor = b.tensor(index)
        shape = tensor.shape
        if len(shape) != rank or any(shape[d] != output.shape[d] for d in range(rank) if d != axis):
            raise UnsupportedError(f"{_where(op)}: input {shape} does not fit the output {output.shape}")
        if index != op.outputs[0]:
            sizes.append(shape[axis] * inner)
        if dtype == "float32":
            continue
        _per_tensor(b, op, index)
        if dtype == "int16" and zero_point(tensor) != 0:
            raise UnsupportedError(f"{_where(op)}: TFLM needs int16 zero points of 0 ({tensor.name})")
        quantized = (scale(tensor), zero_point(tensor))
        if dtype == "int8" and quantized != (scale(output), zero_point(output)):
            raise UnsupportedError(
                f"{_where(op)}: input {tensor.name} is quantized unlike the output (TFLM requires the same)"
            )
    if sum(sizes) != output.shape[axis] * inner:
        raise UnsupportedError(f"{_where(op)}: the inputs do not add up to the output {output.shape}")
    prefix = b.prefix(op)
    fields = [outer, len(inputs), b.array(f"{prefix}_sizes", "int32_t", sizes)]
    # a C99 compound literal: the input pointers, built in invoke() (arena places are not constant)
    ctype = C_TYPES[dtype]
    pointers = f"(const {ctype} *const[]){{" + ", ".join(b.operand(index) for index in inputs) + "}"
    operands = [pointers, b.operand(op.outputs[0], const=False)]
    kernel = CONCATENATION_KERNELS[dtype]
    return b.layer(op, "edgeq_concatenation_params", fields, kernel, operands, "data")


@lowering("QUANTIZE", group="data", kinds=("float32", "int8", "int16"))
def quantize(b: Builder, op: Operator) -> Layer:
    """TFLM's QUANTIZE: AffineQuantize from float32 (float division by the scale, round half away
    from zero, clamp), else Requantize of int8 / int16 to int8 / int16 (MultiplyByQuantizedMultiplier
    of input - zero point by input scale / output scale, plus the output zero point, clamped)."""
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    kernel = QUANTIZE_KERNELS.get((source.dtype, output.dtype))
    if kernel is None:
        raise UnsupportedError(f"{_where(op)}: {source.dtype} to {output.dtype} is not supported")
    require_dtype(b.subgraph, op, [op.inputs[0], op.outputs[0]], source.dtype, output.dtype)
    _per_tensor(b, op, op.outputs[0])
    if source.elements != output.elements:
        raise UnsupportedError(f"{_where(op)}: input and output sizes differ")
    if source.dtype == "float32":
        # TFLM divides by static_cast<float>(double(scale)): the float32 scale itself
        fields = [output.elements, repr(scale(output)), zero_point(output)]
    else:
        _per_tensor(b, op, op.inputs[0])
        multiplier, shift = quantize_multiplier(scale(source) / scale(output))
        fields = [output.elements, zero_point(source), zero_point(output), multiplier, shift]
    struct = "edgeq_quantize_params" if source.dtype == "float32" else "edgeq_requantize_params"
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, struct, fields, kernel, operands, "data")


@lowering("DEQUANTIZE", group="data", kinds=("int8", "int16"))
def dequantize(b: Builder, op: Operator) -> Layer:
    """TFLM's Dequantize: (float)(double(scale) * (value - zero point))."""
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    kernel = DEQUANTIZE_KERNELS.get(source.dtype)
    if kernel is None or output.dtype != "float32":
        raise UnsupportedError(f"{_where(op)}: {source.dtype} to {output.dtype} is not supported")
    require_dtype(b.subgraph, op, [op.inputs[0]], source.dtype)
    _per_tensor(b, op, op.inputs[0])
    if source.elements != output.elements:
        raise UnsupportedError(f"{_where(op)}: input and output sizes differ")
    fields = [output.elements, zero_point(source), repr(scale(source))]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_dequantize_params", fields, kernel, operands, "data")
