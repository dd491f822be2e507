"""What ``--max-drop`` tried and chose, as data (``edgeq.conversion.mixed`` and
``edgeq.conversion.accuracy`` search)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeq.results.layers import LayerError

if TYPE_CHECKING:
    from edgeq.runtimes.runners import TFLMCheck


@dataclass(frozen=True)
class Trial:
    """One candidate: the ops kept in float, its metric and file size."""

    float_ops: tuple[int, ...]
    metric: float
    size_bytes: int
    meets: bool
    io: str = "int8"

    def to_dict(self) -> dict[str, Any]:
        return {
            "io": self.io,
            "float_op_indices": list(self.float_ops),
            "metric": round(self.metric, 6),
            "size_bytes": self.size_bytes,
            "meets_budget": self.meets,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        return cls(
            float_ops=tuple(data["float_op_indices"]),
            metric=float(data["metric"]),
            size_bytes=int(data["size_bytes"]),
            meets=bool(data["meets_budget"]),
            io=str(data.get("io", "int8")),
        )


@dataclass(frozen=True)
class MixedPrecision:
    """The outcome of ``--max-drop``: which ops left int8, what that cost, whether TFLM runs it.

    ``metric`` names what ``budget`` bounds (top-1 drop in points, or relative L2 error);
    ``outcome`` is ``int8`` (full int8 meets it), ``mixed`` or ``unreachable``; ``io`` is the
    chosen model's input/output type (float32 when int8 input/output could not meet the budget).
    """

    budget: float
    metric: str
    outcome: str
    int8_value: float
    value: float | None
    float_layers: tuple[LayerError, ...]
    float_kernels: tuple[str, ...]
    mode_key: str | None
    int8_size_bytes: int
    size_bytes: int | None
    trials: tuple[Trial, ...]
    tflm: TFLMCheck | None
    message: str
    io: str = "int8"

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "io": self.io,
            "metric": self.metric,
            "outcome": self.outcome,
            "int8_value": round(self.int8_value, 6),
            "value": round(self.value, 6) if self.value is not None else None,
            "float_layers": [layer.to_dict() for layer in self.float_layers],
            "float_kernels": list(self.float_kernels),
            "mode": self.mode_key,
            "int8_size_bytes": self.int8_size_bytes,
            "size_bytes": self.size_bytes,
            "conversions_tried": len(self.trials),
            "trials": [trial.to_dict() for trial in self.trials],
            "tflm": self.tflm.to_dict() if self.tflm else None,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MixedPrecision:
        """Read ``to_dict``'s output (``conversions_tried`` is the number of trials)."""
        from edgeq.runtimes.runners import TFLMCheck  # numpy and the child-process machinery: only when read

        return cls(
            budget=data["budget"],
            metric=str(data["metric"]),
            outcome=str(data["outcome"]),
            int8_value=float(data["int8_value"]),
            value=data.get("value"),
            float_layers=tuple(LayerError.from_dict(layer) for layer in data.get("float_layers") or ()),
            float_kernels=tuple(data.get("float_kernels") or ()),
            mode_key=data.get("mode"),
            int8_size_bytes=int(data["int8_size_bytes"]),
            size_bytes=data.get("size_bytes"),
            trials=tuple(Trial.from_dict(trial) for trial in data.get("trials") or ()),
            tflm=TFLMCheck.from_dict(data["tflm"]) if data.get("tflm") else None,
            message=str(data["message"]),
            io=str(data.get("io", "int8")),
        )
