"""Which layers int8 hurts: TensorFlow's QuantizationDebugger, per layer, named by Keras layer.

The model is calibrated once (the converter's own calibration, the same as for ``--mode int8``);
the debugger then runs every quantized op on the dequantized output of the op before it and
compares its result with the same op in float. That isolates the error each op's quantization
*introduces*, rather than what it inherits. Dividing the root-mean-square error by the op's output
scale makes layers comparable: 0.29 (1/sqrt(12)) is pure rounding to the int8 grid, anything well
above it is clipping or weight error.

The calibrated model is kept, so any set of ops can then be left in float (the debugger's
denylist mechanism) without calibrating again: that is what ``--max-drop`` searches over.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from edgeq.conversion.loading import SourceModel
from edgeq.conversion.quiet import import_tensorflow, quiet
from edgeq.errors import ConversionError
from edgeq.results.layers import LayerError

ROUNDING_ONLY = 1 / math.sqrt(12)


def keras_layer_of(tensor: str, layer_names: Iterable[str]) -> str | None:
    """The Keras layer a TFLite tensor comes from, read from the name scopes in its name.

    The converter names fused tensors ``model_1/conv1_1/Relu;model_1/conv1_1/BiasAdd;...``:
    scopes are layer names, sometimes with a ``_N`` suffix. An exact match wins over a suffixed
    one; the last scope that matches (the innermost) is the layer.
    """
    names = set(layer_names)
    for part in tensor.split(";"):
        scopes = part.split("/")[:-1] or part.split("/")
        for scope in reversed(scopes):
            if scope in names:
                return scope
            stripped = re.sub(r"_\d+$", "", scope)
            while stripped != scope:
                if stripped in names:
                    return stripped
                scope, stripped = stripped, re.sub(r"_\d+$", "", stripped)
    return None


class CalibratedModel:
    """A model calibrated once, quantized to full int8 with any chosen ops kept in float."""

    def __init__(
        self, source: SourceModel, calibration: np.ndarray, debug: np.ndarray, static_batch: bool = True
    ) -> None:
        """Calibrate on ``calibration``; the per-layer errors are measured on ``debug`` samples."""
        tf = import_tensorflow()
        self._tf = tf
        self.source = source
        converter = source.make_converter(static_batch)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _samples(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        self._converter = converter
        try:
            with quiet():
                self._debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=_samples(debug)
                )
        except Exception as exc:  # the converter raises several types; all mean calibration failed
            raise ConversionError(f"calibrating for the per-layer report failed ({exc})") from exc

    def layer_errors(self) -> tuple[LayerError, ...]:
        """Every quantized op's error on the debug samples, in the model's op order."""
        with quiet():
            self._debugger.run()
            dump = io.StringIO()
            self._debugger.layer_statistics_dump(dump)
        layer_names = [layer.name for layer in self.source.keras_layers()]
        rows = list(csv.DictReader(io.StringIO(dump.getvalue())))
        errors = []
        for row in rows:
            layer = keras_layer_of(row["tensor_name"], layer_names)
            if layer is None and len(errors) == len(rows) - 1:
                layer = self.source.output_layer_name()  # the output tensor is named by the signature
            errors.append(
                LayerError(
                    op_index=len(errors),
                    op=row["op_name"],
                    tensor=row["tensor_name"],
                    keras_layer=layer,
                    scale=float(row["scale"]),
                    zero_point=int(float(row["zero_point"])),
                    elements=int(float(row["num_elements"])),
                    rmse=math.sqrt(max(float(row["mean_squared_error"]), 0.0)),
                    max_abs_error=float(row["max_abs_error"]),
                    mean_error=float(row["mean_error"]),
                )
            )
        return tuple(errors)

    def quantize(self, float_tensors: Sequence[str] = (), io: str = "int8") -> bytes:
        """Full int8 with the ops producing ``float_tensors`` kept in float (QUANTIZE / DEQUANTIZE
        around them). ``io`` is int8 or float32 (the model's input/output type)."""
        # mlir_quantize is what QuantizationDebugger.get_nondebug_quantized_model calls; called
        # here directly because the debugger's own call fixes float input/output.
        from tensorflow.lite.python import convert

        tf = self._tf
        io_type = tf.int8 if io == "int8" else tf.float32
        try:
            with quiet():
                return bytes(
                    convert.mlir_quantize(
                        self._debugger.calibrated_model,
                        fully_quantize=io == "int8",
                        input_data_type=io_type,
                        output_data_type=io_type,
                        denylisted_nodes=list(float_tensors) or None,
                    )
                )
        except Exception as exc:  # the quantizer raises several types; all mean it failed
            raise ConversionError(
                f"quantizing with {len(float_tensors)} ops in float failed ({exc})"
            ) from exc


def _samples(x: np.ndarray) -> Any:
    samples = np.asarray(x, dtype=np.float32)

    def generate() -> Any:
        for index in range(len(samples)):
            yield [samples[index : index + 1]]

    return generate
