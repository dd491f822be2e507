"""From one TFLite operator to one line of the generated ``invoke()``: the registry of lowerings.

A lowering (``@lowering("OPCODE", group="name")``) receives a :class:`Builder` and the operator,
checks what the engine supports (raising ``UnsupportedError`` with the reason otherwise), computes
every constant the kernel needs, and returns a :class:`Layer`: a const parameter struct and the
kernel call. Kernels live in ``firmware_templates/engine/kernels/<group>.c.j2`` (declarations in
``<group>.h.j2``); a model's ``edgeq_kernels.c`` contains the groups its ops use.

Ops whose output is their input's bytes under another shape (RESHAPE, SQUEEZE, EXPAND_DIMS) are
registered with :func:`alias` (in ``ops/core.py`` and ``ops/data.py``): they share their input's
memory and generate no code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeq.cnames import c_floats, c_ints
from edgeq.engine.params import requantize_params
from edgeq.engine.paths import PATHS, KernelPath
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import Operator, Subgraph, Tensor
from edgeq.tflite.tflm_ops import TFLM_RESOLVER_METHODS

# bool: one byte per element, 0 or 1, as TFLite stores it (comparisons write it, SELECT_V2 reads it)
C_TYPES = {
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "float32": "float",
    "uint8": "uint8_t",
    "bool": "uint8_t",
}


@dataclass(frozen=True)
class Layer:
    """One step of ``invoke()``: ``call(&params, operands...)`` with ``params`` a const struct."""

    struct: str
    params_name: str
    fields: tuple[Any, ...]
    call: str
    operands: tuple[str, ...]
    opcode: str
    index: int
    summary: str
    group: str

    @property
    def statement(self) -> str:
        return f"{self.call}(&{self.params_name}, {', '.join(self.operands)});"

    @property
    def initializer(self) -> str:
        return "  " + ", ".join(str(value) for value in self.fields)


@dataclass
class Builder:
    """What a lowering may use: the subgraph, the memory plan, and the model's const arrays."""

    subgraph: Subgraph
    name: str
    offsets: Callable[[int], int]
    path: KernelPath = PATHS["portable"]
    scratch: Callable[[int], int] = lambda op: 0  # offset of an op's scratch buffer in the arena
    arrays: list[dict[str, Any]] = field(default_factory=list)
    constants: dict[int, str] = field(default_factory=dict)

    def tensor(self, index: int) -> Tensor:
        return self.subgraph.tensors[index]

    def prefix(self, op: Operator) -> str:
        return f"{self.name}_op{op.index}"

    def array(self, name: str, ctype: str, values: list[int] | list[float] | np.ndarray) -> str:
        """A ``static const`` array in flash (float32 values exactly, for ``float``); returns its
        C name."""
        if ctype == "float":
            floats = [float(v) for v in np.asarray(values, dtype=np.float32).reshape(-1)]
            body = c_floats(floats or [0.0])
            self.arrays.append({"name": name, "ctype": ctype, "count": max(len(floats), 1), "body": body})
            return name
        flat = [int(v) for v in np.asarray(values).reshape(-1)]
        body = c_ints(flat or [0])
        self.arrays.append({"name": name, "ctype": ctype, "count": max(len(flat), 1), "body": body})
        return name

    def operand(self, index: int, const: bool = True) -> str:
        """A C pointer expression for tensor ``index``: its place in the arena, or, for a constant
        tensor, a const array holding its values (emitted once)."""
        tensor = self.tensor(index)
        ctype = C_TYPES.get(tensor.dtype)
        if ctype is None:
            raise UnsupportedError(f"tensor {tensor.name}: the engine has no {tensor.dtype} support here")
        if tensor.is_constant:
            if index not in self.constants:
                self.constants[index] = self.array(f"{self.name}_tensor{index}", ctype, tensor.values())
            return self.constants[index]
        place = f"arena + {self.offsets(index)}"
        if ctype == "int8_t":
            return place
        qualifier = "const " if const else ""
        return f"({qualifier}{ctype} *)(void *)({place})"

    def layer(
        self, op: Operator, struct: str, fields: list[Any], call: str, operands: list[str], group: str
    ) -> Layer:
        return Layer(
            struct=struct,
            params_name=f"{self.prefix(op)}_params",
            fields=tuple(fields),
            call=call,
            operands=tuple(operands),
            opcode=op.opcode,
            index=op.index,
            summary=", ".join(f"{k}={v}" for k, v in op.options),
            group=group,
        )


