"""The error int8 quantization adds at each op, as data, and its ranking (``edgeq.conversion.sensitivity``
measures it with TensorFlow's QuantizationDebugger)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Ops that move int8 values without arithmetic: their "error" is zero by construction.
# (Not CONCATENATION: int8 gives all its inputs and its output one scale, which the converter
# imposes on the ops feeding it, so keeping it in float can matter although its own error is 0.)
EXACT_OPS = frozenset({"RESHAPE", "MAX_POOL_2D", "SQUEEZE", "PAD", "TRANSPOSE", "STRIDED_SLICE", "GATHER"})


@dataclass(frozen=True)
class LayerError:
    """The error one quantized op introduces, from the QuantizationDebugger.

    ``normalized`` is the RMS error in units of the op's output quantization step. ``keras_layer``
    owns the op's weights (or, for a weightless op, produced it); ``fused_layers`` were folded into
    the op (a batch norm and an activation after a convolution).
    """

    op_index: int
    op: str
    tensor: str
    keras_layer: str | None
    scale: float
    zero_point: int
    elements: int
    rmse: float
    max_abs_error: float
    mean_error: float
    fused_layers: tuple[str, ...] = ()

    @property
    def normalized(self) -> float:
        return self.rmse / self.scale if self.scale > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_index": self.op_index,
            "op": self.op,
            "keras_layer": self.keras_layer,
            "fused_layers": list(self.fused_layers),
            "tensor": self.tensor,
            "normalized_rmse": round(self.normalized, 6),
            "rmse": self.rmse,
            "max_abs_error": self.max_abs_error,
            "mean_error": self.mean_error,
            "scale": self.scale,
            "zero_point": self.zero_point,
            "elements": self.elements,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerError:
        """Read ``to_dict``'s output (``normalized_rmse`` and a ``rank`` are derived, so not read);
        the tensor name and the statistics the report does not show may be absent."""
        return cls(
            op_index=int(data["op_index"]),
            op=str(data["op"]),
            tensor=str(data.get("tensor", "")),
            keras_layer=data.get("keras_layer"),
            scale=float(data["scale"]),
            zero_point=int(data.get("zero_point", 0)),
            elements=int(data.get("elements", 0)),
            rmse=float(data["rmse"]),
            max_abs_error=float(data["max_abs_error"]),
            mean_error=float(data.get("mean_error", 0.0)),
            fused_layers=tuple(data.get("fused_layers") or ()),
        )


def ranked(errors: Sequence[LayerError]) -> list[LayerError]:
    """Ops that do arithmetic, most harmful first (ties keep model order)."""
    return sorted((e for e in errors if e.op not in EXACT_OPS), key=lambda e: (-e.normalized, e.op_index))
