"""Ops that move elements without arithmetic (kernel group ``movement``), written once over the
element size so one kernel serves int8, int16, float32 and int32 tensors.

Most of them are one *walk*: the output in order, each element read from the input at an offset
that is affine in the output index (TRANSPOSE, STRIDED_SLICE, SLICE, DEPTH_TO_SPACE,
SPACE_TO_DEPTH). SPLIT / SPLIT_V / UNPACK cut each slice before the axis into consecutive blocks,
one per output; PACK joins them. GATHER, RESIZE_NEAREST_NEIGHBOR, SPACE_TO_BATCH_ND and
BATCH_TO_SPACE_ND have small kernels of their own, with every index table computed here as TFLM
computes it.
"""

from __future__ import annotations

import numpy as np

from edgeq.engine.lowering import Builder, Layer, lowering
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Tensor

WALK_DIMS = 6  # dimensions of edgeq_walk (after merging)
ELEMENT_BYTES = {"int8": 1, "int16": 2, "float32": 4, "int32": 4}
TRANSPOSE_MAX_DIMS = 5  # TFLM's transpose Prepare: "only supports 1D-5D input arrays"
STRIDED_SLICE_MAX_DIMS = 4  # TFLM's strided_slice kMaxDim: "input dim should not exceed 4"
SLICE_MAX_DIMS = 5  # TFLM's slice kMaxDim
ALL_KINDS = ("int8", "int16", "float32")
INT_MAX = 2**31 - 1


def where(op: Operator) -> str:
    return f"op {op.index} ({op.opcode})"


