"""Run a .tflite file in LiteRT and compare its outputs with the float model's.

Evaluation uses LiteRT's reference kernels (``BUILTIN_REF``), whose integer results TensorFlow
Lite Micro reproduces bit for bit in edgeq's checks, except FULLY_CONNECTED: LiteRT 2.x rounds
its requantization once and TFLM twice, so they differ by 1 at rounding ties (per-op comparison
in ``edgeq.runtimes.runners.compare_tflm_with_reference``). The default resolver (XNNPACK) differs by
a few LSB.
Fidelity metrics follow STM32Cube.AI's validate: relative L2 error, cosine similarity and the
largest absolute error, each over the whole flattened output tensor of the evaluation set.
"""

from __future__ import annotations

import math

import numpy as np

from edgeq.errors import InputError
from edgeq.results.evaluation import Evaluation, OutputFidelity


def is_classifier(outputs: list[np.ndarray]) -> bool:
    """A first output of shape (samples, classes) with more than one class is read as class scores."""
    return len(outputs) > 0 and outputs[0].ndim == 2 and outputs[0].shape[1] > 1


def evaluate(
    reference: list[np.ndarray], candidate: list[np.ndarray], labels: np.ndarray | None
) -> Evaluation:
    """Compare ``candidate`` outputs with ``reference`` (the float model) and with ``labels``."""
    if len(reference) != len(candidate):
        raise InputError(
            f"the converted model has {len(candidate)} outputs, the float model {len(reference)}"
        )
    fidelity = tuple(
        _fidelity(i, ref.reshape(-1).astype(np.float64), out.reshape(-1).astype(np.float64))
        for i, (ref, out) in enumerate(zip(reference, candidate, strict=True))
    )
    top1 = agreement = None
    if is_classifier(reference):
        predicted = np.argmax(candidate[0], axis=1)
        agreement = float(np.mean(predicted == np.argmax(reference[0], axis=1)))
        if labels is not None:
            top1 = float(np.mean(predicted == labels))
    return Evaluation(samples=len(candidate[0]), top1=top1, agreement=agreement, outputs=fidelity)


def _fidelity(index: int, ref: np.ndarray, out: np.ndarray) -> OutputFidelity:
    diff = out - ref
    ref_norm, out_norm = float(np.linalg.norm(ref)), float(np.linalg.norm(out))
    diff_norm = float(np.linalg.norm(diff))
    relative = diff_norm / ref_norm if ref_norm > 0 else (0.0 if diff_norm == 0 else math.inf)
    if ref_norm > 0 and out_norm > 0:
        cosine = float(np.dot(ref, out) / (ref_norm * out_norm))
    else:
        cosine = 1.0 if diff_norm == 0 else 0.0
    return OutputFidelity(
        output=index,
        relative_l2=relative,
        cosine=cosine,
        max_abs_error=float(np.max(np.abs(diff))) if diff.size else 0.0,
        rmse=float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0,
        mae=float(np.mean(np.abs(diff))) if diff.size else 0.0,
    )
