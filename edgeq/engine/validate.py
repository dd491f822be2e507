"""``edgeq validate --engine c``: the generated engine, compiled for this machine, against the real
TensorFlow Lite Micro interpreter on the same inputs, byte for byte.

A model with INT4 weights that TFLM refuses (this TFLM build takes no int4 FULLY_CONNECTED filters
with int8 inputs) is compared with TFLM on its *int8 twin* (``edgeq.tflite.rewrite.unpack_int4_weights``:
the same values stored as INT8), byte for byte, and also with LiteRT's reference kernels
(BUILTIN_REF) on the int4 file itself, naming the ops where LiteRT's arithmetic first departs from
TFLM's (FULLY_CONNECTED rounding ties) instead of failing on them."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.checks import check_seed
from edgeq.engine.report import EngineMemory
from edgeq.errors import EdgeqError, InputError
from edgeq.outputs import write_file_atomic
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.graph import Tensor
from edgeq.tflite.reader import read_model_bytes
from edgeq.tflite.rewrite import has_int4_weights
from edgeq.version import __version__

MAX_SAMPLES = 100_000
# float32 outputs agree when |engine - TFLM| <= FLOAT_TOLERANCE * (1 + |TFLM|): the float kernels
# compute in TFLM's reference order; what is left are libm's last bits (expf, tanhf, logf) and,
# on an FPU that fuses multiply-adds, one rounding per fused step.
FLOAT_TOLERANCE = 1e-5
TFLM_REFERENCE = "TensorFlow Lite Micro (tflite-micro Python package)"
TWIN_REFERENCE = (
    "TensorFlow Lite Micro (tflite-micro Python package) on the int8 twin of this int4 file "
    "(its INT4 weights stored as INT8, same values), which TFLM refuses itself"
)
LITERT_REFERENCE = "LiteRT reference kernels (BUILTIN_REF) on the int4 file itself"


@dataclass(frozen=True)
class SecondReference:
    """How the engine's outputs compare with a second runtime's, and the ops where that runtime's
    intermediate tensors first depart from the main reference's (with the known cause, if any)."""

    reference: str
    identical_samples: int
    differing_bytes: int
    max_abs_difference: float
    ops: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "identical_samples": self.identical_samples,
            "differing_bytes": self.differing_bytes,
            "max_abs_difference": self.max_abs_difference,
            "first_differing_ops": list(self.ops),
        }

    def summary(self) -> str:
        """One line: the comparison, and the ops where the differences start (by opcode)."""
        text = (
            f"{self.reference}: {self.identical_samples} outputs identical, {self.differing_bytes:,} bytes "
            f"differ, max abs difference {self.max_abs_difference:g}"
        )
        for opcode in dict.fromkeys(op["op"] for op in self.ops):
            found = [op for op in self.ops if op["op"] == opcode]
            cause = found[0]["known_cause"] or "no known cause"
            where = ", ".join(f"{op['op_index']} ({op['samples']} inputs)" for op in found)
            largest = max(op["max_abs_difference"] for op in found)
            text += f"; first differing at {opcode} ops {where}, by at most {largest}: {cause}"
        return text