Lowering = Callable[[Builder, Operator], Layer]
# bytes of working memory an op's kernel needs on a kernel path (0: none)
ScratchSize = Callable[[Subgraph, Operator, KernelPath], int]
# The tensor types an op's kernels are written for: the *kind* of an op (see ``op_kind``).
KINDS = ("int8", "int16", "float32")
# opcode → kind → (kernel group, lowering)
LOWERINGS: dict[str, dict[str, tuple[str, Lowering]]] = {}
SCRATCH: dict[tuple[str, str], ScratchSize] = {}
ALIASES: set[str] = set()


def lowering(
    opcode: str, group: str, scratch: ScratchSize | None = None, kinds: tuple[str, ...] = ("int8",)
) -> Callable[[Lowering], Lowering]:
    """Register ``function`` as the lowering of ``opcode`` for ops of each of ``kinds`` (see
    ``op_kind``), with kernels in ``group``; ``scratch`` says how many bytes of working memory its
    kernel needs (planned into the engine's buffer). One lowering per (opcode, kind)."""

    def register(function: Lowering) -> Lowering:
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind}")
            if kind in LOWERINGS.get(opcode, {}):
                raise ValueError(f"{opcode} has two lowerings for {kind}")
            LOWERINGS.setdefault(opcode, {})[kind] = (group, function)
            if scratch is not None:
                SCRATCH[(opcode, kind)] = scratch
        return function

    return register


def op_kind(subgraph: Subgraph, op: Operator) -> str:
    """The type an op computes in: that of its first non-constant input of a kernel type (int8,
    int16, float32), else its first output's. So an int16x8 CONV_2D is ``int16``, QUANTIZE of a
    float input ``float32``, DEQUANTIZE of an int8 one ``int8``, a GATHER of a constant table by
    int32 indices the table's type, ARG_MAX its input's."""
    for index in op.inputs:
        if index >= 0:
            tensor = subgraph.tensors[index]
            if not tensor.is_constant and tensor.dtype in KINDS:
                return tensor.dtype
    for index in op.outputs:
        if index >= 0 and subgraph.tensors[index].dtype in KINDS:
            return subgraph.tensors[index].dtype
    first = next((i for i in (*op.inputs, *op.outputs) if i >= 0), None)
    return subgraph.tensors[first].dtype if first is not None else "int8"


# What TensorFlow Lite Micro cannot run either, by (opcode, kind): its Prepare refuses the type,
# or its Eval fails on it (read from tflite-micro's kernels: exp.cc, elementwise.cc, and the
# Eval switches of space_to_batch_nd.cc, reduce.cc, resize_bilinear.cc). The engine refuses these
# with TFLM's reason, not as a kernel edgeq lacks.
_FLOAT_ONLY = ("EXP", "LOG", "SQRT", "SQUARE", "SIN", "COS")
TFLM_REFUSES: dict[tuple[str, str], str] = {
    **{(op, kind): f"TFLM's {op} takes float32 tensors only"
       for op in _FLOAT_ONLY for kind in ("int8", "int16")},
    ("RSQRT", "int16"): "TFLM's RSQRT takes float32 and int8 tensors only",
    ("DIV", "int16"): "TFLM's DIV takes float32, int32 and int8 tensors only",
    # comparisons.cc: GREATER takes int16, but its Prepare sets the rescaling for int8 only
    ("GREATER", "int16"): "TFLM's int16 GREATER rescales with parameters its Prepare leaves unset",
    **{(op, "int16"): f"TFLM's {op} takes float32, int32, int64 and int8 tensors only"
       for op in ("GREATER_EQUAL", "LESS", "LESS_EQUAL")},
    **{(op, "int16"): f"TFLM's {op} takes bool, float32, int32, int64 and int8 tensors only"
       for op in ("EQUAL", "NOT_EQUAL")},
    **{(op, "int16"): f"TFLM's {op} fails on int16 tensors (its Eval takes float32 and int8)"
       for op in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "REDUCE_MAX", "RESIZE_BILINEAR")},
}  # fmt: skip


