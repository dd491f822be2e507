"""edgeq's immutable description of a .tflite model: what inspection, code generation and
benchmarks read. Built only by ``edgeq.tflite.reader`` from verified bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# TensorType enum of the TFLite schema: name, numpy dtype (None: no fixed-size numpy type), bits.
TENSOR_TYPES: dict[int, tuple[str, str | None, int]] = {
    0: ("float32", "float32", 32),
    1: ("float16", "float16", 16),
    2: ("int32", "int32", 32),
    3: ("uint8", "uint8", 8),
    4: ("int64", "int64", 64),
    5: ("string", None, 0),
    6: ("bool", "bool", 8),
    7: ("int16", "int16", 16),
    8: ("complex64", "complex64", 64),
    9: ("int8", "int8", 8),
    10: ("float64", "float64", 64),
    11: ("complex128", "complex128", 128),
    12: ("uint64", "uint64", 64),
    13: ("resource", None, 0),
    14: ("variant", None, 0),
    15: ("uint32", "uint32", 32),
    16: ("uint16", "uint16", 16),
    17: ("int4", None, 4),
    18: ("bfloat16", None, 16),
    19: ("int2", None, 2),
    20: ("uint4", None, 4),
}


def unpack_int4(data: bytes, count: int) -> np.ndarray:
    """``count`` int4 values packed two per byte (element 2i in the low nibble of byte i, 2i+1 in
    the high one), as int8."""
    packed = np.frombuffer(data, dtype=np.uint8)
    low = (packed & 0x0F).astype(np.int8)
    high = (packed >> 4).astype(np.int8)
    values = np.stack([low, high], axis=1).reshape(-1)[:count]
    return np.where(values > 7, values - 16, values).astype(np.int8)


def pack_int4(values: np.ndarray) -> bytes:
    """int8 values in [-8, 7] packed two per byte as ``unpack_int4`` reads them (a zero nibble pads
    an odd count)."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    if flat.size and (flat.min() < -8 or flat.max() > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    if flat.size % 2:
        flat = np.append(flat, 0)
    nibbles = (flat & 0x0F).astype(np.uint8).reshape(-1, 2)
    return (nibbles[:, 0] | (nibbles[:, 1] << 4)).astype(np.uint8).tobytes()


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: ``real = scale * (q - zero_point)``, per tensor or per channel."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "scales": list(self.scales),
            "zero_points": list(self.zero_points),
            "quantized_dimension": self.quantized_dimension,
            "per_channel": self.per_channel,
        }


@dataclass(frozen=True)
class Tensor:
    """A tensor of a subgraph. ``data`` holds the constant bytes (None for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int
    quantization: Quantization | None
    is_variable: bool
    data: bytes | None = field(default=None, repr=False)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's values (int4 packs two per byte)."""
        bits = next(b for n, _, b in TENSOR_TYPES.values() if n == self.dtype)
        return (self.elements * bits + 7) // 8

    def values(self) -> np.ndarray:
        """The constant values as a numpy array of the tensor's shape; ValueError for activations."""
        if self.data is None:
            raise ValueError(f"tensor {self.name} is not a constant")
        if self.dtype == "int4":  # two per byte, the low nibble first (TFLite's packing), sign-extended
            return unpack_int4(self.data, self.elements).reshape(self.shape)
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype).newbyteorder("<")).reshape(self.shape)


@dataclass(frozen=True)
class Operator:
    """One operator: its op name (``CONV_2D``, or ``CUSTOM:<code>``), version, tensors, options."""

    index: int
    opcode: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: tuple[tuple[str, Any], ...] = ()
    custom_code: str | None = None

    @property
    def option(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def is_custom(self) -> bool:
        return self.custom_code is not None

    @property
    def is_flex(self) -> bool:
        return self.custom_code is not None and self.custom_code.startswith("Flex")


@dataclass(frozen=True)
class Subgraph:
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def producers(self) -> dict[int, int]:
        """Tensor index → index of the operator that writes it."""
        return {t: op.index for op in self.operators for t in op.outputs}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index → indices of the operators that read it, in execution order."""
        readers: dict[int, list[int]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t >= 0:
                    readers.setdefault(t, []).append(op.index)
        return readers


@dataclass(frozen=True)
class ModelGraph:
    """A verified .tflite model. ``subgraphs[0]`` is the one interpreters run."""

    schema_version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    metadata: tuple[tuple[str, int], ...]
    signatures: tuple[str, ...]
    size_bytes: int
    sha256: str
    # (tensor index, name) of subgraph 0's inputs and outputs in the first signature
    io_names: tuple[tuple[int, str], ...] = ()

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def op_names(self) -> tuple[str, ...]:
        """Distinct op names over all subgraphs, sorted."""
        return tuple(sorted({op.opcode for sg in self.subgraphs for op in sg.operators}))