def braces(values: list[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def element_bytes(op: Operator, tensor: Tensor) -> int:
    size = ELEMENT_BYTES.get(tensor.dtype)
    if size is None:
        raise UnsupportedError(
            f"{where(op)}: the engine moves int8, int16, float32 and int32 tensors, not {tensor.dtype}"
        )
    return size


def same_type(b: Builder, op: Operator, indices: list[int]) -> int:
    """The element size of tensors ``indices``, which must share one type (TFLM's TYPES_EQ)."""
    tensors = [b.tensor(i) for i in indices]
    if len({t.dtype for t in tensors}) != 1:
        raise UnsupportedError(
            f"{where(op)}: input and output types differ ({', '.join(t.dtype for t in tensors)})"
        )
    return element_bytes(op, tensors[0])


def refuse_types(b: Builder, op: Operator, allowed: tuple[str, ...]) -> None:
    """UnsupportedError naming TFLM's type list when the op's data is not one of ``allowed``."""
    dtype = b.tensor(op.outputs[0]).dtype
    if dtype not in allowed:
        raise UnsupportedError(
            f"{where(op)}: TFLM's {op.opcode} takes {' and '.join(allowed)} only, not {dtype}"
        )


def constant_ints(b: Builder, op: Operator, index: int, what: str) -> list[int]:
    tensor = b.tensor(index)
    if not tensor.is_constant or tensor.dtype not in ("int32", "int64"):
        raise UnsupportedError(f"{where(op)}: TFLM needs a constant int32 {what} tensor")
    return [int(v) for v in np.asarray(tensor.values()).reshape(-1)]


def strides_of(shape: tuple[int, ...] | list[int]) -> list[int]:
    """Row-major element strides of ``shape``."""
    strides, step = [], 1
    for dim in reversed(list(shape)):
        strides.append(step)
        step *= dim
    return strides[::-1]


def walk_fields(op: Operator, shape: list[int], steps: list[int], start: int, size: int) -> list[str | int]:
    """edgeq_walk's parameters: the output ``shape`` read at input offset ``start + sum(i * steps)``,
    with dimensions of size 1 dropped and dimensions that continue each other merged."""
    merged: list[list[int]] = []
    for dim, step in zip(shape, steps, strict=True):
        if dim == 0:
            merged = [[0, 0]]
            break
        if dim == 1:
            continue
        if merged and merged[-1][1] == step * dim:
            merged[-1] = [merged[-1][0] * dim, step]
        else:
            merged.append([dim, step])
    if len(merged) > WALK_DIMS:
        raise UnsupportedError(f"{where(op)}: more than {WALK_DIMS} dimensions to walk")
    merged = [[1, 0]] * (WALK_DIMS - len(merged)) + merged
    return [braces([m[0] for m in merged]), braces([m[1] for m in merged]), start, size]


def walk_layer(b: Builder, op: Operator, fields: list[str | int]) -> Layer:
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_walk_params", fields, "edgeq_walk", operands, "movement")


def check_elements(op: Operator, output: Tensor, count: int) -> None:
    if output.elements != count:
        raise UnsupportedError(
            f"{where(op)}: the output {output.shape} does not hold the {count} elements selected"
        )


@lowering("TRANSPOSE", group="movement", kinds=ALL_KINDS)
def transpose(b: Builder, op: Operator) -> Layer:
    """TFLM's Transpose: output dimension i is input dimension perm[i]."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    rank = len(source.shape)
    if rank > TRANSPOSE_MAX_DIMS:
        raise UnsupportedError(f"{where(op)}: TFLM's TRANSPOSE only supports 1D-5D input arrays")
    perm = constant_ints(b, op, op.inputs[1], "perm")
    if sorted(perm) != list(range(rank)):
        raise UnsupportedError(f"{where(op)}: perm {perm} is not a permutation of {rank} dimensions")
    shape = [source.shape[p] for p in perm]
    if tuple(shape) != tuple(output.shape):
        raise UnsupportedError(f"{where(op)}: perm {perm} of {source.shape} is not the output {output.shape}")
    steps = strides_of(source.shape)
    return walk_layer(b, op, walk_fields(op, shape, [steps[p] for p in perm], 0, size))


def _clamp(value: int, low: int, high: int) -> int:
    return high if value > high else (low if value < low else value)


def strided_slice_bounds(
    shape: list[int], begin: list[int], end: list[int], strides: list[int], begin_mask: int, end_mask: int,
    shrink_mask: int,
) -> list[tuple[int, int]]:  # fmt: skip
    """(start, stop) per axis as TFLM's StridedSlice computes them (StridedSliceStartForAxis /
    StridedSliceEndForAxis; the op's offset flag is never set by TFLM)."""
    bounds = []
    for axis, size in enumerate(shape):
        stride = strides[axis]
        start = begin[axis] + size if begin[axis] < 0 else begin[axis]
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = end[axis] + size if end[axis] < 0 else end[axis]
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        bounds.append((start, stop))
    return bounds


def _steps_taken(start: int, stop: int, stride: int) -> int:
    """How many times ``for (i = start; stride > 0 ? i < stop : i > stop; i += stride)`` runs."""
    if stride > 0:
        return max(0, -(-(stop - start) // stride))
    return max(0, -(-(start - stop) // -stride))


@lowering("STRIDED_SLICE", group="movement", kinds=ALL_KINDS)
def strided_slice(b: Builder, op: Operator) -> Layer:
    """TFLM's StridedSlice: per axis, indices start, start + stride, ... before stop."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    rank = len(source.shape)
    if rank > STRIDED_SLICE_MAX_DIMS:
        raise UnsupportedError(f"{where(op)}: TFLM's STRIDED_SLICE refuses inputs of more than 4 dimensions")
    option = op.option
    if option.get("ellipsis_mask", 0) or option.get("new_axis_mask", 0):
        raise UnsupportedError(
            f"{where(op)}: TFLM ignores ellipsis_mask and new_axis_mask (its output shape would differ)"
        )
    if option.get("offset", False):
        raise UnsupportedError(f"{where(op)}: TFLM ignores the offset option")
    begin = constant_ints(b, op, op.inputs[1], "begin")
    end = constant_ints(b, op, op.inputs[2], "end")
    strides = constant_ints(b, op, op.inputs[3], "strides")
    if not len(begin) == len(end) == len(strides) == rank:
        raise UnsupportedError(f"{where(op)}: begin, end and strides must have {rank} values")
    if 0 in strides:
        raise UnsupportedError(f"{where(op)}: TFLM refuses a stride of 0")
    bounds = strided_slice_bounds(
        list(source.shape), begin, end, strides,
        int(option.get("begin_mask", 0)), int(option.get("end_mask", 0)),
        int(option.get("shrink_axis_mask", 0)),
    )  # fmt: skip
    counts = [_steps_taken(lo, hi, s) for (lo, hi), s in zip(bounds, strides, strict=True)]
    check_elements(op, output, int(np.prod(counts, dtype=np.int64)))
    steps = strides_of(source.shape)
    start = sum(lo * step for (lo, _), step in zip(bounds, steps, strict=True) if lo >= 0)
    fields = walk_fields(op, counts, [s * step for s, step in zip(strides, steps, strict=True)], start, size)
    return walk_layer(b, op, fields)


@lowering("SLICE", group="movement", kinds=ALL_KINDS)
def slice_(b: Builder, op: Operator) -> Layer:
    """TFLM's Slice: ``size`` elements from ``begin`` on each axis (size -1: to the end)."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    rank = len(source.shape)
    if rank > SLICE_MAX_DIMS:
        raise UnsupportedError(f"{where(op)}: TFLM's SLICE takes up to 5 dimensions")
    begin = constant_ints(b, op, op.inputs[1], "begin")
    sizes = constant_ints(b, op, op.inputs[2], "size")
    if len(begin) != rank or len(sizes) != rank:
        raise UnsupportedError(f"{where(op)}: begin and size must have {rank} values")
    counts = [dim - lo if n == -1 else n for dim, lo, n in zip(source.shape, begin, sizes, strict=True)]
    if any(lo < 0 or n < 0 or lo + n > dim for dim, lo, n in zip(source.shape, begin, counts, strict=True)):
        raise UnsupportedError(f"{where(op)}: begin {begin} and size {sizes} leave the input {source.shape}")
    if tuple(counts) != tuple(output.shape):
        raise UnsupportedError(f"{where(op)}: size {sizes} does not give the output {output.shape}")
    steps = strides_of(source.shape)
    start = sum(lo * step for lo, step in zip(begin, steps, strict=True))
    return walk_layer(b, op, walk_fields(op, counts, steps, start, size))


def _block_size(op: Operator, small: int, large: int) -> int:
    block = op.option.get("block_size")
    if block is None:
        block = large // small if small else 0
    if block <= 0 or small * block != large:
        raise UnsupportedError(f"{where(op)}: block size {block} does not fit the shapes")
    return int(block)


@lowering("DEPTH_TO_SPACE", group="movement", kinds=ALL_KINDS)
def depth_to_space(b: Builder, op: Operator) -> Layer:
    """TFLM's DepthToSpace: output (b, h * bs + i, w * bs + j, c) is input (b, h, w, (i * bs + j) *
    depth + c): a walk over the output seen as (b, h, i, w, j, c)."""
    refuse_types(b, op, ("float32", "int8"))
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if len(source.shape) != 4 or len(output.shape) != 4:
        raise UnsupportedError(f"{where(op)}: TFLM's DEPTH_TO_SPACE takes 4D tensors")
    batch, height, width, depth = source.shape
    block = _block_size(op, height, output.shape[1])
    if output.shape != (batch, height * block, width * block, depth // (block * block)) or depth % (
        block * block
    ):
        raise UnsupportedError(
            f"{where(op)}: the output {output.shape} does not fit the input {source.shape}"
        )
    out_depth = depth // (block * block)
    sb, sh, sw, _ = strides_of(source.shape)
    shape = [batch, height, block, width, block, out_depth]
    steps = [sb, sh, block * out_depth, sw, out_depth, 1]
    return walk_layer(b, op, walk_fields(op, shape, steps, 0, size))


@lowering("SPACE_TO_DEPTH", group="movement", kinds=ALL_KINDS)
def space_to_depth(b: Builder, op: Operator) -> Layer:
    """TFLM's SpaceToDepth: the inverse of DEPTH_TO_SPACE, a walk over the output seen as
    (b, h, w, i, j, c) reading input (b, h * bs + i, w * bs + j, c)."""
    refuse_types(b, op, ("float32", "int8"))
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if len(source.shape) != 4 or len(output.shape) != 4:
        raise UnsupportedError(f"{where(op)}: TFLM's SPACE_TO_DEPTH takes 4D tensors")
    batch, height, width, depth = source.shape
    block = _block_size(op, output.shape[1], height)
    if output.shape != (batch, height // block, width // block, depth * block * block) or width % block:
        raise UnsupportedError(
            f"{where(op)}: the output {output.shape} does not fit the input {source.shape}"
        )
    sb, sh, sw, _ = strides_of(source.shape)
    shape = [batch, height // block, width // block, block, block, depth]
    steps = [sb, sh * block, sw * block, sh, sw, 1]
    return walk_layer(b, op, walk_fields(op, shape, steps, 0, size))


def _axis(op: Operator, value: int, rank: int) -> int:
    axis = value + rank if value < 0 else value
    if not 0 <= axis < rank:
        raise UnsupportedError(f"{where(op)}: axis {value} out of range for {rank} dimensions")
    return axis


def _blocks_fields(b: Builder, op: Operator, outer: int, blocks: list[int]) -> list[str | int]:
    return [outer, len(blocks), b.array(f"{b.prefix(op)}_bytes", "int32_t", blocks)]


def _split_layer(b: Builder, op: Operator, data: int, axis: int) -> Layer:
    """Each slice before ``axis`` of tensor ``data`` cut into one block per output, in order."""
    size = same_type(b, op, [data, *op.outputs])
    source = b.tensor(data)
    outer = int(np.prod(source.shape[:axis], dtype=np.int64))
    inner = int(np.prod(source.shape[axis + 1 :], dtype=np.int64))
    blocks = []
    for index in op.outputs:
        shape = b.tensor(index).shape
        extent = b.tensor(index).elements // max(outer * inner, 1) if outer * inner else 0
        if outer * extent * inner != b.tensor(index).elements or (len(shape) == len(source.shape) and (
            shape[:axis] != source.shape[:axis] or shape[axis + 1 :] != source.shape[axis + 1 :]
        )):  # fmt: skip
            raise UnsupportedError(
                f"{where(op)}: output {shape} does not fit the input {source.shape} on axis {axis}"
            )
        blocks.append(extent * inner * size)
    if sum(blocks) != source.shape[axis] * inner * size:
        raise UnsupportedError(f"{where(op)}: the outputs do not add up to the input {source.shape}")
    pointers = "(void *const[]){" + ", ".join(b.operand(i, const=False) for i in op.outputs) + "}"
    operands = [b.operand(data), pointers]
    return b.layer(
        op, "edgeq_blocks_params", _blocks_fields(b, op, outer, blocks), "edgeq_split", operands, "movement"
    )


@lowering("SPLIT", group="movement", kinds=ALL_KINDS)
def split(b: Builder, op: Operator) -> Layer:
    """TFLM's Split (inputs: axis, data): equal blocks along the axis."""
    source = b.tensor(op.inputs[1])
    axis = _axis(op, constant_ints(b, op, op.inputs[0], "axis")[0], len(source.shape))
    if source.shape[axis] % len(op.outputs):
        raise UnsupportedError(
            f"{where(op)}: {len(op.outputs)} outputs do not split {source.shape[axis]} evenly"
        )
    return _split_layer(b, op, op.inputs[1], axis)


@lowering("SPLIT_V", group="movement", kinds=ALL_KINDS)
def split_v(b: Builder, op: Operator) -> Layer:
    """TFLM's SplitV (inputs: data, size_splits, axis): blocks of the outputs' sizes."""
    source = b.tensor(op.inputs[0])
    axis = _axis(op, constant_ints(b, op, op.inputs[2], "axis")[0], len(source.shape))
    return _split_layer(b, op, op.inputs[0], axis)


@lowering("UNPACK", group="movement", kinds=ALL_KINDS)
def unpack(b: Builder, op: Operator) -> Layer:
    """TFLM's Unpack: output i is the slice at index i of the axis."""
    source = b.tensor(op.inputs[0])
    rank = len(source.shape)
    if "axis" in op.option:
        axis = _axis(op, int(op.option["axis"]), rank)
    else:  # the reader gave no UnpackOptions: the axis only when the shapes tell it
        shape = b.tensor(op.outputs[0]).shape
        fits = [a for a in range(rank) if source.shape[:a] + source.shape[a + 1 :] == shape]
        if len(fits) != 1:
            raise UnsupportedError(
                f"{where(op)}: the model reader gives no UNPACK axis and the shapes do not tell it"
            )
        axis = fits[0]
    if source.shape[axis] != len(op.outputs):
        raise UnsupportedError(
            f"{where(op)}: {len(op.outputs)} outputs for a dimension of {source.shape[axis]}"
        )
    return _split_layer(b, op, op.inputs[0], axis)


@lowering("PACK", group="movement", kinds=ALL_KINDS)
def pack(b: Builder, op: Operator) -> Layer:
    """TFLM's Pack: the inputs stacked along a new axis, i.e. for each slice before the axis, each
    input's next block in turn."""
    size = same_type(b, op, [*op.inputs, op.outputs[0]])
    output = b.tensor(op.outputs[0])
    shape = b.tensor(op.inputs[0]).shape
    rank = len(output.shape)
    if "axis" in op.option:
        axis = _axis(op, int(op.option["axis"]), rank)
    else:
        fits = [a for a in range(rank) if output.shape[:a] + output.shape[a + 1 :] == shape]
        if len(fits) != 1:
            raise UnsupportedError(
                f"{where(op)}: the model reader gives no PACK axis and the shapes do not tell it"
            )
        axis = fits[0]
    rest = output.shape[:axis] + output.shape[axis + 1 :]
    if any(b.tensor(i).shape != shape for i in op.inputs) or rest != shape \
            or output.shape[axis] != len(op.inputs):  # fmt: skip
        raise UnsupportedError(f"{where(op)}: inputs {shape} do not stack into {output.shape} on axis {axis}")
    outer = int(np.prod(output.shape[:axis], dtype=np.int64))
    inner = int(np.prod(output.shape[axis + 1 :], dtype=np.int64))
    pointers = "(const void *const[]){" + ", ".join(b.operand(i) for i in op.inputs) + "}"
    fields = _blocks_fields(b, op, outer, [inner * size] * len(op.inputs))
    operands = [pointers, b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_blocks_params", fields, "edgeq_join", operands, "movement")


@lowering("GATHER", group="movement", kinds=ALL_KINDS)
def gather(b: Builder, op: Operator) -> Layer:
    """TFLM's Gather: for each batch and outer slice, the input's block at each index. TFLM does not
    check the indices (it reads outside the table); the engine writes zeros for an index outside
    [0, axis size)."""
    refuse_types(b, op, ("float32", "int8"))
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    table, coords, output = b.tensor(op.inputs[0]), b.tensor(op.inputs[1]), b.tensor(op.outputs[0])
    if coords.dtype != "int32":
        raise UnsupportedError(f"{where(op)}: TFLM's GATHER takes int32 positions only, not {coords.dtype}")
    rank, coords_rank = len(table.shape), len(coords.shape)
    if "axis" not in op.option:
        raise UnsupportedError(f"{where(op)}: the model reader gives no GatherOptions (axis, batch_dims)")
    axis = int(op.option["axis"])
    batch_dims = int(op.option.get("batch_dims", 0))
    axis = axis + rank if axis < 0 else axis
    batch_dims = batch_dims + coords_rank if batch_dims < 0 else batch_dims
    if not 0 <= axis < rank or not 0 <= batch_dims <= axis or batch_dims >= rank or batch_dims > coords_rank:
        raise UnsupportedError(f"{where(op)}: TFLM refuses axis {axis} with batch_dims {batch_dims} here")
    if table.shape[:batch_dims] != coords.shape[:batch_dims]:
        raise UnsupportedError(f"{where(op)}: the batch dimensions of table and positions differ")
    expected = table.shape[:axis] + coords.shape[batch_dims:] + table.shape[axis + 1 :]
    if tuple(output.shape) != tuple(expected):
        raise UnsupportedError(f"{where(op)}: the output {output.shape} is not {expected}")
    batch = int(np.prod(table.shape[:batch_dims], dtype=np.int64))
    outer = int(np.prod(table.shape[batch_dims:axis], dtype=np.int64))
    count = int(np.prod(coords.shape[batch_dims:], dtype=np.int64))
    inner = int(np.prod(table.shape[axis + 1 :], dtype=np.int64))
    fields = [batch, outer, count, table.shape[axis], inner * size]
    operands = [b.operand(op.inputs[0]), b.operand(op.inputs[1]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_gather_params", fields, "edgeq_gather", operands, "movement")


def nearest_neighbor(value: int, in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> int:
    """TFLM's GetNearestNeighbor, in float32 as it computes it."""
    f32 = np.float32
    if align_corners and out_size > 1:
        ratio = f32(in_size - 1) / f32(out_size - 1)
    else:
        ratio = f32(in_size) / f32(out_size)
    position = (f32(value) + f32(0.5 if half_pixel else 0.0)) * ratio
    if align_corners:  # TfLiteRound: halves away from zero
        chosen = int(np.sign(position) * np.floor(np.abs(position) + f32(0.5)))
    else:
        chosen = int(np.floor(position))
    chosen = min(chosen, in_size - 1)
    return max(0, chosen) if half_pixel else chosen


@lowering("RESIZE_NEAREST_NEIGHBOR", group="movement", kinds=ALL_KINDS)
def resize_nearest_neighbor(b: Builder, op: Operator) -> Layer:
    """TFLM's ResizeNearestNeighbor: each output pixel copies the depth values of its nearest input
    pixel; the rows and columns chosen are tables computed here."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if len(source.shape) != 4:
        raise UnsupportedError(f"{where(op)}: TFLM's RESIZE_NEAREST_NEIGHBOR takes 4D inputs")
    out_h, out_w = constant_ints(b, op, op.inputs[1], "size")[:2]
    batch, in_h, in_w, depth = source.shape
    if output.shape != (batch, out_h, out_w, depth):
        raise UnsupportedError(
            f"{where(op)}: the output {output.shape} is not ({batch}, {out_h}, {out_w}, {depth})"
        )
    if "half_pixel_centers" not in op.option:
        raise UnsupportedError(f"{where(op)}: the model reader gives no ResizeNearestNeighborOptions")
    align, half = bool(op.option["align_corners"]), bool(op.option["half_pixel_centers"])
    rows = [nearest_neighbor(y, in_h, out_h, align, half) * in_w * depth * size for y in range(out_h)]
    columns = [nearest_neighbor(x, in_w, out_w, align, half) * depth * size for x in range(out_w)]
    prefix = b.prefix(op)
    fields = [batch, out_h, out_w, in_h * in_w * depth * size, depth * size,
              b.array(f"{prefix}_rows", "int32_t", rows),
              b.array(f"{prefix}_columns", "int32_t", columns)]  # fmt: skip
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_resize_nearest_params", fields, "edgeq_resize_nearest", operands, "movement")


def _space_batch_shapes(
    b: Builder, op: Operator
) -> tuple[tuple[int, ...], tuple[int, ...], list[int], list[int]]:
    """Input and output shapes as 4D (a 3D NHC one as NH1C, as TFLM extends it), the block shape
    and the paddings / crops (top, left)."""
    refuse_types(b, op, ("float32", "int8"))
    source, output = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    rank = len(source.shape)
    if not 3 <= rank <= 4 or len(output.shape) != rank:
        raise UnsupportedError(f"{where(op)}: TFLM's {op.opcode} takes 3D or 4D tensors")
    block = constant_ints(b, op, op.inputs[1], "block shape")
    pads = constant_ints(b, op, op.inputs[2], "paddings" if op.opcode == "SPACE_TO_BATCH_ND" else "crops")
    if len(block) != rank - 2 or len(pads) != 2 * (rank - 2) or any(v <= 0 for v in block):
        raise UnsupportedError(
            f"{where(op)}: block shape {block} and paddings {pads} do not fit {rank} dimensions"
        )

    def four(shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape if rank == 4 else (shape[0], shape[1], 1, shape[2])

    block_hw = [block[0], block[1] if rank == 4 else 1]
    first = [pads[0], pads[2] if rank == 4 else 0]
    return four(source.shape), four(output.shape), block_hw, first


@lowering("SPACE_TO_BATCH_ND", group="movement", kinds=ALL_KINDS)
def space_to_batch_nd(b: Builder, op: Operator) -> Layer:
    """TFLM's SpaceToBatchND: output batch (sh * bw + sw) * batches + n holds the input pixels at
    (h * bh + sh - top, w * bw + sw - left); outside the input TFLM memsets each byte to its
    params' output_offset, which its Prepare never sets: 0 in the arena TFLM hands out."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    (in_b, in_h, in_w, depth), (out_b, out_h, out_w, out_d), block, first = _space_batch_shapes(b, op)
    if out_d != depth or out_b != in_b * block[0] * block[1]:
        raise UnsupportedError(f"{where(op)}: the output does not fit the input and block shape")
    pad = 0  # TFLM: an unset output_offset (see the docstring)
    fields = [
        in_b,
        in_h,
        in_w,
        out_b,
        out_h,
        out_w,
        block[0],
        block[1],
        first[0],
        first[1],
        depth * size,
        pad,
    ]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_space_batch_params", fields, "edgeq_space_to_batch", operands, "movement")


@lowering("BATCH_TO_SPACE_ND", group="movement", kinds=ALL_KINDS)
def batch_to_space_nd(b: Builder, op: Operator) -> Layer:
    """TFLM's BatchToSpaceND: input batch n's pixel (h, w) goes to output batch n % batches at
    (h * bh + s / bw - top, w * bw + s % bw - left), s = n / batches, when inside the output."""
    size = same_type(b, op, [op.inputs[0], op.outputs[0]])
    (in_b, in_h, in_w, depth), (out_b, out_h, out_w, out_d), block, first = _space_batch_shapes(b, op)
    if out_d != depth or in_b != out_b * block[0] * block[1]:
        raise UnsupportedError(f"{where(op)}: the output does not fit the input and block shape")
    fields = [in_b, in_h, in_w, out_b, out_h, out_w, block[0], block[1], first[0], first[1], depth * size, 0]
    operands = [b.operand(op.inputs[0]), b.operand(op.outputs[0], const=False)]
    return b.layer(op, "edgeq_space_batch_params", fields, "edgeq_batch_to_space", operands, "movement")
