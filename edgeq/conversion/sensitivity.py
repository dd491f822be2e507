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
from edgeq.tflite import ModelGraph, read_tflite

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


# Layers that run no op of their own in a converted model: names pass through them.
_PASSTHROUGH = frozenset(
    {"InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
     "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"}
)  # fmt: skip
_ACTIVATION_LAYERS = frozenset({"Activation", "ReLU"})
_FUSABLE_ACTIVATIONS = frozenset({"relu", "relu6", "tanh"})
_WEIGHTED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


class _KerasGraph:
    """A Keras model's layers as a graph: parents and children by layer name, in model order."""

    def __init__(self, model: Any) -> None:
        graph = getattr(model, "_functional", None) or model
        operations = list(getattr(graph, "operations", None) or getattr(graph, "layers", []))
        self.layers = {layer.name: layer for layer in operations}
        self.order = list(self.layers)
        self.parents: dict[str, list[str]] = {name: [] for name in self.order}
        self.children: dict[str, list[str]] = {name: [] for name in self.order}
        for name, layer in self.layers.items():
            for node in getattr(layer, "_inbound_nodes", []):
                for parent in getattr(node, "parent_nodes", []):
                    parent_name = getattr(parent.operation, "name", None)
                    if parent_name in self.layers and parent_name not in self.parents[name]:
                        self.parents[name].append(parent_name)
                        self.children[parent_name].append(name)
        self.inputs = [name for name in self.order if type(self.layers[name]).__name__ == "InputLayer"]

    def kind(self, name: str) -> str:
        return type(self.layers[name]).__name__

    def is_passthrough(self, name: str) -> bool:
        layer = self.layers[name]
        linear = self.kind(name) == "Activation" and _activation_name(layer) == "linear"
        return self.kind(name) in _PASSTHROUGH or linear

    def next_layers(self, name: str) -> list[str]:
        """The layers reading ``name``'s output, looking through layers that run no op."""
        found: list[str] = []
        for child in self.children.get(name, []):
            for layer in self.next_layers(child) if self.is_passthrough(child) else [child]:
                if layer not in found:
                    found.append(layer)
        return found


def _activation_name(layer: Any) -> str:
    if type(layer).__name__ == "ReLU":
        max_value = getattr(layer, "max_value", None)
        plain = not getattr(layer, "negative_slope", 0) and not getattr(layer, "threshold", 0)
        return "relu6" if plain and max_value == 6 else "relu" if plain and max_value is None else "other"
    activation = getattr(layer, "activation", None)
    return str(getattr(activation, "__name__", activation))


def _kernel_rows(kernel: np.ndarray) -> list[np.ndarray]:
    """A Keras kernel as one row per output channel, in each layout TFLite may store it in."""
    rows = [np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)]
    if kernel.ndim == 4:  # DepthwiseConv2D: channel x multiplier; Conv2DTranspose: (kh, kw, out, in)
        rows.append(kernel.reshape(-1, kernel.shape[-2] * kernel.shape[-1]).T)
        rows.append(np.moveaxis(kernel, -2, 0).reshape(kernel.shape[-2], -1))
    return rows


def _weight_rows(weights: np.ndarray, opcode: str) -> np.ndarray:
    if opcode == "DEPTHWISE_CONV_2D":
        return weights.reshape(-1, weights.shape[-1]).T
    return weights.reshape(weights.shape[0], -1)


def _proportional(a: np.ndarray, b: np.ndarray) -> bool:
    """Each row of ``a`` is a multiple of the same row of ``b`` (a folded batch norm scales rows)."""
    if a.shape != b.shape:
        return False
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    live = norms > 0
    if not live.any():
        return bool(np.array_equal(a, b))
    cosine = np.abs(np.sum(a * b, axis=1))[live] / norms[live]
    return bool(np.all(cosine > 0.9999))


def _scope_tokens(tensor: str) -> set[str]:
    """Every name scope in a tensor name, and each with its ``_N`` suffixes stripped."""
    tokens: set[str] = set()
    for part in tensor.split(";"):
        for scope in part.split("/")[:-1]:
            while scope not in tokens:
                tokens.add(scope)
                scope = re.sub(r"_\d+$", "", scope)
    return tokens


