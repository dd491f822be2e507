"""The public Python API. Each function mirrors a CLI command and returns a frozen result."""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from edgeq import __version__
from edgeq.conversion.evaluate import TensorInfo
from edgeq.conversion.modes import parse_modes
from edgeq.data import Dataset, Preprocessing, prepare_dataset, read_dataset
from edgeq.errors import InputError, UnsupportedError
from edgeq.inspection import inspect
from edgeq.mcu.bundle import export_mcu
from edgeq.results import ConvertResult, ModeResult, SizeBaseline

__all__ = ["convert", "export_mcu", "inspect"]

Progress = Callable[[str], None]


def convert(
    model: str | Path,
    calib: str | Path | None = None,
    eval: str | Path | None = None,
    mode: str | Sequence[str] = "int8",
    io: str = "auto",
    calib_samples: int = 200,
    eval_samples: int | None = None,
    seed: int = 0,
    scale: float | None = None,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    unsafe: bool = False,
    custom_objects: str | Path | None = None,
    static_batch: bool = True,
    progress: Progress | None = None,
) -> ConvertResult:
    """Convert a Keras model (.keras, Keras 2 .h5) or SavedModel folder to TensorFlow Lite.

    ``mode`` is a mode name, a list of names or ``"all"``; ``io="float"`` keeps float
    input/output on int8 / int16x8 models. ``calib`` (needed by int8 and int16x8) and ``eval``
    are .npz (``x``, optional ``y``; ``file.npz:NAME`` reads ``x_NAME``/``y_NAME``), .npy, .csv or
    an image folder; ``scale``, ``mean`` and ``std`` preprocess both. Every file is loaded and
    run once in LiteRT; with ``eval`` each is also evaluated against the float model. Keras
    models are converted with batch size 1 (static shapes, what microcontrollers want) unless
    ``static_batch=False``.

    Returns a ConvertResult (``.save(folder)`` writes the .tflite files and reports).
    Raises InputError for bad files, data or options, UnsupportedError for models the modes
    cannot express, ConversionError when TensorFlow's converter fails otherwise.
    """
    from edgeq.conversion.evaluate import REFERENCE_KERNELS, evaluate
    from edgeq.conversion.loading import load_model
    from edgeq.conversion.tflite_converter import convert_variant
    from edgeq.tflite import read_tflite

    say = progress or (lambda _message: None)
    variants = parse_modes(mode if isinstance(mode, str) else ",".join(mode), io)
    preprocessing = Preprocessing(scale=scale, mean=_as_tuple(mean), std=_as_tuple(std))

    say(f"loading {model}")
    source = load_model(model, unsafe=unsafe, custom_objects=custom_objects)
    if any(v.needs_calibration for v in variants) and calib is None:
        needing = ", ".join(v.label for v in variants if v.needs_calibration)
        raise InputError(
            f"mode {needing} needs calibration data: pass --calib FILE (.npz, .npy, .csv or image folder)"
        )
    calibration_set = evaluation_set = None
    if calib is not None or eval is not None:
        if len(source.inputs) != 1:
            raise UnsupportedError(
                f"model {source.path} has {len(source.inputs)} inputs; edgeq calibrates and evaluates "
                "single-input models only"
            )
        spec = source.inputs[0]
        classes = _class_count(source.outputs[0].shape) if source.outputs else None

        def load(data: str | Path, role: str, samples: int | None) -> Dataset:
            raw = read_dataset(data, spec.shape, role)
            return prepare_dataset(
                raw,
                spec.shape,
                spec.dtype,
                preprocessing,
                role,
                samples=samples,
                seed=seed,
                num_classes=classes,
            )

        calibration_set = load(calib, "calibration", calib_samples) if calib is not None else None
        evaluation_set = load(eval, "evaluation", eval_samples) if eval is not None else None

    reference_outputs = reference = None
    if evaluation_set is not None:
        say(f"running the float model on {len(evaluation_set)} evaluation samples")
        reference_outputs = source.predict(evaluation_set.x)
        reference = evaluate(reference_outputs, reference_outputs, evaluation_set.y)

    stem = _file_stem(source.path)
    smoke_input = _smoke_input(calibration_set, evaluation_set)
    results: list[ModeResult] = []
    for variant in variants:
        say(f"converting {variant.label}")
        converted = convert_variant(
            source, variant, calibration_set.x if calibration_set else None, static_batch
        )
        say(f"running {variant.label} in LiteRT" + (" and evaluating" if evaluation_set is not None else ""))
        checked = _run_in_litert(converted.tflite, evaluation_set, smoke_input)
        evaluation = None
        if checked.outputs is not None and reference_outputs is not None and evaluation_set is not None:
            evaluation = evaluate(reference_outputs, checked.outputs, evaluation_set.y)
        results.append(
            ModeResult(
                key=variant.key,
                label=variant.label,
                scheme=variant.scheme,
                io=variant.io,
                file_name=f"{stem}_{variant.key}.tflite",
                tflite=converted.tflite,
                conversion_seconds=converted.seconds,
                ops=read_tflite(converted.tflite, variant.label).op_names(),
                inputs=checked.inputs,
                outputs=checked.outputs_info,
                runs_in_litert=checked.runs,
                evaluation=evaluation,
                problem=checked.problem,
            )
        )

    float32 = next((m for m in results if m.key == "float32"), None)
    if float32 is not None:
        baseline = SizeBaseline("float32_tflite", float32.size_bytes)
    else:
        baseline = SizeBaseline("float32_weights", 4 * max(source.parameter_count or 0, 1))
    return ConvertResult(
        source=source.describe(),
        modes=tuple(results),
        size_baseline=baseline,
        preprocessing=preprocessing.to_dict(),
        calibration=_describe(calibration_set),
        evaluation_data=_describe(evaluation_set),
        reference=reference,
        kernels=REFERENCE_KERNELS,
        seed=seed,
        environment=_environment(),
        edgeq_version=__version__,
    )


