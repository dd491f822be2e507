"""Drive ``tf.lite.TFLiteConverter`` for one variant: builtin ops only, never Flex."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edgeq.conversion.loading import SourceModel
from edgeq.conversion.modes import Variant
from edgeq.conversion.quiet import import_tensorflow, quiet
from edgeq.errors import ConversionError, InputError, UnsupportedError


@dataclass(frozen=True)
class Converted:
    """The bytes of a .tflite file, how long the converter took, and what it printed."""

    tflite: bytes
    seconds: float
    log: str


def convert_variant(
    source: SourceModel, variant: Variant, calibration: np.ndarray | None, static_batch: bool = True
) -> Converted:
    """Convert ``source`` to ``variant``; ``calibration`` holds the representative samples.

    ``static_batch`` fixes a Keras model's batch dimension to 1 (see SourceModel.make_converter).

    Raises InputError when calibration data is needed and missing, UnsupportedError when the
    model needs ops outside the TFLite builtins for this scheme, ConversionError otherwise.
    """
    tf = import_tensorflow()
    if variant.needs_calibration and (calibration is None or len(calibration) == 0):
        raise InputError(f"mode {variant.label} needs calibration data: pass --calib FILE")
    started = time.perf_counter()
    converter = source.make_converter(static_batch)
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    if variant.scheme == "float32":
        converter.target_spec.supported_ops = [builtins]
    elif variant.scheme == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        converter.target_spec.supported_ops = [builtins]
    elif variant.scheme == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [builtins]
    else:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(calibration)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            if variant.scheme == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        if variant.io != "float32":
            io_type = tf.int8 if variant.io == "int8" else tf.int16
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
    try:
        with quiet() as captured:
            tflite = converter.convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise _explain_failure(variant, exc) from exc
    return Converted(tflite=bytes(tflite), seconds=time.perf_counter() - started, log=captured.text)


def _representative(calibration: np.ndarray | None) -> object:
    samples = np.asarray(calibration, dtype=np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for index in range(len(samples)):
            yield [samples[index : index + 1]]

    return generate


_OP_PATTERN = re.compile(r"'((?:tf|tfl)\.[A-Za-z0-9_]+)'")


def _explain_failure(variant: Variant, exc: Exception) -> Exception:
    text = str(exc)
    ops = sorted(set(_OP_PATTERN.findall(text)))
    if ops or "not supported" in text or "Flex" in text:
        named = ", ".join(ops) if ops else "some ops"
        return UnsupportedError(
            f"mode {variant.label}: {named} cannot be expressed with TensorFlow Lite builtin ops "
            "for this mode (edgeq never emits Flex ops, which no microcontroller runtime runs); "
            "try another --mode or replace the layer"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ConversionError(f"mode {variant.label}: the TensorFlow Lite converter failed ({first[:200]})")