@dataclass(frozen=True)
class EngineValidation:
    """How the engine's outputs compare with TFLM's on ``samples`` inputs."""

    model: str
    sha256: str
    samples: int
    inputs: str
    identical_samples: int
    differing_bytes: int
    total_bytes: int
    max_abs_difference: float
    first_difference: dict[str, Any] | None
    memory: EngineMemory
    compiler: str
    reference: str = TFLM_REFERENCE
    second_reference: SecondReference | None = None
    # the largest |engine - TFLM| / (1 + |TFLM|) over float32 outputs (None: no float outputs, or
    # integer outputs differ too)
    max_float_relative_difference: float | None = None

    @property
    def identical(self) -> bool:
        return self.differing_bytes == 0

    @property
    def agrees(self) -> bool:
        """Identical, or only float32 outputs differ, each within FLOAT_TOLERANCE."""
        relative = self.max_float_relative_difference
        return self.identical or (relative is not None and relative <= FLOAT_TOLERANCE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edgeq_version": __version__,
            "model": self.model,
            "model_sha256": self.sha256,
            "engine": "c",
            "reference": self.reference,
            "samples": self.samples,
            "inputs": self.inputs,
            "identical": self.identical,
            "identical_samples": self.identical_samples,
            "differing_bytes": self.differing_bytes,
            "compared_bytes": self.total_bytes,
            "max_abs_difference": self.max_abs_difference,
            "max_float_relative_difference": self.max_float_relative_difference,
            "float_tolerance": FLOAT_TOLERANCE,
            "agrees": self.agrees,
            "first_difference": self.first_difference,
            "compiler": self.compiler,
            "memory": self.memory.to_dict(),
            "second_reference": self.second_reference.to_dict() if self.second_reference else None,
        }

    def save(self, path: str | Path) -> Path:
        return write_file_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def validate_engine(
    model: str | Path, samples: int = 100, seed: int = 0, data: str | Path | None = None
) -> EngineValidation:
    """Generate the engine for ``model``, compile it with gcc, run ``samples`` inputs through it
    and through TFLM, and compare. Inputs are seeded random values over the input type's whole
    range, or the first ``samples`` rows of ``data`` (float samples, quantized like an app would).

    Raises InputError for bad arguments, UnsupportedError when the engine cannot compile the model,
    ToolchainError when gcc or tflite-micro is missing.
    """
    from edgeq.engine.generate import generate_engine
    from edgeq.engine.host import STRICT_FLAGS, compile_host
    from edgeq.runtimes.runners import TFLM_CHECK_ARENA, check_tflm, run_probe
    from edgeq.toolchain import version

    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"--samples must be between 1 and {MAX_SAMPLES}, got {samples}")
    check_seed(seed)
    tflite = read_model_bytes(Path(model))
    graph = read_tflite(tflite, str(model))
    source = generate_engine(graph, "model")
    main = graph.main
    if data is not None:
        if len(main.inputs) != 1:
            raise InputError(
                f"--data gives samples for one input; {model} has {len(main.inputs)} inputs: "
                "leave out --data to validate on seeded random inputs"
            )
        inputs = [_data_inputs(data, main.tensors[main.inputs[0]], samples)]
        described = f"the first samples of {data}"
    else:
        inputs = engine_inputs(graph, samples, seed)
        described = f"seeded random values over the input's range, seed {seed}"
    oracle, reference = tflite, TFLM_REFERENCE
    tflm = check_tflm(tflite)
    if not tflm.runs and has_int4_weights(graph):
        from edgeq.tflite.rewrite import unpack_int4_weights

        oracle, reference = unpack_int4_weights(tflite), TWIN_REFERENCE
        tflm = check_tflm(oracle)
    if not tflm.runs or tflm.arena is None:
        raise EdgeqError(
            f"TensorFlow Lite Micro cannot run this model, so there is nothing to compare with: {tflm.reason}"
        )
    arena = tflm.arena.minimum_bytes + 1024
    with tempfile.TemporaryDirectory(prefix="edgeq-validate-") as work:
        engines = compile_host({"model": source}, Path(work))
        engine_out = engines.run_many("model", inputs)
    twin = oracle is not tflite
    tensors = _op_outputs(graph) if twin else []
    if twin:  # TFLM keeps every intermediate tensor for the per-op comparison: a large arena
        arena = max(arena, TFLM_CHECK_ARENA)
    count = len(inputs[0])
    steps: list[dict[str, Any]] = []
    for i in range(count):
        steps.append({"run": "tflm", "arena": arena, "inputs": f"in{i}.npz", "outputs": f"out{i}.npz",
                      "tensors": [t for _, _, t in tensors]})  # fmt: skip
        if twin:
            steps.append({"run": "litert", "reference": True, "model": "int4.tflite", "inputs": f"in{i}.npz",
                          "outputs": f"ref{i}.npz", "tensors": [t for _, _, t in tensors]})  # fmt: skip
    arrays = {f"in{i}.npz": {f"input_{k}": x[i] for k, x in enumerate(inputs)} for i in range(count)}
    results = run_probe(oracle, steps, arrays, models={"int4.tflite": tflite} if twin else None)
    tflm_results = results[0::2] if twin else results
    failed = next((r for r in tflm_results if not r.ok), None)
    if failed is not None:
        raise EdgeqError(f"TensorFlow Lite Micro failed on this model: {failed.reason()}")
    expected = [_stack(tflm_results, k) for k in range(len(main.outputs))]
    got = [out.reshape(want.shape).astype(want.dtype) for out, want in zip(engine_out, expected, strict=True)]
    second = _second_reference(got[0], tflm_results, results[1::2], tensors) if twin else None
    compared = compare_outputs(got, expected)
    memory = EngineMemory.of(source, tflm.arena.minimum_bytes)
    return EngineValidation(
        model=str(model),
        sha256=graph.sha256,
        samples=count,
        inputs=described,
        identical_samples=compared.identical_samples,
        differing_bytes=compared.differing_bytes,
        total_bytes=compared.total_bytes,
        max_abs_difference=compared.max_abs_difference,
        first_difference=compared.first,
        memory=memory,
        compiler=f"{version('gcc')} {' '.join(STRICT_FLAGS)} -O2",
        reference=reference,
        second_reference=second,
        max_float_relative_difference=compared.max_float_relative,
    )