def _as_tuple(value: float | Sequence[float] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


def _class_count(shape: tuple[int | None, ...]) -> int | None:
    return shape[-1] if len(shape) == 2 and shape[-1] is not None and shape[-1] > 1 else None


def _file_stem(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem if path.is_file() else path.name).strip("_")
    return stem or "model"


def _smoke_input(*datasets: Dataset | None) -> np.ndarray | None:
    for dataset in datasets:
        if dataset is not None:
            return dataset.x[:1]
    return None


@dataclass(frozen=True)
class _LiteRTRun:
    runs: bool
    inputs: tuple[TensorInfo, ...]
    outputs_info: tuple[TensorInfo, ...]
    outputs: list[np.ndarray] | None
    problem: str | None


def _run_in_litert(tflite: bytes, evaluation: Dataset | None, smoke: np.ndarray | None) -> _LiteRTRun:
    """Evaluate with the reference kernels and run once with the default (XNNPACK) kernels, as an
    app would, both in a child process: LiteRT aborts the process on some models (for example an
    int8 SOFTMAX whose input scale is near zero), and that must not take edgeq down with it."""
    from edgeq.mcu.runtimes import run_probe

    arrays = {"smoke.npz": {"x": smoke if smoke is not None else np.zeros((0,), np.float32)}}
    steps = [{"run": "evaluate", "reference": False, "samples": "smoke.npz" if smoke is not None else None}]
    if evaluation is not None:
        arrays["eval.npz"] = {"x": evaluation.x}
        steps.insert(0, {"run": "evaluate", "reference": True, "samples": "eval.npz", "outputs": "out.npz"})
    results = run_probe(tflite, steps, arrays)
    described = next((r for r in results if r.ok), None)
    inputs = tuple(_tensor_info(d) for d in described.data["input_details"]) if described else ()
    outputs_info = tuple(_tensor_info(d) for d in described.data["output_details"]) if described else ()
    outputs = None
    if evaluation is not None and results[0].ok:
        saved = results[0].data["arrays"]
        outputs = [saved[f"output_{i}"] for i in range(len(saved))]
    failed = [
        (kind, r)
        for kind, r in zip(("reference", "default")[-len(results) :], results, strict=True)
        if not r.ok
    ]
    problem = "; ".join(f"LiteRT ({kind} kernels): {r.reason()}" for kind, r in failed) or None
    return _LiteRTRun(
        runs=results[-1].ok, inputs=inputs, outputs_info=outputs_info, outputs=outputs, problem=problem
    )


def _tensor_info(described: dict) -> TensorInfo:
    return TensorInfo(**{**described, "shape": tuple(described["shape"])})


def _describe(dataset: Dataset | None) -> dict[str, object] | None:
    return dataset.describe() if dataset is not None else None


def _environment() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "ai-edge-litert", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            try:
                versions[package] = metadata.version(f"{package}-cpu")
            except metadata.PackageNotFoundError:
                versions[package] = "not installed"
    return versions
