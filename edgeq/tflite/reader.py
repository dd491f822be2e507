"""Read and verify a .tflite file into a ``ModelGraph``.

Two layers of checks run before anything is handed to LiteRT or TensorFlow Lite Micro: the
flatbuffer's structure (every offset inside the buffer, see ``flatbuffer.py``) and the model's
consistency (indices in range, constant data the size its shape says, quantization arrays that
match their tensors). Any failure is an InputError naming the file and the problem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edgeq.errors import InputError
from edgeq.tflite.flatbuffer import FlatbufferError, Table, root_table
from edgeq.tflite.graph import TENSOR_TYPES, ModelGraph, Operator, Quantization, Subgraph, Tensor

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
MAX_TENSOR_BYTES = 1 << 31  # no MCU or phone model has a 2 GiB tensor; larger means a corrupt shape

# BuiltinOptions union member → fields (name, slot, struct format, default, enum names or None).
_OPTION_FIELDS: dict[int, tuple[tuple[str, int, str, object, dict[int, str] | None], ...]] = {
    1: (  # Conv2DOptions
        ("padding", 0, "b", 0, PADDING),
        ("stride_w", 1, "i", 0, None),
        ("stride_h", 2, "i", 0, None),
        ("fused_activation", 3, "b", 0, ACTIVATION),
        ("dilation_w", 4, "i", 1, None),
        ("dilation_h", 5, "i", 1, None),
    ),
    2: (  # DepthwiseConv2DOptions
        ("padding", 0, "b", 0, PADDING),
        ("stride_w", 1, "i", 0, None),
        ("stride_h", 2, "i", 0, None),
        ("depth_multiplier", 3, "i", 0, None),
        ("fused_activation", 4, "b", 0, ACTIVATION),
        ("dilation_w", 5, "i", 1, None),
        ("dilation_h", 6, "i", 1, None),
    ),
    5: (  # Pool2DOptions
        ("padding", 0, "b", 0, PADDING),
        ("stride_w", 1, "i", 0, None),
        ("stride_h", 2, "i", 0, None),
        ("filter_w", 3, "i", 0, None),
        ("filter_h", 4, "i", 0, None),
        ("fused_activation", 5, "b", 0, ACTIVATION),
    ),
    8: (  # FullyConnectedOptions
        ("fused_activation", 0, "b", 0, ACTIVATION),
        ("weights_format", 1, "b", 0, None),
        ("keep_num_dims", 2, "?", False, None),
    ),
    9: (("beta", 0, "f", 0.0, None),),  # SoftmaxOptions
    10: (("axis", 0, "i", 0, None), ("fused_activation", 1, "b", 0, ACTIVATION)),  # Concatenation
    11: (("fused_activation", 0, "b", 0, ACTIVATION),),  # AddOptions
    21: (("fused_activation", 0, "b", 0, ACTIVATION),),  # MulOptions
    27: (("keep_dims", 0, "?", False, None),),  # ReducerOptions
    28: (("fused_activation", 0, "b", 0, ACTIVATION),),  # SubOptions
    32: (  # StridedSliceOptions
        ("begin_mask", 0, "i", 0, None),
        ("end_mask", 1, "i", 0, None),
        ("ellipsis_mask", 2, "i", 0, None),
        ("new_axis_mask", 3, "i", 0, None),
        ("shrink_axis_mask", 4, "i", 0, None),
        ("offset", 5, "?", False, None),
    ),
    49: (  # TransposeConvOptions
        ("padding", 0, "b", 0, PADDING),
        ("stride_w", 1, "i", 0, None),
        ("stride_h", 2, "i", 0, None),
        ("fused_activation", 3, "b", 0, ACTIVATION),
    ),
    75: (("alpha", 0, "f", 0.0, None),),  # LeakyReluOptions
    15: (("align_corners", 2, "?", False, None), ("half_pixel_centers", 3, "?", False, None)),  # Bilinear
    19: (("block_size", 0, "i", 0, None),),  # SpaceToDepthOptions
    23: (("axis", 0, "i", 0, None), ("batch_dims", 1, "i", 0, None)),  # GatherOptions
    29: (("fused_activation", 0, "b", 0, ACTIVATION),),  # DivOptions
    35: (("num_splits", 0, "i", 0, None),),  # SplitOptions
    59: (("values_count", 0, "i", 0, None), ("axis", 1, "i", 0, None)),  # PackOptions
    64: (("num", 0, "i", 0, None), ("axis", 1, "i", 0, None)),  # UnpackOptions
    74: (("align_corners", 0, "?", False, None), ("half_pixel_centers", 1, "?", False, None)),  # ResizeNN
    79: (("num_splits", 0, "i", 0, None),),  # SplitVOptions
    94: (("block_size", 0, "i", 0, None),),  # DepthToSpaceOptions
}
_VECTOR_OPTIONS = {17: ("new_shape", 0), 30: ("squeeze_dims", 0)}  # ReshapeOptions, SqueezeOptions

_builtin_names: dict[int, str] = {}


def builtin_op_name(code: int) -> str:
    """``CONV_2D`` for 3, from the TFLite schema that LiteRT ships; ``BUILTIN_<n>`` if unknown."""
    if not _builtin_names:
        from ai_edge_litert.schema_py_generated import BuiltinOperator

        _builtin_names.update(
            {value: name for name, value in vars(BuiltinOperator).items() if not name.startswith("_")}
        )
    return _builtin_names.get(code, f"BUILTIN_{code}")


def read_model_bytes(path: str | Path) -> bytes:
    """The bytes of a model file; InputError when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model {path} does not exist: check the path")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"model {path} cannot be read ({exc.strerror})") from exc


