"""Run a .tflite file in LiteRT and compare its outputs with the float model's.

Evaluation uses LiteRT's reference kernels (``BUILTIN_REF``), whose integer results TensorFlow
Lite Micro reproduces bit for bit in edgeq's checks, except FULLY_CONNECTED: LiteRT 2.x rounds
its requantization once and TFLM twice, so they differ by 1 at rounding ties (per-op comparison
in ``edgeq.mcu.runtimes.compare_tflm_with_reference``). The default resolver (XNNPACK) differs by
a few LSB.
Fidelity metrics follow STM32Cube.AI's validate: relative L2 error, cosine similarity and the
largest absolute error, each over the whole flattened output tensor of the evaluation set.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeq.errors import InputError, first_line

REFERENCE_KERNELS = (
    "LiteRT BUILTIN_REF (reference kernels; TensorFlow Lite Micro matches them bit for bit except "
    "FULLY_CONNECTED, which can differ by 1 at rounding ties)"
)


@dataclass(frozen=True)
class TensorInfo:
    """A .tflite input or output as LiteRT sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


@dataclass(frozen=True)
class OutputFidelity:
    """How close one output of a converted model is to the float model's, over all samples."""

    output: int
    relative_l2: float
    cosine: float
    max_abs_error: float
    rmse: float
    mae: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "relative_l2": _json_float(self.relative_l2),
            "cosine": _json_float(self.cosine),
            "max_abs_error": _json_float(self.max_abs_error),
            "rmse": _json_float(self.rmse),
            "mae": _json_float(self.mae),
        }


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and fidelity of one model on the evaluation set.

    ``top1`` is a fraction (None without labels or for non-classifiers); ``agreement`` is the
    fraction of samples whose arg-max equals the float model's (None for non-classifiers).
    """

    samples: int
    top1: float | None
    agreement: float | None
    outputs: tuple[OutputFidelity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "top1": self.top1,
            "agreement": self.agreement,
            "outputs": [fidelity.to_dict() for fidelity in self.outputs],
        }


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


class TFLiteRunner:
    """A LiteRT interpreter for one model, fed float inputs and returning float outputs.

    Integer inputs are quantized and integer outputs dequantized with the tensors' own scale and
    zero point, as application code on a device would. Outputs come in the order of the
    converter's signature (``output_0``, ``output_1``, ...), which is the Keras model's order.
    """

    def __init__(self, tflite: bytes, reference_kernels: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
        try:
            self._interpreter = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"LiteRT cannot load the model ({first_line(exc)})") from exc
        self._input_index = [d["index"] for d in self._interpreter.get_input_details()]
        self._output_index = self._signature_output_order()
        details = {d["index"]: d for d in self._interpreter.get_tensor_details()}
        self.inputs = tuple(_tensor_info(details[i]) for i in self._input_index)
        self.outputs = tuple(_tensor_info(details[i]) for i in self._output_index)
        self.ops = tuple(op["op_name"] for op in self._interpreter._get_ops_details())

    def _signature_output_order(self) -> list[int]:
        outputs = [d["index"] for d in self._interpreter.get_output_details()]
        signatures = self._interpreter.get_signature_list()
        if len(signatures) != 1:
            return outputs
        runner = self._interpreter.get_signature_runner(next(iter(signatures)))
        named = runner.get_output_details()
        ordered = sorted(named, key=output_order_key)
        indices = [named[name]["index"] for name in ordered]
        return indices if sorted(indices) == sorted(outputs) else outputs

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Invoke once per sample of ``x``; returns one float32 array per output."""
        if len(self._input_index) != 1:
            raise InputError("edgeq evaluates single-input models only")
        info = self.inputs[0]
        collected: list[list[np.ndarray]] = [[] for _ in self._output_index]
        for sample in x:
            self._interpreter.set_tensor(self._input_index[0], quantize(sample[np.newaxis], info))
            self._interpreter.invoke()
            for slot, (index, out_info) in enumerate(zip(self._output_index, self.outputs, strict=True)):
                collected[slot].append(dequantize(self._interpreter.get_tensor(index), out_info))
        return [np.concatenate(parts) for parts in collected]


def output_order_key(name: str) -> tuple[int, str]:
    """Sort key putting signature outputs ``output_0, output_1, ..., output_10`` in model order."""
    suffix = name.rsplit("_", 1)[-1]
    return (int(suffix), name) if suffix.isdigit() else (sys.maxsize, name)


def _tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(detail["name"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Float → the tensor's type: ``round(x / scale) + zero_point``, rounding half away from zero."""
    dtype = np.dtype(info.dtype)
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    if info.scale == 0:
        return x.astype(dtype)
    scaled = x.astype(np.float32) / np.float32(info.scale)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    limits = np.iinfo(dtype)
    return np.clip(rounded + info.zero_point, limits.min, limits.max).astype(dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    """The tensor's values as float32: ``(q - zero_point) * scale`` for integer tensors."""
    if np.issubdtype(q.dtype, np.integer) and info.scale != 0:
        return ((q.astype(np.float32) - np.float32(info.zero_point)) * np.float32(info.scale)).astype(
            np.float32
        )
    return q.astype(np.float32)


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
