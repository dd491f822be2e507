"""The Keras layer catalogue (``tests/catalogue.py``) through edgeq's C engine, against TensorFlow
Lite Micro: every model converted with the real TFLiteConverter in int8, int16x8 and float32, and
as an int8 model with one op kept in float (what ``--max-drop`` produces: DEQUANTIZE, the float op,
QUANTIZE), with the input and output types ``edgeq convert`` gives by default (int8 for int8 and
the mixed model, int16 for int16x8, float32 for float32).

For each file:
- the converter refuses it (16x8 has no NEG, PRELU, ...): recorded, nothing to run;
- TFLM refuses it (no TILE or GELU kernel, int8 EXP, int16 SPACE_TO_BATCH_ND...): the engine must
  refuse it too, with a reason that names TFLM;
- TFLM runs it: the engine compiles it (gcc, strict C99), and on 10 seeded inputs its outputs equal
  TFLM's byte for byte, or for float32 outputs within ``FLOAT_TOLERANCE`` (see there); its static
  RAM is at most 0.70x TFLM's measured arena (its minimum, or where the engine is far enough below,
  a measured lower bound of it: "TFLM >N B" in the table, an arena of N bytes fails).
The test prints a table, and the count of distinct builtin ops TFLM ran that the engine matched.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from catalogue import CATALOGUE, Entry
from engine_cases import calibrate_int8, convert_mode, keras_module, quantize_keeping_float, random_inputs

from edgeq.errors import EdgeqError

MODES = ("int8", "int16x8", "float32", "mixed")
SAMPLES = 10
RAM_RATIO = 0.70
# float32 outputs: |engine - TFLM| <= FLOAT_TOLERANCE * (1 + |TFLM|). The engine's float kernels
# compute in TFLM's reference order, so sums and products come out bit for bit; the difference that
# remains is libm's (expf, tanhf, logf: glibc for the engine on this host, the tflite-micro
# package's build for TFLM), a few units in the last place.
FLOAT_TOLERANCE = 1e-5


@dataclass
class Result:
    name: str
    mode: str
    ops: tuple[str, ...] = ()
    kinds: tuple[tuple[str, str], ...] = ()
    converter: str | None = None  # why the converter refused
    tflm: str | None = None  # why TFLM refused
    engine: str | None = None  # why the engine refused
    source: Any = None
    graph: Any = None
    tflite: bytes = b""
    inputs: list[np.ndarray] = field(default_factory=list)
    differing: int = 0
    largest: float = 0.0
    arena: int = 0
    arena_exact: bool = True  # False: TFLM needs more than ``arena`` bytes (an arena of that size failed)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.mode}"


def _mixed(keras_model: Any, seed: int, vocabulary: int) -> bytes:
    """int8 with int8 I/O and the first op kept float32, as ``--max-drop`` builds it (the
    calibrated model quantized by mlir_quantize with that op's output tensor denylisted)."""
    from edgeq.tflite import read_tflite

    rng = np.random.default_rng(seed)
    names = [t.name for t in keras_model.inputs]

    def sample(tensor: Any) -> np.ndarray:
        shape = (1, *tuple(tensor.shape)[1:])
        if "int" in str(tensor.dtype):
            return rng.integers(0, vocabulary, size=shape).astype(np.int32)
        return rng.uniform(-1, 1, size=shape).astype(np.float32)

    samples = [{n: sample(t) for n, t in zip(names, keras_model.inputs, strict=True)} for _ in range(32)]
    calibrated = calibrate_int8(keras_model, samples)
    main = read_tflite(calibrated).main
    return quantize_keeping_float(
        calibrated, "int8", nodes=(main.tensors[main.operators[0].outputs[0]].name,)
    )


def _convert(entry: Entry, mode: str, seed: int) -> bytes:
    keras = keras_module()
    keras.utils.set_random_seed(seed)
    model = entry.build(keras)
    if mode == "mixed":
        return _mixed(model, seed, entry.vocabulary)
    high = float(entry.vocabulary) if entry.vocabulary else 1.0
    io = {"int8": "int8", "int16x8": "int16"}.get(mode, "float32")
    return convert_mode(model, mode, io, -1.0, high, seed)


def _convert_share(
    search_path: list[str], tasks: list[tuple[str, str, int]]
) -> dict[tuple[str, str], bytes | str]:
    """In a worker process: each (catalogue entry name, mode, seed) converted, or the first line of
    the converter's refusal."""
    sys.path[:0] = search_path
    entries = {entry.name: entry for entry in CATALOGUE}
    files: dict[tuple[str, str], bytes | str] = {}
    for name, mode, seed in tasks:
        try:
            files[name, mode] = _convert(entries[name], mode, seed)
        except Exception as exc:  # the converter raises several types: all mean it refused
            files[name, mode] = str(exc).strip().splitlines()[0][:160]
    return files


def _convert_all(tasks: list[tuple[str, str, int]], jobs: int = 2) -> dict[tuple[str, str], bytes | str]:
    """Every task converted in ``jobs`` worker processes (TensorFlow's converter keeps to one core;
    a fresh TensorFlow in each)."""
    search_path = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        shares = [pool.submit(_convert_share, search_path, tasks[k::jobs]) for k in range(jobs)]
        return {key: value for share in shares for key, value in share.result().items()}


def _measure_arenas(results: list[Result], engine_bytes: dict[str, int]) -> None:
    """TFLM's arena for each model TFLM runs: the recording allocator's total, proved by a run with
    exactly that arena. Where that run fails, TFLM needs more than the total (a larger arena never
    fails), so the total is a lower bound; the smallest arena that runs is searched (for all such
    models at once) only where the engine's RAM is above ``RAM_RATIO`` of that bound."""
    from edgeq.runtimes.runners import run_probe, smallest_arenas

    ran = [r for r in results if r.tflm is None and r.arena]
    if not ran:
        return
    steps = [{"run": "tflm", "arena": r.arena, "model": f"m{i}.tflite"} for i, r in enumerate(ran)]
    proofs = run_probe(ran[0].tflite, steps, models={f"m{i}.tflite": r.tflite for i, r in enumerate(ran)})
    unproved = [r for r, proof in zip(ran, proofs, strict=True) if not proof.ok]
    for result in unproved:
        result.arena_exact = False
    close = [r for r in unproved if engine_bytes.get(r.label, 0) > RAM_RATIO * r.arena]
    if close:
        found = smallest_arenas([r.tflite for r in close], [r.arena for r in close], [1 << 22] * len(close))
        for result, (minimum, _) in zip(close, found, strict=True):
            result.arena, result.arena_exact = minimum, True


def _run_all(
    tmp: Path, entries: tuple[Entry, ...] = CATALOGUE, modes: tuple[str, ...] = MODES
) -> list[Result]:
    from edgeq.engine.generate import generate_engine
    from edgeq.engine.host import compile_host
    from edgeq.engine.lowering import op_kind
    from edgeq.runtimes.runners import run_probe
    from edgeq.tflite import read_tflite

    tasks = [(entry.name, mode, number) for number, entry in enumerate(entries) for mode in modes]
    files = _convert_all(tasks)
    results: list[Result] = []
    for name, mode, _ in tasks:
        result = Result(name, mode)
        results.append(result)
        if isinstance(files[name, mode], str):
            result.converter = files[name, mode]
            continue
        result.tflite = files[name, mode]
        result.graph = read_tflite(result.tflite)
        main = result.graph.main
        result.ops = tuple(op.opcode for op in main.operators)
        result.kinds = tuple((op.opcode, op_kind(main, op)) for op in main.operators)
        try:
            result.source = generate_engine(result.graph, f"{name}_{mode}")
        except EdgeqError as exc:
            result.engine = str(exc)
    converted = [r for r in results if r.converter is None]
    rng = np.random.default_rng(0)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    steps: list[dict[str, Any]] = []
    for i, result in enumerate(converted):
        main = result.graph.main
        high = 20.0 if result.name.startswith("embedding") else 1.0
        result.inputs = [random_inputs(main.tensors[t], SAMPLES, rng, -1.0, high) for t in main.inputs]
        steps.append({"run": "tflm", "arena": 1 << 22, "allocations": True, "model": f"m{i}.tflite"})
        for s in range(SAMPLES):
            arrays[f"m{i}_in{s}.npz"] = {f"input_{k}": x[s] for k, x in enumerate(result.inputs)}
            steps.append({"run": "tflm", "arena": 1 << 22, "model": f"m{i}.tflite", "inputs": f"m{i}_in{s}.npz",
                          "outputs": f"m{i}_out{s}.npz"})  # fmt: skip
    models = {f"m{i}.tflite": r.tflite for i, r in enumerate(converted)}
    answers = run_probe(converted[0].tflite, steps, arrays, models=models)
    per_model = 1 + SAMPLES
    compiled = {f"{r.name}_{r.mode}": r.source for r in converted if r.source is not None}
    engines = compile_host(compiled, tmp / "build")
    for i, result in enumerate(converted):
        allocation, *runs = answers[i * per_model : (i + 1) * per_model]
        if not allocation.ok:
            result.tflm = allocation.reason()
            continue
        result.arena = int(allocation.data.get("totals", {}).get("total", 0))
        if result.source is None:
            continue
        outputs = engines.run_many(f"{result.name}_{result.mode}", result.inputs)
        for k, got in enumerate(outputs):
            expected = np.stack([run.data["arrays"][f"output_{k}"].reshape(-1) for run in runs])
            got = got.reshape(expected.shape).astype(expected.dtype)
            if expected.dtype == np.float32:
                relative = np.abs(got.astype(np.float64) - expected) / (
                    1 + np.abs(expected.astype(np.float64))
                )
                result.differing += int(np.count_nonzero(~(relative <= FLOAT_TOLERANCE)))
                result.largest = max(result.largest, float(np.nan_to_num(relative, nan=np.inf).max()))
            else:
                result.differing += int(np.count_nonzero(got.view(np.uint8) != expected.view(np.uint8)))
                difference = np.abs(got.astype(np.int64) - expected.astype(np.int64))
                result.largest = max(result.largest, float(difference.max()))
    _measure_arenas(converted, {r.label: r.source.arena_bytes for r in converted if r.source is not None})
    return results


def _table(results: list[Result]) -> str:
    lines = []
    for r in results:
        if r.converter:
            state = f"converter refuses: {r.converter[:90]}"
        elif r.tflm:
            state = f"TFLM refuses ({r.tflm[:60]}); engine: {(r.engine or 'COMPILES')[:90]}"
        elif r.engine:
            state = f"ENGINE REFUSES: {r.engine[:120]}"
        else:
            ratio = r.source.arena_bytes / r.arena if r.arena else float("nan")
            bound = "" if r.arena_exact else "<"  # TFLM needs more than r.arena: the ratio is below
            state = (
                f"{r.differing} differ (max {r.largest:.3g}), RAM {r.source.arena_bytes} B = {bound}{ratio:.2f}x "
                f"TFLM {'>' if bound else ''}{r.arena} B"
            )
        lines.append(f"{r.label:42s} {state}")
    return "\n".join(lines)


def test_every_catalogue_model_tflm_runs_runs_in_the_engine_identically_in_less_ram(tmp_path):
    results = _run_all(tmp_path)
    print("\n" + _table(results))
    ran = [r for r in results if r.converter is None and r.tflm is None]
    matched = [r for r in ran if r.source is not None and r.differing == 0]
    ops = sorted({op for r in ran for op in r.ops})
    covered = sorted({op for r in matched for op in r.ops})
    kinds = sorted({kind for r in matched for kind in r.kinds})
    print(
        f"distinct builtin ops TFLM runs in the catalogue: {len(ops)}; matched by the engine: {len(covered)}"
    )
    print(f"(op, kind) pairs matched: {len(kinds)}; models run by TFLM: {len(ran)}, matched: {len(matched)}")
    print("ops TFLM runs that the engine does not match:", sorted(set(ops) - set(covered)))
    problems = [f"{r.label}: {r.engine}" for r in ran if r.source is None]
    problems += [
        f"{r.label}: {r.differing} values differ (max {r.largest:g})" for r in ran if r.source and r.differing
    ]
    problems += [
        f"{r.label}: RAM {r.source.arena_bytes} B is {r.source.arena_bytes / r.arena:.2f}x TFLM's {r.arena} B"
        for r in matched if r.arena and r.source.arena_bytes > RAM_RATIO * r.arena
    ]  # fmt: skip
    refused = [r for r in results if r.converter is None and r.tflm is not None]
    problems += [
        f"{r.label}: TFLM refuses ({r.tflm}) but the engine compiles it" for r in refused if r.source
    ]
    problems += [
        f"{r.label}: the engine's reason does not name TFLM: {r.engine}"
        for r in refused
        if r.source is None and "TFLM" not in str(r.engine)
    ]
    assert problems == [], "\n".join(problems)
    assert len(ran) >= 150 and covered == ops