def tflm_refusal(subgraph: Subgraph, op: Operator) -> str | None:
    """Why TensorFlow Lite Micro itself cannot run ``op`` (None: as far as edgeq knows, it can):
    a type its kernel refuses, or an op this TFLM registers no kernel for."""
    if op.opcode not in TFLM_RESOLVER_METHODS:
        return f"TFLM has no {op.opcode} kernel"
    return TFLM_REFUSES.get((op.opcode, op_kind(subgraph, op)))


def find_lowering(subgraph: Subgraph, op: Operator) -> tuple[str, Lowering] | None:
    """The (group, lowering) for ``op``'s opcode and kind, or None."""
    return LOWERINGS.get(op.opcode, {}).get(op_kind(subgraph, op))


def scratch_bytes(subgraph: Subgraph, op: Operator, path: KernelPath) -> int:
    """Working memory of ``op``'s kernel on ``path`` (0 for ops that need none)."""
    size = SCRATCH.get((op.opcode, op_kind(subgraph, op)))
    return size(subgraph, op, path) if size else 0


def interleave(matrix: np.ndarray, block: int, chunk: int) -> np.ndarray:
    """The rows of ``matrix`` in the order the fast kernels read them: groups of ``block`` rows,
    each group as ``chunk`` bytes of row 0, ``chunk`` of row 1, ... then the next ``chunk``
    columns, and the columns left over (fewer than ``chunk``) row after row; rows left over
    (fewer than ``block``) follow whole."""
    rows, depth = matrix.shape
    whole, full = rows - rows % block, depth - depth % chunk
    parts = []
    for first in range(0, whole, block):
        group = matrix[first : first + block]
        body = group[:, :full].reshape(block, full // chunk, chunk).transpose(1, 0, 2).reshape(-1)
        parts += [body, group[:, full:].reshape(-1)]
    parts.append(matrix[whole:].reshape(-1))
    return np.concatenate(parts) if parts else matrix.reshape(-1)


def requantization_fields(
    b: Builder, op: Operator, channels: int, shift_type: str = "int32_t"
) -> tuple[list[object], bool]:
    """Output offset, clamp range, multipliers and shifts (stored as ``shift_type``; repeated per
    channel when ``channels``) of a conv / depthwise / fully-connected op, and whether they are
    per channel."""
    prefix = b.prefix(op)
    params = requantize_params(b.subgraph, op)
    per_channel = len(params.multipliers) > 1
    copies = 1 if per_channel else channels
    if shift_type == "int8_t" and not all(-128 <= shift <= 127 for shift in params.shifts):
        raise UnsupportedError(f"op {op.index} ({op.opcode}) has a requantization shift beyond int8")
    return [
        params.output_zero_point,
        params.activation_min,
        params.activation_max,
        b.array(f"{prefix}_multipliers", "int32_t", list(params.multipliers) * copies),
        b.array(f"{prefix}_shifts", shift_type, list(params.shifts) * copies),
    ], per_channel


def wrap_int32(values: np.ndarray) -> np.ndarray:
    """Values as two's-complement int32 (what int32 arithmetic in C gives)."""
    return ((np.asarray(values, dtype=np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def alias(*opcodes: str) -> None:
    """Ops the engine implements as a new name for their input's bytes."""
    ALIASES.update(opcodes)


def require_dtype(subgraph: Subgraph, op: Operator, indices: list[int], *dtypes: str) -> None:
    """UnsupportedError unless each of the tensors has one of ``dtypes`` and quantization."""
    for index in indices:
        tensor = subgraph.tensors[index]
        quantized = tensor.dtype == "float32" or tensor.quantization is not None
        if tensor.dtype not in dtypes or not quantized:
            raise UnsupportedError(
                f"op {op.index} ({op.opcode}) has a {tensor.dtype} tensor {tensor.name}: "
                "the engine runs full-integer models (edgeq convert --mode int8)"
            )


def scale(tensor: Tensor) -> float:
    """The tensor's (first) scale as the float32 TFLite stores, widened to a double as TFLM does."""
    return float(np.float32(tensor.quantization.scales[0]))


def zero_point(tensor: Tensor) -> int:
    return int(tensor.quantization.zero_points[0])