def keras_layers_by_op(graph: ModelGraph, model: Any) -> dict[int, tuple[str, ...]]:
    """For each op of the (float) converted ``graph``: the Keras layer that owns its weights, or for
    a weightless op the layer that produced it, then the layers fused into it (batch norm and
    activation folded into a convolution). Ops it cannot place are left out.

    Tensor names alone cannot say this: the converter names scopes after TensorFlow's unique names
    (layer ``dense`` may be scope ``dense_1``, which is also another layer's name) and drops folded
    layers. So weighted ops are matched to layers by their kernels (row by row, up to the scale a
    folded batch norm applies), and the rest by following the Keras graph from their inputs' layers.
    """
    keras = _KerasGraph(model)
    subgraph = graph.main
    kernels = [
        (name, rows)
        for name in keras.order
        for weight in getattr(keras.layers[name], "weights", [])
        if len(getattr(weight, "shape", ())) >= 2
        for rows in _kernel_rows(np.asarray(weight))
    ]
    producers = subgraph.producers()
    consumers = subgraph.consumers()
    end_layer: dict[int, str] = {}  # op -> the last Keras layer whose output its output is
    named: dict[int, tuple[str, ...]] = {}
    owned: set[str] = set()
    for op in subgraph.operators:
        tokens = _scope_tokens(subgraph.tensors[op.outputs[0]].name) if op.outputs else set()
        owner = None
        if op.opcode in _WEIGHTED_OPS and len(op.inputs) > 1 and subgraph.tensors[op.inputs[1]].is_constant:
            rows = _weight_rows(subgraph.tensors[op.inputs[1]].values(), op.opcode)
            matches = [name for name, kernel in kernels if _proportional(rows, kernel)]
            owner = next((name for name in matches if name not in owned), matches[0] if matches else None)
        else:
            sources = []
            for tensor in op.inputs:
                if tensor < 0 or subgraph.tensors[tensor].is_constant:
                    continue
                if tensor in producers and producers[tensor] in end_layer:
                    sources.append(end_layer[producers[tensor]])
                elif tensor in subgraph.inputs and keras.inputs:
                    sources.append(keras.inputs[min(subgraph.inputs.index(tensor), len(keras.inputs) - 1)])
            following = [set(keras.next_layers(source)) for source in sources]
            common = set.intersection(*following) if following else set()
            children = [name for name in keras.order if name in (common or set().union(*following))]
            candidates = children + [source for source in sources if source not in children]
            by_name = [name for name in candidates if name in tokens]
            fresh = [name for name in children if name not in owned]
            owner = (by_name or fresh or sources or [None])[0]
        if owner is None:
            continue
        owned.add(owner)
        chain = [owner]
        fused_activation = op.option.get("fused_activation", "NONE") != "NONE"
        while True:
            following = keras.next_layers(chain[-1])
            if len(following) != 1 or following[0] in owned:
                break
            successor = following[0]
            kind = keras.kind(successor)
            readers = [subgraph.operators[i] for t in op.outputs for i in consumers.get(t, [])]
            scales_next = any(
                reader.opcode in ("MUL", "ADD")
                and any(subgraph.tensors[t].is_constant for t in reader.inputs if t >= 0)
                for reader in readers
            )
            if kind == "BatchNormalization" and op.opcode in _WEIGHTED_OPS and not scales_next:
                chain.append(successor)
            elif (
                kind in _ACTIVATION_LAYERS
                and fused_activation
                and _activation_name(keras.layers[successor]) in _FUSABLE_ACTIVATIONS
            ):
                chain.append(successor)
                fused_activation = False
            else:
                break
        owned.update(chain)
        end_layer[op.index] = chain[-1]
        named[op.index] = tuple(chain)
    return named


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
        by_tensor = self._layers_by_tensor()
        errors = []
        for row in rows:
            layers = by_tensor.get(row["tensor_name"], ())
            layer = layers[0] if layers else keras_layer_of(row["tensor_name"], layer_names)
            if layer is None and len(errors) == len(rows) - 1:
                layer = self.source.output_layer_name()  # the output tensor is named by the signature
            errors.append(
                LayerError(
                    op_index=len(errors),
                    op=row["op_name"],
                    tensor=row["tensor_name"],
                    keras_layer=layer,
                    fused_layers=tuple(layers[1:]),
                    scale=float(row["scale"]),
                    zero_point=int(float(row["zero_point"])),
                    elements=int(float(row["num_elements"])),
                    rmse=math.sqrt(max(float(row["mean_squared_error"]), 0.0)),
                    max_abs_error=float(row["max_abs_error"]),
                    mean_error=float(row["mean_error"]),
                )
            )
        return tuple(errors)

    def _layers_by_tensor(self) -> dict[str, tuple[str, ...]]:
        """Output tensor name -> (owning layer, fused layers...), from the calibrated float model."""
        model = self.source.keras_model
        if model is None:
            return {}
        try:
            graph = read_tflite(bytes(self._debugger.calibrated_model), "calibrated")
            named = keras_layers_by_op(graph, model)
        except Exception:  # a layout this matching does not know: the name scopes still say something
            return {}
        subgraph = graph.main
        return {
            subgraph.tensors[t].name: layers
            for index, layers in named.items()
            for t in subgraph.operators[index].outputs[:1]
        }

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
