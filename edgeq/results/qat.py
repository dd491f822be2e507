"""How ``edgeq qat`` trained, as data (``edgeq.conversion.qat`` builds and trains the model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeq.runtimes.runners import TFLMCheck


@dataclass(frozen=True)
class QATLayer:
    """A layer of the quantization-aware model: what it fused and how it is quantized."""

    name: str
    kind: str
    fused: tuple[str, ...]
    weights: str
    activation_range: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "fused": list(self.fused),
            "weights": self.weights,
            "activation_range": list(self.activation_range) if self.activation_range else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QATLayer:
        low_high = data.get("activation_range")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            fused=tuple(data.get("fused") or ()),
            weights=str(data["weights"]),
            activation_range=(float(low_high[0]), float(low_high[1])) if low_high else None,
        )


@dataclass(frozen=True)
class QATReport:
    """How ``edgeq qat`` trained: settings, loss per epoch, the quantized layers, the TFLM check.

    ``tflm_subject`` says what the TFLM check ran when it is not the QAT file itself (4-bit weights:
    its int8 twin, which TFLM accepts)."""

    epochs: int
    batch_size: int
    learning_rate: float
    train_samples: int
    loss: str
    history: dict[str, tuple[float, ...]]
    input_range: tuple[float, float]
    layers: tuple[QATLayer, ...]
    method: str
    mode_key: str
    tflm: TFLMCheck | None
    task: str = "classification"  # or "regression" (float targets), "distillation" (no labels)
    weight_bits: int = 8
    tflm_subject: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "train_samples": self.train_samples,
            "loss": self.loss,
            "history": {key: [round(v, 6) for v in values] for key, values in self.history.items()},
            "input_range": list(self.input_range),
            "layers": [layer.to_dict() for layer in self.layers],
            "method": self.method,
            "mode": self.mode_key,
            "tflm": self.tflm.to_dict() if self.tflm else None,
            "task": self.task,
            "weight_bits": self.weight_bits,
            "tflm_subject": self.tflm_subject,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QATReport:
        """Read ``to_dict``'s output (its history is rounded to 6 decimals)."""
        from edgeq.runtimes.runners import TFLMCheck  # numpy and the child-process machinery: only when read

        low, high = data["input_range"]
        return cls(
            epochs=int(data["epochs"]),
            batch_size=int(data["batch_size"]),
            learning_rate=data["learning_rate"],
            train_samples=int(data["train_samples"]),
            loss=str(data["loss"]),
            history={str(key): tuple(values) for key, values in (data.get("history") or {}).items()},
            input_range=(float(low), float(high)),
            layers=tuple(QATLayer.from_dict(layer) for layer in data.get("layers") or ()),
            method=str(data["method"]),
            mode_key=str(data["mode"]),
            tflm=TFLMCheck.from_dict(data["tflm"]) if data.get("tflm") else None,
            task=str(data.get("task", "classification")),
            weight_bits=int(data.get("weight_bits", 8)),
            tflm_subject=data.get("tflm_subject"),
        )