def read_tflite_file(path: str | Path) -> ModelGraph:
    """Read and verify a .tflite file; InputError when missing, unreadable or malformed."""
    return read_tflite(read_model_bytes(path), str(path))


def read_tflite(data: bytes, source: str = "model") -> ModelGraph:
    """Verify ``data`` and describe it; InputError naming ``source`` and the problem."""
    data = bytes(data)
    try:
        return _read(data)
    except FlatbufferError as exc:
        raise InputError(f"{source} is not a valid .tflite file ({exc})") from exc
    except _Invalid as exc:
        raise InputError(f"{source} is not a valid .tflite model ({exc})") from exc


class _Invalid(ValueError):
    pass


def _read(data: bytes) -> ModelGraph:
    model = root_table(data, b"TFL3", "model")
    version = int(model.scalar(0, "I"))
    if version != 3:
        raise _Invalid(f"schema version {version}, expected 3")
    opcodes = [_opcode(table) for table in model.tables(1, "operator_codes")]
    buffers = model.tables(4, "buffers")
    subgraph_tables = model.tables(2, "subgraphs")
    if not subgraph_tables:
        raise _Invalid("no subgraphs")
    subgraphs = tuple(
        _subgraph(table, index, opcodes, buffers, data) for index, table in enumerate(subgraph_tables)
    )
    metadata = []
    for table in model.tables(6, "metadata"):
        buffer = int(table.scalar(1, "I"))
        if buffer >= len(buffers):
            raise _Invalid(f"metadata points at buffer {buffer} of {len(buffers)}")
        metadata.append((table.string(0, "name") or "", buffer))
    signatures = []
    io_names: dict[int, str] = {}
    for table in model.tables(7, "signature_defs"):
        if int(table.scalar(4, "I")) >= len(subgraphs):
            raise _Invalid("a signature points at a missing subgraph")
        for slot in (0, 1):
            for entry in table.tables(slot, "tensors"):
                if int(entry.scalar(1, "I")) >= len(subgraphs[0].tensors) + sum(
                    len(sg.tensors) for sg in subgraphs[1:]
                ):
                    raise _Invalid("a signature names a missing tensor")
                if not signatures and int(table.scalar(4, "I")) == 0:
                    io_names.setdefault(int(entry.scalar(1, "I")), entry.string(0, "name") or "")
        signatures.append(table.string(2, "signature_key") or "")
    return ModelGraph(
        schema_version=version,
        description=model.string(3, "description") or "",
        subgraphs=subgraphs,
        metadata=tuple(metadata),
        signatures=tuple(signatures),
        io_names=tuple(sorted(io_names.items())),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _opcode(table: Table) -> tuple[str, int, str | None]:
    deprecated = int(table.scalar(0, "b"))
    builtin = int(table.scalar(3, "i"))
    code = max(deprecated, builtin)  # newer files set builtin_code; older only the int8 field
    version = int(table.scalar(2, "i", 1))
    if code == 32:  # BuiltinOperator.CUSTOM
        custom = table.string(1, "custom_code") or ""
        return f"CUSTOM:{custom}", version, custom
    if code < 0:
        raise _Invalid(f"operator code {code} is negative")
    return builtin_op_name(code), version, None


def _subgraph(
    table: Table, index: int, opcodes: list[tuple[str, int, str | None]], buffers: list[Table], data: bytes
) -> Subgraph:
    where = f"subgraph {index}"
    tensor_tables = table.tables(0, "tensors")
    tensors = tuple(_tensor(t, i, buffers, data, where) for i, t in enumerate(tensor_tables))
    count = len(tensors)
    inputs = tuple(int(i) for i in table.scalars(1, "i", "inputs"))
    outputs = tuple(int(i) for i in table.scalars(2, "i", "outputs"))
    for name, indices in (("input", inputs), ("output", outputs)):
        for tensor in indices:
            if not 0 <= tensor < count:
                raise _Invalid(f"{where} {name} tensor {tensor} does not exist ({count} tensors)")
    operators = []
    for op_index, op_table in enumerate(table.tables(3, "operators")):
        opcode_index = int(op_table.scalar(0, "I"))
        if opcode_index >= len(opcodes):
            raise _Invalid(f"{where} operator {op_index} uses opcode {opcode_index} of {len(opcodes)}")
        name, version, custom = opcodes[opcode_index]
        op_inputs = tuple(int(i) for i in op_table.scalars(1, "i", "inputs"))
        op_outputs = tuple(int(i) for i in op_table.scalars(2, "i", "outputs"))
        for tensor in op_inputs:
            if not -1 <= tensor < count:
                raise _Invalid(f"{where} operator {op_index} ({name}) reads missing tensor {tensor}")
        for tensor in op_outputs:
            if not 0 <= tensor < count:
                raise _Invalid(f"{where} operator {op_index} ({name}) writes missing tensor {tensor}")
        operators.append(
            Operator(
                index=op_index, opcode=name, version=version, inputs=op_inputs, outputs=op_outputs,
                options=_options(op_table), custom_code=custom,
            )
        )  # fmt: skip
    return Subgraph(
        name=table.string(4, "name") or "",
        tensors=tensors,
        operators=tuple(operators),
        inputs=inputs,
        outputs=outputs,
    )


def _tensor(table: Table, index: int, buffers: list[Table], data: bytes, where: str) -> Tensor:
    name = table.string(3, "name") or f"tensor_{index}"
    label = f"{where} tensor {index} ({name})"
    shape = tuple(int(d) for d in table.scalars(0, "i", "shape"))
    if any(d < 0 for d in shape):
        raise _Invalid(f"{label} has a negative dimension {shape}")
    type_code = int(table.scalar(1, "b"))
    if type_code not in TENSOR_TYPES:
        raise _Invalid(f"{label} has unknown type {type_code}")
    dtype, _, bits = TENSOR_TYPES[type_code]
    elements = 1
    for dim in shape:
        elements *= dim
    if elements * max(bits, 8) // 8 > MAX_TENSOR_BYTES:
        raise _Invalid(f"{label} claims {elements} elements")
    buffer_index = int(table.scalar(2, "I"))
    if buffer_index >= max(len(buffers), 1):
        raise _Invalid(f"{label} uses buffer {buffer_index} of {len(buffers)}")
    constant = _buffer_data(buffers[buffer_index], data, label) if buffers and buffer_index else None
    if constant is not None and bits and len(constant) != (elements * bits + 7) // 8:
        raise _Invalid(
            f"{label} has {len(constant)} bytes of data, its shape {shape} needs {(elements * bits + 7) // 8}"
        )
    quantization = _quantization(table.table(4, "quantization"), shape, label)
    signature = tuple(int(d) for d in table.scalars(7, "i", "shape_signature")) or shape
    return Tensor(
        index=index, name=name, shape=shape, shape_signature=signature, dtype=dtype, buffer=buffer_index,
        quantization=quantization, is_variable=bool(table.scalar(5, "?", False)), data=constant,
    )  # fmt: skip


def _buffer_data(buffer: Table, data: bytes, label: str) -> bytes | None:
    offset, size = int(buffer.scalar(1, "Q")), int(buffer.scalar(2, "Q"))
    if offset > 1:  # large models keep buffers after the flatbuffer, addressed from the file start
        if offset + size > len(data):
            raise _Invalid(f"{label}: its buffer at {offset}+{size} lies outside the file")
        return bytes(data[offset : offset + size])
    raw = buffer.raw_bytes(0, "data")
    return raw if raw else None


def _quantization(table: Table | None, shape: tuple[int, ...], label: str) -> Quantization | None:
    if table is None:
        return None
    scales = tuple(float(s) for s in table.scalars(2, "f", "scale"))
    zero_points = tuple(int(z) for z in table.scalars(3, "q", "zero_point"))
    if not scales:
        return None
    if zero_points and len(zero_points) != len(scales):
        raise _Invalid(f"{label} has {len(scales)} scales but {len(zero_points)} zero points")
    dimension = int(table.scalar(6, "i"))
    if len(scales) > 1 and (not 0 <= dimension < len(shape) or shape[dimension] != len(scales)):
        raise _Invalid(f"{label} has {len(scales)} per-channel scales for shape {shape} axis {dimension}")
    return Quantization(
        scales=scales, zero_points=zero_points or (0,) * len(scales), quantized_dimension=dimension
    )


def _options(table: Table) -> tuple[tuple[str, object], ...]:
    kind = int(table.scalar(3, "B"))
    options = table.table(4, "builtin_options") if kind else None
    if options is None:
        return ()
    if kind in _VECTOR_OPTIONS:
        name, slot = _VECTOR_OPTIONS[kind]
        return ((name, tuple(int(v) for v in options.scalars(slot, "i", name))),)
    values: list[tuple[str, object]] = []
    for name, slot, fmt, default, names in _OPTION_FIELDS.get(kind, ()):
        value = options.scalar(slot, fmt, default)
        if names is not None:
            value = names.get(int(value), f"UNKNOWN_{value}")
        elif fmt == "f":
            value = float(value)
        values.append((name, value))
    return tuple(values)
