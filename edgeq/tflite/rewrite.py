"""Rewrite the storage type of constant weight tensors in a .tflite file, values unchanged.

* ``unpack_int4_weights``: every INT4 constant becomes an INT8 tensor holding the same values (the
  "int8 twin"). It computes exactly what the int4 file computes, in runtimes that refuse int4
  weights (TensorFlow Lite Micro's FULLY_CONNECTED), so it is the oracle for int4 kernels.
* ``pack_int4_weights``: INT8 constants whose values all lie in [-8, 7] (weights trained with
  4-bit fake quantization) become INT4 tensors, two values per byte.

``inline_buffers`` moves buffers stored after the flatbuffer into it (TFLite Micro reads those as
zeros). All go through the TFLite schema's object API (``ai_edge_litert.schema_py_generated``) and return
new bytes; the file they read is never modified.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from edgeq.tflite.graph import ModelGraph, pack_int4, unpack_int4

INT8, INT4 = 9, 17


def _model(tflite: bytes):
    """The schema's object tree, with buffers kept after the flatbuffer (``offset`` > 1) read back
    into it, so that packing it again keeps their bytes."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    for buffer in model.buffers or []:
        if buffer.offset and buffer.offset > 1:
            buffer.data = np.frombuffer(tflite[buffer.offset : buffer.offset + buffer.size], dtype=np.uint8)
            buffer.offset = buffer.size = 0
    return model


def has_external_buffers(tflite: bytes) -> bool:
    """Whether some buffer lies after the flatbuffer, addressed by file offset (a layout for files
    over 2 GB that ai-edge-quantizer also writes for small ones, and that this TensorFlow Lite
    Micro reads as zeros)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(tflite, 0)
    return any(model.Buffers(i).Offset() > 1 for i in range(model.BuffersLength()))


def inline_buffers(tflite: bytes) -> bytes:
    """``tflite`` with every buffer inside the flatbuffer (``tflite`` itself when all are)."""
    return _bytes(_model(tflite)) if has_external_buffers(tflite) else tflite


def _bytes(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _elements(tensor) -> int:
    return int(np.prod(tensor.shape, dtype=np.int64)) if tensor.shape is not None else 1


def has_int4_weights(graph: ModelGraph) -> bool:
    """Whether the model's main subgraph holds an INT4 constant (which this TFLite Micro refuses in
    FULLY_CONNECTED: its int8 twin, ``unpack_int4_weights``, is what TFLM can run instead)."""
    return any(t.dtype == "int4" and t.is_constant for t in graph.main.tensors)


def unpack_int4_weights(tflite: bytes) -> bytes:
    """``tflite`` with each INT4 constant stored as INT8 (same values, same quantization)."""
    model = _model(tflite)
    changed = False
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            buffer = model.buffers[tensor.buffer] if tensor.buffer else None
            if tensor.type != INT4 or buffer is None or buffer.data is None:
                continue
            values = unpack_int4(bytes(np.asarray(buffer.data, dtype=np.uint8)), _elements(tensor))
            buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8)
            tensor.type = INT8
            changed = True
    return _bytes(model) if changed else tflite


def pack_int4_weights(tflite: bytes, names: Collection[str] | None = None) -> bytes:
    """``tflite`` with the INT8 constants named in ``names`` (all whose values fit in [-8, 7] when
    None) stored as INT4; ValueError when a named tensor holds a value outside [-8, 7]."""
    model = _model(tflite)
    wanted = None if names is None else set(names)
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            buffer = model.buffers[tensor.buffer] if tensor.buffer else None
            if tensor.type != INT8 or buffer is None or buffer.data is None:
                continue
            if wanted is not None and name not in wanted:
                continue
            values = np.asarray(buffer.data, dtype=np.uint8).view(np.int8)
            if values.min(initial=0) < -8 or values.max(initial=0) > 7:
                if wanted is None:
                    continue
                raise ValueError(f"tensor {name} holds values outside [-8, 7]: it is not a 4-bit weight")
            buffer.data = np.frombuffer(pack_int4(values), dtype=np.uint8)
            tensor.type = INT4
    return _bytes(model)


WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")  # their input 1 is the weights


def weight_tensor_names(tflite: bytes) -> set[str]:
    """Names of the constant weight tensors of the file's CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED ops."""
    from edgeq.tflite.reader import read_tflite

    main = read_tflite(tflite, "weights").main
    return {
        main.tensors[op.inputs[1]].name
        for op in main.operators
        if op.opcode in WEIGHT_OPS and len(op.inputs) > 1 and main.tensors[op.inputs[1]].is_constant
    }


def regrid_fully_connected(tflite: bytes, levels: int, onto: int) -> bytes:
    """``tflite`` with each FULLY_CONNECTED's per-channel int8 weights ``round(k * levels / onto)``
    stored as ``k`` with ``onto / levels`` of the scale; the bias scales follow (input scale times
    the new weight scale; their int32 values must already be on it). The converter writes such
    weights when a grid of ``2 * onto + 1`` levels goes in without fake quantization.

    ValueError when a weight is not on the grid or has no quantization."""
    from ai_edge_litert import schema_py_generated as schema

    model = _model(tflite)
    ratio = np.float32(levels / onto)
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            if model.operatorCodes[op.opcodeIndex].builtinCode != schema.BuiltinOperator.FULLY_CONNECTED:
                continue
            source, weights = (subgraph.tensors[i] for i in op.inputs[:2])
            buffer = model.buffers[weights.buffer]
            values = np.asarray(buffer.data, dtype=np.uint8).view(np.int8)
            steps = np.round(values / ratio)
            if weights.quantization is None or not np.array_equal(np.round(steps * ratio), values):
                name = weights.name.decode() if isinstance(weights.name, bytes) else weights.name
                raise ValueError(f"tensor {name} is not on a grid of {2 * onto + 1} levels")
            buffer.data = np.frombuffer(steps.astype(np.int8).tobytes(), dtype=np.uint8)
            scales = np.asarray(weights.quantization.scale, np.float32) * ratio
            weights.quantization.scale = scales.tolist()
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                bias = subgraph.tensors[op.inputs[2]]
                input_scale = np.float32(source.quantization.scale[0])
                bias.quantization.scale = (scales * input_scale).astype(np.float32).tolist()
    return _bytes(model)
