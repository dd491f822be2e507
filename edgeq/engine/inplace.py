"""How far an engine kernel's output may overlap an input that dies at that op.

edgeq's kernels write their output in order (element 0 first) and, before writing output element
``e``, have read everything element ``e`` needs. If the output starts ``delta`` bytes below the
input, writing output byte ``b`` overwrites input byte ``b - delta``; that is harmless once no
later output element reads that input byte. For each kernel this module computes, from the op's
geometry, the first input byte each output element reads, and from it the smallest safe ``delta``:
a 3x3 stride-1 convolution needs about two input rows, an element-wise op none at all.

Convolutions work on pairs of output pixels (``edgeq_conv_s8``), so both pixels of a pair count
as reading from the pair's first input byte; a depthwise convolution's outputs of one row all
count as reading from the row's first input byte (its DSP kernel sweeps each row once per group
of channels).

Only kernels whose loop order is known here take part; every other op gets ``None`` (no overlap).
The randomized and zoo tests run every such overlapped plan against TFLite Micro.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.params import same_padding
from edgeq.tflite.graph import Operator, Subgraph

# kernels that read input element i before writing output element i, in order, and read nothing
# before i afterwards (SOFTMAX reads each row whole before writing it, then element by element)
ELEMENTWISE = frozenset(
    {"ADD", "MUL", "SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "RELU", "RELU6", "LEAKY_RELU"}
)


def overlap_delta(subgraph: Subgraph, op: Operator, source: int, output: int) -> int | None:
    """Bytes the output must start below ``source`` so that no byte is overwritten before its
    last read; None when the kernel must not overlap this input."""
    first_read = _first_reads(subgraph, op, source)
    if first_read is None:
        return None
    out_tensor, in_tensor = subgraph.tensors[output], subgraph.tensors[source]
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


def _first_reads(subgraph: Subgraph, op: Operator, source: int) -> np.ndarray | None:
    """For each output element in write order, the index of the first input element it reads
    (a large number when it reads none)."""
    tensors = subgraph.tensors
    output = tensors[op.outputs[0]]
    never = np.iinfo(np.int64).max // 4
    if op.opcode in ELEMENTWISE:
        if tensors[source].shape != output.shape:
            return None
        return np.arange(output.elements, dtype=np.int64)
    if op.opcode == "FULLY_CONNECTED":
        if source != op.inputs[0]:
            return None
        depth = tensors[op.inputs[1]].shape[1]
        rows, units = output.elements // output.shape[-1], output.shape[-1]
        return np.repeat(np.arange(rows, dtype=np.int64) * depth, units)
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return None
    if source != op.inputs[0]:
        return None
    option = op.option
    _, in_h, in_w, in_c = tensors[source].shape
    _, out_h, out_w, out_c = output.shape
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        k_h, k_w = tensors[op.inputs[1]].shape[1:3]
        dil_h, dil_w = option.get("dilation_h", 1), option.get("dilation_w", 1)
        pad_h, pad_w = same_padding(option, in_h, in_w, k_h, k_w, out_h, out_w)
    else:
        k_h, k_w, dil_h, dil_w = option["filter_h"], option["filter_w"], 1, 1
        undilated = {**option, "dilation_h": 1, "dilation_w": 1}
        pad_h, pad_w = same_padding(undilated, in_h, in_w, k_h, k_w, out_h, out_w)

    def first_valid(
        out_size: int, stride: int, pad: int, kernel: int, dilation: int, size: int
    ) -> np.ndarray:
        starts = np.arange(out_size) * stride - pad
        taps = starts[:, None] + np.arange(kernel)[None, :] * dilation
        valid = (taps >= 0) & (taps < size)
        return np.where(valid.any(axis=1), taps[np.arange(out_size), valid.argmax(axis=1)], -1)

    rows = first_valid(out_h, option["stride_h"], pad_h, k_h, dil_h, in_h)
    cols = first_valid(out_w, option["stride_w"], pad_w, k_w, dil_w, in_w)
    pixel = (rows[:, None] * in_w + cols[None, :]) * in_c
    pixel = np.where((rows[:, None] < 0) | (cols[None, :] < 0), never, pixel).reshape(-1, 1)
    if op.opcode == "CONV_2D":
        # the kernels compute two pixels per pass and write both while still reading both:
        # each pixel of a pair reads from the pair's first input byte
        flat = pixel.reshape(-1)
        paired = np.minimum(flat[0::2], np.append(flat[1::2], never)[: len(flat[0::2])])
        pixel = np.repeat(paired, 2)[: len(flat)].reshape(-1, 1)
        channel = np.zeros(out_c, dtype=np.int64)
    elif op.opcode == "DEPTHWISE_CONV_2D":
        # the DSP kernels sweep a row once per group of channels, then its edge pixels: every
        # output of a row counts as reading from the row's first input byte
        pixel = np.repeat(pixel.reshape(out_h, out_w).min(axis=1), out_w).reshape(-1, 1)
        channel = np.zeros(out_c, dtype=np.int64)
    else:
        channel = np.arange(out_c, dtype=np.int64)
    return np.minimum(pixel + channel[None, :], never).reshape(-1).astype(np.int64)
