"""What the engine needs on a microcontroller, next to what TFLite Micro needs: static RAM (the
one buffer of activations and the kernels' scratch, e.g. im2col columns; no heap) and constant
data (flash)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import ModelGraph

if TYPE_CHECKING:
    from edgeq.engine.generate import EngineSource


@dataclass(frozen=True)
class EngineMemory:
    """The engine's figures for one model, or why the engine cannot compile it."""

    supported: bool
    reason: str | None = None
    activation_bytes: int = 0
    constant_bytes: int = 0
    overlapping_pairs: int = 0
    tflm_arena_bytes: int | None = None
    scratch_bytes: int = 0  # the largest scratch buffer of one op, inside the activation buffer
    kernel_path: str = "portable"

    @classmethod
    def of(cls, source: EngineSource, tflm_arena_bytes: int | None) -> EngineMemory:
        """The figures of generated sources, next to TFLM's measured arena (None: not measured)."""
        return cls(
            supported=True,
            activation_bytes=source.arena_bytes,
            constant_bytes=source.constant_bytes,
            overlapping_pairs=source.plan.overlapping_pairs,
            tflm_arena_bytes=tflm_arena_bytes,
            scratch_bytes=source.scratch_bytes,
            kernel_path=source.path,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineMemory:
        """From ``to_dict``: the ratio and the how follow from the rest."""
        return cls(
            supported=bool(data["supported"]),
            reason=data.get("reason"),
            activation_bytes=int(data["activation_buffer_bytes"]),
            constant_bytes=int(data["constant_bytes"]),
            overlapping_pairs=int(data["outputs_overlapping_inputs"]),
            tflm_arena_bytes=data.get("tflm_minimum_arena_bytes"),
            scratch_bytes=int(data.get("scratch_bytes", 0)),
            kernel_path=str(data.get("kernel_path", "portable")),
        )

    @property
    def ratio(self) -> float | None:
        """Engine RAM over TFLM's measured minimum arena."""
        if not self.supported or not self.tflm_arena_bytes:
            return None
        return self.activation_bytes / self.tflm_arena_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "supported": self.supported,
            "reason": self.reason,
            "static_ram_bytes": self.activation_bytes,
            "activation_buffer_bytes": self.activation_bytes,
            "scratch_bytes": self.scratch_bytes,
            "kernel_path": self.kernel_path,
            "constant_bytes": self.constant_bytes,
            "outputs_overlapping_inputs": self.overlapping_pairs,
            "tflm_minimum_arena_bytes": self.tflm_arena_bytes,
            "ram_ratio_to_tflm_arena": None if self.ratio is None else round(self.ratio, 4),
            "how": "static RAM is the size of the one buffer the generated code declares (edgeq's "
            "offline plan of the activations and of each kernel's scratch, e.g. im2col columns, "
            "scratch_bytes being the largest; no heap; the call stack comes on top); "
            "constants are the const arrays (weights, biases, multipliers, shifts). TFLite Micro's "
            "arena is measured with the tflite-micro package (64-bit host build, an upper bound for "
            "32-bit MCUs).",
        }

    def summary(self) -> str:
        """One line for the console."""
        if not self.supported:
            return f"edgeq C engine: cannot compile this model ({self.reason})"
        ratio = f", {self.ratio:.2f}x TFLite Micro's arena" if self.ratio is not None else ""
        return (
            f"edgeq C engine: {self.activation_bytes:,} bytes of static RAM (one buffer: activations "
            f"and {self.scratch_bytes:,} bytes of scratch){ratio}; {self.constant_bytes:,} bytes of constants"
        )


def engine_memory(graph: ModelGraph, tflm_arena_bytes: int | None, name: str = "model") -> EngineMemory:
    """Generate the engine in memory and report its RAM and constants (nothing is written)."""
    from edgeq.engine.generate import generate_engine

    try:
        source = generate_engine(graph, name)
    except UnsupportedError as exc:
        return EngineMemory(supported=False, reason=str(exc), tflm_arena_bytes=tflm_arena_bytes)
    return EngineMemory.of(source, tflm_arena_bytes)
