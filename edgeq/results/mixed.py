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


@dataclass(frozen=True)
class LowBitTrial:
    """One candidate of the int4 search: ops given int8 weights, ops kept in float, its metric."""

    int8_ops: tuple[str, ...]
    float_ops: tuple[str, ...]
    metric: float
    size_bytes: int
    meets: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "int8_ops": list(self.int8_ops),
            "float_ops": list(self.float_ops),
            "metric": round(self.metric, 6),
            "size_bytes": self.size_bytes,
            "meets_budget": self.meets,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LowBitTrial:
        return cls(
            int8_ops=tuple(data["int8_ops"]), float_ops=tuple(data["float_ops"]),
            metric=float(data["metric"]), size_bytes=int(data["size_bytes"]),
            meets=bool(data["meets_budget"]),
        )  # fmt: skip


@dataclass(frozen=True)
class LowBitMix:
    """The outcome of ``--max-drop`` on int4: which ops went from int4 to int8 weights (then, if that
    was not enough, which went to float), what that cost. ``outcome``: ``int4`` (plain int4 meets
    the budget), ``mixed`` or ``unreachable``. ``sensitivity``: each int4 op's metric when it alone
    has int4 weights (every other op int8), most harmful first; ops are named
    ``op N OPCODE (keras layer)``."""

    budget: float
    metric: str
    outcome: str
    int4_value: float
    value: float | None
    int8_ops: tuple[str, ...]
    float_ops: tuple[str, ...]
    mode_key: str | None
    int4_size_bytes: int
    int8_size_bytes: int | None  # every weight op at int8 (the search's other end)
    size_bytes: int | None
    sensitivity: tuple[tuple[str, float], ...]
    trials: tuple[LowBitTrial, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "metric": self.metric,
            "outcome": self.outcome,
            "int4_value": round(self.int4_value, 6),
            "value": round(self.value, 6) if self.value is not None else None,
            "int8_ops": list(self.int8_ops),
            "float_ops": list(self.float_ops),
            "mode": self.mode_key,
            "int4_size_bytes": self.int4_size_bytes,
            "all_int8_size_bytes": self.int8_size_bytes,
            "size_bytes": self.size_bytes,
            "sensitivity": [{"op": op, "metric": round(value, 6)} for op, value in self.sensitivity],
            "conversions_tried": len(self.trials) + len(self.sensitivity),
            "trials": [trial.to_dict() for trial in self.trials],
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LowBitMix:
        return cls(
            budget=float(data["budget"]), metric=str(data["metric"]), outcome=str(data["outcome"]),
            int4_value=float(data["int4_value"]), value=data.get("value"),
            int8_ops=tuple(data.get("int8_ops") or ()), float_ops=tuple(data.get("float_ops") or ()),
            mode_key=data.get("mode"), int4_size_bytes=int(data["int4_size_bytes"]),
            int8_size_bytes=data.get("all_int8_size_bytes"), size_bytes=data.get("size_bytes"),
            sensitivity=tuple((str(s["op"]), float(s["metric"])) for s in data.get("sensitivity") or ()),
            trials=tuple(LowBitTrial.from_dict(trial) for trial in data.get("trials") or ()),
            message=str(data["message"]),
        )  # fmt: skip