def _stack(results: list[Any], output: int) -> np.ndarray:
    """Output ``output`` of every probe result, one flattened row per sample."""
    return np.stack([r.data["arrays"][f"output_{output}"].reshape(-1) for r in results])


@dataclass(frozen=True)
class Comparison:
    """The engine's outputs against a reference's, over every output tensor: samples whose every
    output byte is equal, bytes that differ, the largest absolute difference, the largest relative
    difference |engine - reference| / (1 + |reference|) of float32 outputs, and the first
    difference (sample, output, element, both values)."""

    identical_samples: int
    differing_bytes: int
    total_bytes: int
    max_abs_difference: float
    max_float_relative: float | None
    first: dict[str, Any] | None

    @property
    def within_float_tolerance(self) -> bool:
        """Only float32 outputs differ, each within FLOAT_TOLERANCE."""
        return self.max_float_relative is not None and self.max_float_relative <= FLOAT_TOLERANCE


def compare_outputs(got: list[np.ndarray], expected: list[np.ndarray]) -> Comparison:
    """Compare per output tensor (rows: samples), byte for byte; float32 outputs also relatively."""
    count = len(expected[0])
    sample_differs = np.zeros(count, dtype=bool)
    differing = total = 0
    largest, relative, first = 0.0, None, None
    integer_differs = False
    for k, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        bytes_differ = ours.view(np.uint8).reshape(count, -1) != theirs.view(np.uint8).reshape(count, -1)
        sample_differs |= bytes_differ.any(axis=1)
        differing += int(bytes_differ.sum())
        total += int(bytes_differ.size)
        wide_ours, wide_theirs = ours.astype(np.float64), theirs.astype(np.float64)
        difference = np.abs(wide_ours - wide_theirs)
        if difference.size:
            largest = max(largest, float(np.nan_to_num(difference, nan=np.inf).max()))
        if theirs.dtype == np.float32:
            ratio = np.nan_to_num(difference / (1 + np.abs(wide_theirs)), nan=np.inf)
            relative = max(relative or 0.0, float(ratio.max(initial=0.0)))
        elif bytes_differ.any():
            integer_differs = True
        if first is None and bytes_differ.any():
            elements = bytes_differ.reshape(count, -1, ours.itemsize).any(axis=2)
            sample, element = (int(v) for v in np.argwhere(elements)[0])
            engine_value, tflm_value = ours[sample, element].item(), theirs[sample, element].item()
            first = {"sample": sample, "output": k, "element": element}
            first.update(engine=engine_value, tflm=tflm_value)
    return Comparison(
        identical_samples=int((~sample_differs).sum()),
        differing_bytes=differing,
        total_bytes=total,
        max_abs_difference=largest,
        max_float_relative=None if integer_differs else relative,
        first=first,
    )


def engine_inputs(graph: ModelGraph, count: int, seed: int) -> list[np.ndarray]:
    """``count`` seeded random samples for each input of ``graph`` (``random_inputs``, the seed
    advanced per input)."""
    main = graph.main
    return [random_inputs(graph, main.tensors[t], count, seed + k) for k, t in enumerate(main.inputs)]


def _op_outputs(graph: ModelGraph) -> list[tuple[int, str, int]]:
    """(op index, opcode, output tensor) of every op, in execution order."""
    return [(i, op.opcode, t) for i, op in enumerate(graph.main.operators) for t in op.outputs if t >= 0]


