"""Runs a model in TensorFlow Lite Micro or LiteRT inside a throw-away child process.

Both interpreters are C++ and can crash the process on inputs they do not expect (TFLite Micro
segfaults on some arenas that are too small), so edgeq never runs them in its own process:
``python -m edgeq.runtimes.probe REQUEST.json`` executes the request's steps in order and prints one
JSON line per finished step. A step that crashes prints nothing; the parent sees which step did.

Steps: ``{"run": "tflm", "arena": N, "allocations": bool, "inputs": "in.npz"|null,
"outputs": "out.npz"|null, "tensors": [i, ...]}``, ``{"run": "litert", "inputs": ..., "outputs": ...,
"tensors": ..., "shapes": bool}`` (raw tensors; ``tensors`` also saves those intermediate tensors as
``tensor_<i>``; ``shapes`` returns every tensor's shape as the interpreter allocated it)
and ``{"run": "evaluate", "reference": bool, "samples": "x.npz"|null, "outputs": ...}`` (float
samples through edgeq's TFLiteRunner). Any step may name another ``"model": "file.tflite"`` than
the request's, so that many models run in one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

_ALLOCATION = re.compile(
    r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)"
)
_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what C++ writes to descriptor 2 (TFLM's MicroPrintf, print_allocations)."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", errors="replace").splitlines())


def _inputs(path: str | None, details: list[dict[str, Any]]) -> list[np.ndarray]:
    if path:
        with np.load(path) as data:
            return [data[f"input_{i}"] for i in range(len(details))]
    return [np.zeros(d["shape"], dtype=d["dtype"]) for d in details]


def _run_tflm(model: bytes, step: dict[str, Any]) -> dict[str, Any]:
    from tflite_micro.python.tflite_micro import runtime

    result: dict[str, Any] = {"ok": False}
    with _captured_stderr() as log:
        try:
            config = {}
            if step.get("tensors"):
                config["intrepreter_config"] = runtime.InterpreterConfig.kPreserveAllTensors  # sic
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(step["arena"]), **config)
            count = len(_tflm_details(interpreter, "input"))
            details = [interpreter.get_input_details(i) for i in range(count)]
            for index, array in enumerate(_inputs(step.get("inputs"), details)):
                interpreter.set_input(array, index)
            interpreter.invoke()
            outputs = [interpreter.get_output(i) for i in range(len(_tflm_details(interpreter, "output")))]
            tensors = {
                f"tensor_{t}": interpreter.GetTensor(t, 0)["tensor_data"] for t in step.get("tensors", [])
            }
            if step.get("allocations"):
                interpreter.print_allocations()
            result["ok"] = True
        except Exception as exc:  # the TFLM wrapper raises RuntimeError / ValueError with C++ text
            result["error"] = str(exc)
    result["log"] = [line for line in log if "RecordingMicroAllocator" not in line][-20:]
    if result["ok"]:
        if step.get("outputs"):
            np.savez(step["outputs"], **{f"output_{i}": o for i, o in enumerate(outputs)}, **tensors)
        if step.get("allocations"):
            result["allocations"] = [
                {"name": m[1], "used": int(m[2]), "requested": int(m[3]), "count": int(m[4])}
                for line in log
                if (m := _ALLOCATION.search(line))
            ]
            result["totals"] = {m[1]: int(m[2]) for line in log if (m := _TOTALS.search(line))}
    return result


def _tflm_details(interpreter: Any, kind: str) -> list[int]:
    """Indices of the interpreter's inputs or outputs (the wrapper has no count accessor)."""
    found = []
    getter = interpreter.get_input_details if kind == "input" else interpreter.get_output_details
    for index in range(64):
        try:
            getter(index)
        except Exception:  # past the last one the wrapper raises
            break
        found.append(index)
    return found


def _run_litert(model: bytes, step: dict[str, Any]) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    result: dict[str, Any] = {"ok": False}
    with _captured_stderr() as log:
        try:
            kernels = OpResolverType.BUILTIN_REF if step.get("reference") else OpResolverType.AUTO
            interpreter = Interpreter(
                model_content=model,
                experimental_op_resolver_type=kernels,
                experimental_preserve_all_tensors=bool(step.get("tensors")),
            )
            interpreter.allocate_tensors()
            if step.get("shapes"):
                result["shapes"] = _allocated_shapes(interpreter)
            details = interpreter.get_input_details()
            for detail, array in zip(details, _inputs(step.get("inputs"), details), strict=True):
                interpreter.set_tensor(detail["index"], array)
            interpreter.invoke()
            if step.get("shapes"):  # kernels may resize outputs when they run
                result["shapes"] = _allocated_shapes(interpreter)
            outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
            tensors = {f"tensor_{t}": interpreter.get_tensor(t) for t in step.get("tensors", [])}
            result["ok"] = True
        except Exception as exc:  # LiteRT raises ValueError / RuntimeError with C++ text
            result["error"] = str(exc)
    result["log"] = log[-20:]
    if result["ok"] and step.get("outputs"):
        np.savez(step["outputs"], **{f"output_{i}": o for i, o in enumerate(outputs)}, **tensors)
    return result


def _allocated_shapes(interpreter: Any) -> dict[str, list[int]]:
    return {str(d["index"]): [int(n) for n in d["shape"]] for d in interpreter.get_tensor_details()}


def _run_evaluate(model: bytes, step: dict[str, Any]) -> dict[str, Any]:
    """LiteRT on float samples (quantizing and dequantizing as an app would): I/O details and outputs."""
    from edgeq.runtimes.litert import TFLiteRunner

    result: dict[str, Any] = {"ok": False}
    with _captured_stderr() as log:
        try:
            runner = TFLiteRunner(model, reference_kernels=bool(step.get("reference", True)))
            if step.get("samples"):
                with np.load(step["samples"]) as data:
                    samples = data["x"]
            else:  # no data: one invocation on zeros still proves the kernels run
                samples = np.zeros(runner.inputs[0].shape, dtype=np.float32)
            outputs = runner.run(samples)
            result.update(
                ok=all(bool(np.all(np.isfinite(o))) for o in outputs),
                input_details=[info.to_dict() for info in runner.inputs],
                output_details=[info.to_dict() for info in runner.outputs],
            )
            if not result["ok"]:
                result["error"] = "the outputs contain NaN or infinite values"
        except Exception as exc:  # LiteRT raises ValueError / RuntimeError; edgeq InputError
            result["error"] = str(exc)
    result["log"] = log[-20:]
    if result["ok"] and step.get("outputs"):
        np.savez(step["outputs"], **{f"output_{i}": o for i, o in enumerate(outputs)})
    return result


_RUNNERS = {"tflm": _run_tflm, "litert": _run_litert, "evaluate": _run_evaluate}


def main(request_path: str) -> None:
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    models: dict[str, bytes] = {}
    for step in request["steps"]:
        path = step.get("model") or request["model"]
        if path not in models:
            with open(path, "rb") as handle:
                models = {path: handle.read()}  # keep one model in memory at a time
        try:
            result = _RUNNERS[step["run"]](models[path], step)
        except Exception as exc:  # a bug in this file, not the interpreter: say so, not "crashed"
            result = {"ok": False, "error": f"edgeq's probe failed ({type(exc).__name__}: {exc})", "log": []}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
