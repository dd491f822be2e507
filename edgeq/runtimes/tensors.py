"""A model's input and output tensors as an interpreter sees them, and float <-> integer conversion
with their scale and zero point (what application code on a device does)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """A .tflite input or output as LiteRT sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorInfo:
        return cls(**{**data, "shape": tuple(data["shape"])})


def output_order_key(name: str) -> tuple[int, str]:
    """Sort key putting signature outputs ``output_0, output_1, ..., output_10`` in model order."""
    suffix = name.rsplit("_", 1)[-1]
    return (int(suffix), name) if suffix.isdigit() else (sys.maxsize, name)


def tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(detail["name"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Float → the tensor's type: ``round(x / scale) + zero_point``, rounding half away from zero."""
    dtype = np.dtype(info.dtype)
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    if info.scale == 0:
        return x.astype(dtype)
    scaled = x.astype(np.float32) / np.float32(info.scale)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    limits = np.iinfo(dtype)
    return np.clip(rounded + info.zero_point, limits.min, limits.max).astype(dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    """The tensor's values as float32: ``(q - zero_point) * scale`` for integer tensors."""
    if np.issubdtype(q.dtype, np.integer) and info.scale != 0:
        return ((q.astype(np.float32) - np.float32(info.zero_point)) * np.float32(info.scale)).astype(
            np.float32
        )
    return q.astype(np.float32)
