"""``edgeq inspect``: what a .tflite model is and whether each target runs it, measured."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.engine.report import EngineMemory, engine_memory
from edgeq.runtimes.runners import StepResult, TFLMReport, check_litert, check_tflm
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.analysis import OperatorCost, QuantizationSummary, operator_costs, quantization_summary
from edgeq.tflite.memory import MemoryPlan, plan_memory
from edgeq.tflite.reader import read_model_bytes
from edgeq.version import __version__

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TargetCheck:
    """Whether a runtime loads and invokes the model, decided by really running it."""

    target: str
    runs: bool
    failing_op: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "runs": self.runs,
            "failing_op": self.failing_op,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class InspectResult:
    path: str
    graph: ModelGraph
    operators: tuple[OperatorCost, ...]
    memory: MemoryPlan
    quantization: QuantizationSummary
    tflm: TFLMReport
    litert: TargetCheck
    engine: EngineMemory

    @property
    def parameters(self) -> int:
        return sum(op.parameters for op in self.operators)

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.operators)

    @property
    def weight_bytes(self) -> int:
        from edgeq.tflite.analysis import parameter_tensors

        return sum(self.graph.main.tensors[t].nbytes for t in parameter_tensors(self.graph.main))

    @property
    def flex_ops(self) -> tuple[str, ...]:
        return tuple(sorted({op.custom_code or "" for op in self.graph.main.operators if op.is_flex}))

    @property
    def custom_ops(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                {op.custom_code or "" for op in self.graph.main.operators if op.is_custom and not op.is_flex}
            )
        )

    def io(self, kind: str) -> list[dict[str, Any]]:
        subgraph = self.graph.main
        indices = subgraph.inputs if kind == "inputs" else subgraph.outputs
        described = []
        for index in indices:
            tensor = subgraph.tensors[index]
            quant = tensor.quantization
            described.append(
                {
                    "name": tensor.name,
                    "shape": list(tensor.shape),
                    "dtype": tensor.dtype,
                    "scale": quant.scales[0] if quant else None,
                    "zero_point": quant.zero_points[0] if quant else None,
                }
            )
        return described

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "edgeq.inspect",
            "edgeq_version": __version__,
            "model": {"path": self.path, "sha256": self.graph.sha256, "size_bytes": self.graph.size_bytes},
            "inputs": self.io("inputs"),
            "outputs": self.io("outputs"),
            "operators": [op.to_dict() for op in self.operators],
            "totals": {
                "operators": len(self.operators),
                "parameters": self.parameters,
                "weight_bytes": self.weight_bytes,
                "macs": self.macs,
                "op_types": list(self.graph.op_names()),
            },
            "memory_plan": self.memory.to_dict(),
            "quantization": self.quantization.to_dict(),
            "targets": {
                "tflm": self.tflm.to_dict(),
                "edgeq_c_engine": self.engine.to_dict(),
                "litert": self.litert.to_dict(),
                "flex_ops": list(self.flex_ops),
                "custom_ops": list(self.custom_ops),
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON to ``path`` (a file), through a temporary name."""
        from edgeq.outputs import write_file_atomic

        return write_file_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def inspect(model: str | Path) -> InspectResult:
    """Describe a .tflite file and check it on TFLite Micro and LiteRT by running it.

    Raises InputError for a missing or malformed file (nothing malformed reaches an interpreter),
    ToolchainError when tflite-micro or ai-edge-litert is not installed.
    """
    tflite = read_model_bytes(model)
    graph = read_tflite(tflite, str(model))
    litert = check_litert(tflite)
    tflm = check_tflm(tflite)
    if tflm.failing_op == "CUSTOM":
        codes = sorted({op.custom_code or "" for op in graph.main.operators if op.is_custom})
        tflm = dataclasses.replace(tflm, failing_op=f"CUSTOM ({', '.join(codes)})")
    return InspectResult(
        path=str(model),
        graph=graph,
        operators=operator_costs(graph),
        memory=plan_memory(graph),
        quantization=quantization_summary(graph),
        tflm=tflm,
        litert=_target("litert", litert),
        engine=engine_memory(graph, tflm.arena.minimum_bytes if tflm.arena else None),
    )


def _target(name: str, step: StepResult) -> TargetCheck:
    return TargetCheck(
        target=name,
        runs=step.ok,
        failing_op=None if step.ok else step.failing_op,
        reason=None if step.ok else step.reason(),
    )