def _second_reference(
    got: np.ndarray, tflm: list[Any], litert: list[Any], tensors: list[tuple[int, str, int]]
) -> SecondReference:
    """The engine's outputs against LiteRT BUILTIN_REF's on the int4 file, and per sample whose
    LiteRT output differs from TFLM's, the first op whose output tensor differs (its opcode names
    the known cause: TFLM's run is the one the engine matches byte for byte)."""
    from edgeq.runtimes.runners import OpDifference

    failed = next((r for r in litert if not r.ok), None)
    if failed is not None:
        raise EdgeqError(f"LiteRT's reference kernels failed on the int4 file: {failed.reason()}")
    theirs = np.stack([r.data["arrays"]["output_0"].reshape(-1) for r in litert]).astype(got.dtype)
    differs = got.view(np.uint8).reshape(len(got), -1) != theirs.view(np.uint8).reshape(len(got), -1)
    first: dict[int, list[int]] = {}
    for ours, other in zip(tflm, litert, strict=True):
        a, b = ours.data["arrays"], other.data["arrays"]
        if np.array_equal(a["output_0"], b["output_0"]):
            continue
        for index, _, tensor in tensors:
            x, y = a[f"tensor_{tensor}"].reshape(-1), b[f"tensor_{tensor}"].reshape(-1)
            if not np.array_equal(x, y):
                largest = int(np.abs(x.astype(np.int64) - y.astype(np.int64)).max())
                first.setdefault(index, []).append(largest)
                break
    names = {index: opcode for index, opcode, _ in tensors}
    ops = tuple(
        OpDifference(op_index=i, op=names[i], samples=len(found), max_abs_difference=max(found)).to_dict()
        for i, found in sorted(first.items())
    )
    difference = np.abs(got.astype(np.float64) - theirs.astype(np.float64))
    return SecondReference(
        reference=LITERT_REFERENCE,
        identical_samples=int((~differs.any(axis=1)).sum()),
        differing_bytes=int(differs.sum()),
        max_abs_difference=float(difference.max()) if difference.size else 0.0,
        ops=ops,
    )


def random_inputs(graph: ModelGraph, tensor: Tensor, count: int, seed: int) -> np.ndarray:
    """``count`` seeded random inputs for ``tensor``: integers over the whole type, or floats a
    quarter beyond the range of the QUANTIZE that reads a float input."""
    rng = np.random.default_rng(seed)
    shape = (count, *tensor.shape)
    if tensor.dtype in ("int8", "int16"):
        limits = np.iinfo(tensor.dtype)
        return rng.integers(limits.min, limits.max + 1, size=shape, dtype=tensor.dtype)
    if tensor.dtype == "int32":  # indices (an Embedding's GATHER): valid rows of the table they pick
        gather = next(
            (op for op in graph.main.operators if op.opcode == "GATHER" and tensor.index in op.inputs[1:2]),
            None,
        )
        rows = graph.main.tensors[gather.inputs[0]].shape[int(gather.option.get("axis", 0))] if gather else 2
        return rng.integers(0, max(rows, 1), size=shape, dtype=np.int32)
    # a float input: cover the range of the QUANTIZE that reads it, a quarter beyond each end
    quantize = next((op for op in graph.main.operators if op.inputs and op.inputs[0] == tensor.index), None)
    low, high = -1.0, 1.0
    if quantize is not None and quantize.opcode == "QUANTIZE":
        q = graph.main.tensors[quantize.outputs[0]].quantization
        if q is not None:
            limits = np.iinfo(graph.main.tensors[quantize.outputs[0]].dtype)
            low = (limits.min - q.zero_points[0]) * q.scales[0]
            high = (limits.max - q.zero_points[0]) * q.scales[0]
    margin = (high - low) / 4
    return rng.uniform(low - margin, high + margin, size=shape).astype(np.float32)


def _data_inputs(data: str | Path, tensor: Tensor, count: int) -> np.ndarray:
    from edgeq.data.dataset import check_samples, read_dataset

    x = check_samples(read_dataset(data, (1, *tensor.shape[1:]), "validation").x, f"validation data {data}")[
        :count
    ]
    if tuple(x.shape[1:]) != tuple(tensor.shape[1:]):
        raise InputError(
            f"validation data {data} has samples of shape {tuple(x.shape[1:])}, the model input is "
            f"{tuple(tensor.shape[1:])}: give data shaped like the model input"
        )
    x = x.reshape(len(x), *tensor.shape).astype(np.float32)
    if tensor.quantization is None:
        return x
    from edgeq.runtimes.tensors import TensorInfo, quantize

    q = tensor.quantization
    return quantize(x, TensorInfo(tensor.name, tensor.shape, tensor.dtype, q.scales[0], q.zero_points[0]))
