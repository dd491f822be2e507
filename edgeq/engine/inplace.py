"""How far an engine kernel's output may overlap an input that dies at that op.

The kernels this module knows write their output in order (element 0 first) and, before writing
output element ``e``, have read everything element ``e`` needs; none writes its output before
reading (no zero-filled output, no accumulation in it). If the output starts ``delta`` bytes
below the input, writing output byte ``b`` overwrites input byte ``b - delta``; that is harmless
once no later output element reads that input byte. For each kernel this module computes, from
the op's geometry, the first input element each output element reads, and from it the smallest
safe ``delta``: a 3x3 stride-1 convolution needs about two input rows, an element-wise op none.

The int8, int16 and float32 kernels of one opcode are written separately (``op_kind``), so the
model is chosen per (opcode, kind), and only pairs whose kernel was read take part; every other
op gets ``None`` (no overlap). What each kernel does:

- element-wise (``ELEMENTWISE``): input element ``i`` is read before output element ``i`` is
  written (SOFTMAX reads each row whole before writing it, then element by element).
- FULLY_CONNECTED: each input row is read by every unit of the row's outputs.
- int8 CONV_2D (``edgeq_conv_s8``) works on pairs of output pixels, writing both while still
  reading both: each pixel of a pair counts as reading from the pair's first input byte.
- int8 DEPTHWISE_CONV_2D: the DSP kernel sweeps a row once per group of channels, then its edge
  pixels: every output of a row counts as reading from the row's first input byte.
- int16 / float32 CONV_2D (``edgeq_conv_s16``, ``edgeq_f32_conv``): one output element at a
  time, pixel by pixel; output channel ``oc`` reads the input channels of its group.
- int16 / float32 DEPTHWISE_CONV_2D: output channel ``oc`` reads input channel
  ``oc // multiplier`` of its window.
- AVERAGE_POOL_2D / MAX_POOL_2D (every kind): channel ``c`` of the window (the int8 kernel reads
  up to 64 channels of a pixel together, all before it writes them).
- TRANSPOSE_CONV (every kind: ``edgeq_transpose_conv_s8``, ``_s16`` and ``edgeq_f32_transpose_conv``
  gather, one output element at a time): each output element reads every channel of the input
  pixels that reach it; its data input is ``op.inputs[2]``.

Batches are modelled one after another, as every kernel walks them (the float32 kernels and the
int8 TRANSPOSE_CONV in their own loop; the int8 / int16 windowed kernels as one call per image,
``per_image`` in ``ops/core.py``).

The randomized and zoo tests run every such overlapped plan against TFLite Micro.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.lowering import op_kind
from edgeq.engine.params import same_padding
from edgeq.tflite.graph import Operator, Subgraph

ALL_KINDS = ("int8", "int16", "float32")

# opcode -> the kinds whose kernel reads input element i before writing output element i, in
# order, and reads nothing before i afterwards (the int16 engine has no HARD_SWISH kernel)
ELEMENTWISE: dict[str, tuple[str, ...]] = {
    "ADD": ALL_KINDS,
    "MUL": ALL_KINDS,
    "SOFTMAX": ALL_KINDS,
    "LOGISTIC": ALL_KINDS,
    "TANH": ALL_KINDS,
    "HARD_SWISH": ("int8", "float32"),
    "RELU": ALL_KINDS,
    "RELU6": ALL_KINDS,
    "LEAKY_RELU": ALL_KINDS,
}
FULLY_CONNECTED_KINDS = ALL_KINDS

# (opcode, kind) -> how the outputs of one pixel read the input (see the module's docstring):
# "pairs" and "rows" from the first byte of the pixel pair / output row, "groups" from the first
# input channel of the output channel's group, "multiplier" from input channel oc // multiplier,
# "channels" from channel c, "pixel" from the pixel's first byte
WINDOWED: dict[tuple[str, str], str] = {
    ("CONV_2D", "int8"): "pairs",
    ("CONV_2D", "int16"): "groups",
    ("CONV_2D", "float32"): "groups",
    ("DEPTHWISE_CONV_2D", "int8"): "rows",
    ("DEPTHWISE_CONV_2D", "int16"): "multiplier",
    ("DEPTHWISE_CONV_2D", "float32"): "multiplier",
    **{(opcode, kind): "channels" for opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D") for kind in ALL_KINDS},
    **{("TRANSPOSE_CONV", kind): "pixel" for kind in ALL_KINDS},
}

# what first_read holds for an output element that reads no input at all
_NEVER = np.iinfo(np.int64).max // 4


def overlap_delta(subgraph: Subgraph, op: Operator, source: int, output: int) -> int | None:
    """Bytes the output must start below ``source`` so that no byte is overwritten before its
    last read; None when the kernel must not overlap this input."""
    first_read = _first_reads(subgraph, op, source, op_kind(subgraph, op))
    if first_read is None:
        return None
    out_tensor, in_tensor = subgraph.tensors[output], subgraph.tensors[source]
    if len(first_read) != out_tensor.elements:
        return None
    out_item = out_tensor.nbytes // max(out_tensor.elements, 1)
    in_item = in_tensor.nbytes // max(in_tensor.elements, 1)
    if out_item == 0 or in_item == 0:
        return None
    # the first input element any later element (e' > e) reads; nothing after the last one (the
    # cap keeps ``later * in_item`` inside int64 for every element size)
    cap = np.iinfo(np.int64).max // 16
    later = np.minimum.accumulate(np.minimum(first_read, cap)[::-1])[::-1]
    later = np.append(later[1:], cap)
    last_written = (np.arange(len(first_read), dtype=np.int64) + 1) * out_item - 1
    unsafe = last_written - later * in_item
    return max(int(unsafe.max()) + 1, 0)


def _first_reads(subgraph: Subgraph, op: Operator, source: int, kind: str) -> np.ndarray | None:
    """For each output element in write order, the index of the first input element it reads
    (``_NEVER`` when it reads none); None when the (opcode, kind) kernel's order is not known."""
    tensors = subgraph.tensors
    output = tensors[op.outputs[0]]
    if kind in ELEMENTWISE.get(op.opcode, ()):
        if tensors[source].shape != output.shape:
            return None
        return np.arange(output.elements, dtype=np.int64)
    if op.opcode == "FULLY_CONNECTED" and kind in FULLY_CONNECTED_KINDS:
        if source != op.inputs[0] or source in op.inputs[1:] or len(tensors[op.inputs[1]].shape) != 2:
            return None
        depth = tensors[op.inputs[1]].shape[1]
        rows, units = output.elements // output.shape[-1], output.shape[-1]
        return np.repeat(np.arange(rows, dtype=np.int64) * depth, units)
    model = WINDOWED.get((op.opcode, kind))
    data = op.inputs[2] if op.opcode == "TRANSPOSE_CONV" else op.inputs[0]
    if model is None or source != data or op.inputs.count(source) != 1:
        return None
    if len(tensors[source].shape) != 4 or len(output.shape) != 4:
        return None
    batches, in_h, in_w, in_c = tensors[source].shape
    out_batches, out_h, out_w, out_c = output.shape
    if out_batches != batches:
        return None
    if op.opcode == "TRANSPOSE_CONV":
        rows, cols = _transpose_rows_cols(subgraph, op, (in_h, in_w), (out_h, out_w))
    else:
        rows, cols = _window_rows_cols(subgraph, op, (in_h, in_w), (out_h, out_w))
    pixel = (rows[:, None] * in_w + cols[None, :]) * in_c
    pixel = np.where((rows[:, None] < 0) | (cols[None, :] < 0), _NEVER, pixel).reshape(-1)
    channel = np.zeros(out_c, dtype=np.int64)
    if model == "pairs":
        # two pixels per pass, both written while both are still read: each pixel of a pair
        # reads from the pair's first input byte
        paired = np.minimum(pixel[0::2], np.append(pixel[1::2], _NEVER)[: len(pixel[0::2])])
        pixel = np.repeat(paired, 2)[: len(pixel)]
    elif model == "rows":
        # a row swept once per group of channels, then its edge pixels: every output of a row
        # reads from the row's first input byte
        pixel = np.repeat(pixel.reshape(out_h, out_w).min(axis=1), out_w)
    elif model == "groups":
        filter_in_c = tensors[op.inputs[1]].shape[3]
        if filter_in_c <= 0 or in_c % filter_in_c or out_c % (in_c // filter_in_c):
            return None
        per_group = out_c // (in_c // filter_in_c)
        channel = np.arange(out_c, dtype=np.int64) // per_group * filter_in_c
    elif model == "multiplier":
        if in_c <= 0 or out_c % in_c:
            return None
        channel = np.arange(out_c, dtype=np.int64) // (out_c // in_c)
    elif model == "channels":
        if out_c != in_c:
            return None
        channel = np.arange(out_c, dtype=np.int64)
    one = np.minimum(pixel[:, None] + channel[None, :], _NEVER).reshape(-1)
    per_batch = in_h * in_w * in_c
    batch = np.arange(batches, dtype=np.int64)[:, None] * per_batch
    return np.where(one[None, :] >= _NEVER, _NEVER, one[None, :] + batch).reshape(-1).astype(np.int64)


def _first_valid(starts: np.ndarray, kernel: int, dilation: int, size: int) -> np.ndarray:
    """For windows starting at ``starts`` (``kernel`` taps ``dilation`` apart), the first tap
    inside [0, size), or -1 where none is."""
    taps = starts[:, None] + np.arange(kernel)[None, :] * dilation
    valid = (taps >= 0) & (taps < size)
    return np.where(valid.any(axis=1), taps[np.arange(len(starts)), valid.argmax(axis=1)], -1)


def _window_rows_cols(
    subgraph: Subgraph, op: Operator, in_hw: tuple[int, int], out_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """CONV_2D, DEPTHWISE_CONV_2D and pools: each output row's (column's) first input row
    (column) inside the image, -1 where its window lies in the padding."""
    option = op.option
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        k_h, k_w = subgraph.tensors[op.inputs[1]].shape[1:3]
        dil_h, dil_w = option.get("dilation_h", 1), option.get("dilation_w", 1)
        pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    else:
        k_h, k_w, dil_h, dil_w = option["filter_h"], option["filter_w"], 1, 1
        undilated = {**option, "dilation_h": 1, "dilation_w": 1}
        pad_h, pad_w = same_padding(undilated, in_h, in_w, k_h, k_w, out_h, out_w)
    rows = _first_valid(np.arange(out_h) * option["stride_h"] - pad_h, k_h, dil_h, in_h)
    cols = _first_valid(np.arange(out_w) * option["stride_w"] - pad_w, k_w, dil_w, in_w)
    return rows, cols


def _transpose_rows_cols(
    subgraph: Subgraph, op: Operator, in_hw: tuple[int, int], out_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """TRANSPOSE_CONV: for each output row (column) ``o``, the first input row (column) ``i``
    that reaches it (``i * stride - pad + k == o`` for a tap ``0 <= k < kernel``), -1 where none
    does. TFLM pads as the convolution from the output's size back to the input's."""
    option = op.option
    k_h, k_w = subgraph.tensors[op.inputs[1]].shape[1:3]
    stride_h, stride_w = option["stride_h"], option["stride_w"]
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    undilated = {**option, "dilation_h": 1, "dilation_w": 1}
    conv_h, conv_w = -(-out_h // stride_h), -(-out_w // stride_w)
    pad_h, pad_w = same_padding(undilated, out_h, out_w, k_h, k_w, conv_h, conv_w)

    def first(out_size: int, stride: int, pad: int, kernel: int, size: int) -> np.ndarray:
        taps = np.arange(out_size)[:, None] + pad - np.arange(size)[None, :] * stride
        valid = (taps >= 0) & (taps < kernel)
        return np.where(valid.any(axis=1), valid.argmax(axis=1), -1)

    return first(out_h, stride_h, pad_h, k_h, in_h), first(out_w, stride_w, pad_w, k_w, in_w)
