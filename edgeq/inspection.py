"""``edgeq inspect``: what a .tflite model is and whether each target runs it, measured."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.engine.report import EngineMemory, engine_memory
from edgeq.errors import EdgeqError
from edgeq.results import schema
from edgeq.runtimes.runners import StepResult, TFLMReport, allocated_shapes, check_litert, check_tflm
from edgeq.runtimes.tensors import TensorInfo
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.analysis import OperatorCost, QuantizationSummary, operator_costs, quantization_summary
from edgeq.tflite.memory import MemoryPlan, plan_memory
from edgeq.tflite.reader import read_model_bytes
from edgeq.tflite.rewrite import has_int4_weights
from edgeq.version import __version__

SHAPES_ALLOCATED = "allocated by LiteRT"
SHAPES_FROM_FILE = "from the file (LiteRT could not allocate the model)"


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetCheck:
        return cls(str(data["target"]), bool(data["runs"]), data.get("failing_op"), data.get("reason"))


@dataclass(frozen=True)
class PlanSummary:
    """The activation memory plan as an inspect file states it (without the tensors' placements)."""

    peak_bytes: int
    lower_bound_bytes: int
    live_bytes_per_op: tuple[int, ...]
    alignment: int
    strategy: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_bytes": self.peak_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "live_bytes_per_op": list(self.live_bytes_per_op),
            "alignment": self.alignment,
            "strategy": self.strategy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanSummary:
        return cls(
            peak_bytes=int(data["peak_bytes"]),
            lower_bound_bytes=int(data["lower_bound_bytes"]),
            live_bytes_per_op=tuple(int(size) for size in data.get("live_bytes_per_op") or ()),
            alignment=int(data["alignment"]),
            strategy=str(data["strategy"]),
        )


@dataclass(frozen=True)
class InspectReport:
    """What an inspect file holds (``InspectResult.to_dict``), typed; read back it has no graph, so
    the figures taken from the graph are stored values. ``scale`` and ``zero_point`` of a float
    input or output are None."""

    edgeq_version: str
    path: str
    sha256: str
    size_bytes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    operators: tuple[OperatorCost, ...]
    parameters: int
    weight_bytes: int
    macs: int
    op_types: tuple[str, ...]
    memory: PlanSummary
    quantization: QuantizationSummary
    tflm: TFLMReport
    engine: EngineMemory
    litert: TargetCheck
    flex_ops: tuple[str, ...]
    custom_ops: tuple[str, ...]
    shapes: str = SHAPES_ALLOCATED
    tflm_int8_twin: TFLMReport | None = None
    engine_run: TargetCheck | None = None
    # per operator: None when edgeq's C engine has a kernel for it, else why not
    engine_ops: tuple[str | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        engine_ops = self.engine_ops or (None,) * len(self.operators)
        return {
            **schema.INSPECT.header(),
            "edgeq_version": self.edgeq_version,
            "model": {"path": self.path, "sha256": self.sha256, "size_bytes": self.size_bytes},
            "inputs": [tensor.to_dict() for tensor in self.inputs],
            "outputs": [tensor.to_dict() for tensor in self.outputs],
            "operators": [
                {**op.to_dict(), "edgeq_c_engine": {"supported": reason is None, "reason": reason}}
                for op, reason in zip(self.operators, engine_ops, strict=True)
            ],
            "totals": {
                "operators": len(self.operators),
                "parameters": self.parameters,
                "weight_bytes": self.weight_bytes,
                "macs": self.macs,
                "op_types": list(self.op_types),
            },
            "shapes": self.shapes,
            "memory_plan": self.memory.to_dict(),
            "quantization": self.quantization.to_dict(),
            "targets": {
                "tflm": self.tflm.to_dict(),
                "edgeq_c_engine": self.engine.to_dict(),
                "litert": self.litert.to_dict(),
                "tflm_int8_twin": self.tflm_int8_twin.to_dict() if self.tflm_int8_twin else None,
                "edgeq_c_engine_run": self.engine_run.to_dict() if self.engine_run else None,
                "flex_ops": list(self.flex_ops),
                "custom_ops": list(self.custom_ops),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InspectReport:
        """Read an inspect file's content (``schema.INSPECT.check`` it first); its operator count is
        that of the operators. Raises KeyError, TypeError or ValueError for content ``to_dict``
        cannot have written."""
        model, totals, targets = data["model"], data["totals"], data["targets"]
        return cls(
            edgeq_version=str(data.get("edgeq_version") or ""),
            path=str(model["path"]),
            sha256=str(model["sha256"]),
            size_bytes=int(model["size_bytes"]),
            inputs=tuple(TensorInfo.from_dict(tensor) for tensor in data.get("inputs") or ()),
            outputs=tuple(TensorInfo.from_dict(tensor) for tensor in data.get("outputs") or ()),
            operators=tuple(OperatorCost.from_dict(op) for op in data["operators"]),
            parameters=int(totals["parameters"]),
            weight_bytes=int(totals["weight_bytes"]),
            macs=int(totals["macs"]),
            op_types=tuple(totals.get("op_types") or ()),
            memory=PlanSummary.from_dict(data["memory_plan"]),
            quantization=QuantizationSummary.from_dict(data["quantization"]),
            tflm=TFLMReport.from_dict(targets["tflm"]),
            engine=EngineMemory.from_dict(targets["edgeq_c_engine"]),
            litert=TargetCheck.from_dict(targets["litert"]),
            flex_ops=tuple(targets.get("flex_ops") or ()),
            custom_ops=tuple(targets.get("custom_ops") or ()),
            shapes=str(data.get("shapes") or SHAPES_ALLOCATED),
            tflm_int8_twin=TFLMReport.from_dict(targets["tflm_int8_twin"])
            if targets.get("tflm_int8_twin")
            else None,
            engine_run=TargetCheck.from_dict(targets["edgeq_c_engine_run"])
            if targets.get("edgeq_c_engine_run")
            else None,
            engine_ops=tuple((op.get("edgeq_c_engine") or {}).get("reason") for op in data["operators"]),
        )


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
    shapes: str = SHAPES_ALLOCATED
    tflm_int8_twin: TFLMReport | None = None  # an int4 file TFLM refuses, its weights stored as int8
    engine_run: TargetCheck | None = None  # the engine compiled and run on this machine, against TFLM
    engine_ops: tuple[str | None, ...] = ()  # per operator: None when the engine runs it, else why not

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

    def report(self) -> InspectReport:
        """What the inspect file holds: the figures of this result, without the graph."""
        return InspectReport(
            edgeq_version=__version__,
            path=self.path,
            sha256=self.graph.sha256,
            size_bytes=self.graph.size_bytes,
            inputs=tuple(TensorInfo.from_dict(tensor) for tensor in self.io("inputs")),
            outputs=tuple(TensorInfo.from_dict(tensor) for tensor in self.io("outputs")),
            operators=self.operators,
            parameters=self.parameters,
            weight_bytes=self.weight_bytes,
            macs=self.macs,
            op_types=tuple(self.graph.op_names()),
            memory=PlanSummary.from_dict(self.memory.to_dict()),
            quantization=self.quantization,
            tflm=self.tflm,
            tflm_int8_twin=self.tflm_int8_twin,
            engine_run=self.engine_run,
            engine=self.engine,
            litert=self.litert,
            flex_ops=self.flex_ops,
            custom_ops=self.custom_ops,
            shapes=self.shapes,
            engine_ops=self.engine_ops,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.report().to_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InspectReport:
        """An inspect file read back. The file has no graph to rebuild an InspectResult from, so
        this is its InspectReport: ``InspectResult.from_dict(r.to_dict()) == r.report()``."""
        return InspectReport.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON to ``path`` (a file), through a temporary name."""
        from edgeq.outputs import write_file_atomic

        return write_file_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def inspect(model: str | Path) -> InspectResult:
    """Describe a .tflite file and check it on TFLite Micro and LiteRT by running it.

    MACs and activation memory use the tensor shapes LiteRT allocates; ``shapes`` says when they
    fall back to the file's shapes because LiteRT could not allocate the model.
    Raises InputError for a missing or malformed file (nothing malformed reaches an interpreter),
    ToolchainError when tflite-micro or ai-edge-litert is not installed.
    """
    from edgeq.engine.generate import op_support

    tflite = read_model_bytes(model)
    graph = read_tflite(tflite, str(model))
    litert = check_litert(tflite, shapes=True)
    tflm = check_tflm(tflite)
    # MACs and activation sizes from what the interpreter allocates: a dilated convolution's
    # SPACE_TO_BATCH_ND runs the graph on a larger batch than the file's shapes say.
    shapes = allocated_shapes(litert)
    as_run = with_shapes(graph, shapes) if shapes else graph
    if tflm.failing_op == "CUSTOM":
        codes = sorted({op.custom_code or "" for op in graph.main.operators if op.is_custom})
        tflm = dataclasses.replace(tflm, failing_op=f"CUSTOM ({', '.join(codes)})")
    twin = None
    oracle = tflite  # what TFLM runs to check the engine's output
    if not tflm.runs and has_int4_weights(graph):
        from edgeq.tflite.rewrite import unpack_int4_weights

        unpacked = unpack_int4_weights(tflite)
        twin = check_tflm(unpacked)
        if twin.runs:
            oracle = unpacked
        else:  # float activations (dynamic-int4): TFLM refuses those anyway; nothing to add
            twin = None
    arena = (tflm.arena or (twin.arena if twin else None)) if (tflm.runs or twin) else None
    engine = engine_memory(graph, arena.minimum_bytes if arena else None)
    runs_in_tflm = tflm.runs or (twin is not None and twin.runs)
    engine_run = None
    if engine.supported and runs_in_tflm and arena is not None:
        engine_run = _engine_run(graph, oracle, arena.minimum_bytes + 1024)
    return InspectResult(
        path=str(model),
        graph=graph,
        operators=operator_costs(as_run),
        memory=plan_memory(as_run),
        quantization=quantization_summary(graph),
        tflm=tflm,
        litert=_target("litert", litert),
        engine=engine,
        shapes=SHAPES_ALLOCATED if shapes else SHAPES_FROM_FILE,
        tflm_int8_twin=twin,
        engine_run=engine_run,
        engine_ops=tuple(op_support(graph)),
    )


ENGINE_RUN_SAMPLES = 4


def _engine_run(graph: ModelGraph, oracle: bytes, arena: int) -> TargetCheck:
    """Compile the engine for this machine, run it on a few seeded inputs and compare with TFLM
    running ``oracle`` (the file, or its int8 twin); not run (and said so) without gcc."""
    import shutil
    import tempfile

    from edgeq.engine.generate import generate_engine
    from edgeq.engine.host import compile_host
    from edgeq.engine.validate import FLOAT_TOLERANCE, compare_outputs, engine_inputs
    from edgeq.runtimes.runners import run_probe

    target = "edgeq_c_engine (host gcc)"
    if shutil.which("gcc") is None:
        return TargetCheck(target, False, None, "not checked: gcc is missing on this machine")
    inputs = engine_inputs(graph, ENGINE_RUN_SAMPLES, seed=0)
    try:
        with tempfile.TemporaryDirectory(prefix="edgeq-inspect-") as work:
            got = compile_host({"model": generate_engine(graph, "model")}, Path(work)).run_many(
                "model", inputs
            )
    except EdgeqError as exc:
        return TargetCheck(target, False, None, str(exc))
    steps = [
        {"run": "tflm", "arena": arena, "inputs": f"in{i}.npz", "outputs": f"out{i}.npz"}
        for i in range(ENGINE_RUN_SAMPLES)
    ]
    arrays = {
        f"in{i}.npz": {f"input_{k}": x[i] for k, x in enumerate(inputs)} for i in range(ENGINE_RUN_SAMPLES)
    }
    results = run_probe(oracle, steps, arrays)
    if not all(r.ok for r in results):
        return TargetCheck(target, True, None, "ran; TensorFlow Lite Micro failed on the same inputs")
    expected = [
        np.stack([r.data["arrays"][f"output_{k}"].reshape(-1) for r in results]) for k in range(len(got))
    ]
    compared = compare_outputs(
        [ours.reshape(want.shape).astype(want.dtype) for ours, want in zip(got, expected, strict=True)],
        expected,
    )
    if compared.differing_bytes == 0:
        return TargetCheck(target, True, None, None)
    if compared.within_float_tolerance:
        return TargetCheck(
            target, True, None,
            f"float32 outputs within {FLOAT_TOLERANCE:g} of TensorFlow Lite Micro's (relative to "
            f"1 + |value|; largest {compared.max_float_relative:.2g}), not bit for bit",
        )  # fmt: skip
    return TargetCheck(
        target,
        False,
        None,
        f"ran, but its outputs differ from TensorFlow Lite Micro's on {ENGINE_RUN_SAMPLES} inputs",
    )


def with_shapes(graph: ModelGraph, shapes: dict[int, tuple[int, ...]]) -> ModelGraph:
    """``graph`` with its main subgraph's activation tensors given the shapes in ``shapes``
    (tensor index -> shape); constants keep theirs."""
    main = graph.main
    tensors = tuple(
        dataclasses.replace(tensor, shape=shapes[tensor.index])
        if not tensor.is_constant and shapes.get(tensor.index, tensor.shape) != tensor.shape
        else tensor
        for tensor in main.tensors
    )
    return dataclasses.replace(
        graph, subgraphs=(dataclasses.replace(main, tensors=tensors), *graph.subgraphs[1:])
    )


def _target(name: str, step: StepResult) -> TargetCheck:
    return TargetCheck(
        target=name,
        runs=step.ok,
        failing_op=None if step.ok else step.failing_op,
        reason=None if step.ok else step.reason(),
    )
