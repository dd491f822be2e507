"""Quantization-aware fine-tuning on Keras 3 itself, and conversion of the result to full int8.

TensorFlow Model Optimization's QAT refuses Keras 3 models, so edgeq rebuilds the model's graph
with its own layers:

- every Conv2D / DepthwiseConv2D / Dense is fused with the BatchNormalization and the ReLU/ReLU6
  that follow it (as the converter fuses them), batch-norm folded into the weights with its moving
  statistics frozen (gamma and beta stay trainable);
- weights are fake-quantized symmetric int8 (-127..127), per output channel for convolutions and
  depthwise convolutions, per tensor for dense layers, exactly as the TFLite converter lays them out;
  or, with ``weight_bits=4``, symmetric int4 (-7..7) per output channel for all three;
- activations are fake-quantized int8 (-128..127) at the model input and at the output of every
  fused layer, Add, Concatenate and stand-alone activation, with ranges first calibrated like post-training
  quantization (min/max over calibration samples) and then tracked during training as an
  exponential moving average of each batch's min/max;
- a Concatenate's inputs are requantized to its one output range, as TFLite's int8 CONCATENATION
  requires one scale for all its inputs and its output;
- pooling, Flatten, Reshape and Dropout pass their input's quantization through; a final Softmax
  gets TFLite's fixed int8 output quantization (scale 1/256, zero point -128).

Gradients pass the fake quantization straight through (``tf.quantization.fake_quant_*``). After
training, an export graph holds the folded float weights behind the same fake-quant ops with the
learned ranges as constants; the TFLite converter turns fake-quant ops into quantization
parameters, so the .tflite file computes what training saw.

4-bit weights go the same way, exactly: the export graph holds each kernel already on its 4-bit
grid (every value k * s, k in -7..7, s the channel's 4-bit step). A convolution's grid sits behind
an 8-bit narrow-range fake quant whose limit is 127 * s, so the converter stores int8 values k with
scale s. A dense kernel goes in without fake quant (the converter cannot lay out a per-channel
fake-quantized matmul kernel), is quantized per channel by its largest value, and its int8 values
are mapped back to k and its scales to s after conversion (its bias enters pre-scaled so its int32
values need no change). The int8 constants are then stored as INT4
(``edgeq.tflite.rewrite.pack_int4_weights``): TF 2.21's converter writes no INT4 tensor itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeq.conversion.qat_weights import (
    INT4_LEVELS,
    INT8_LEVELS,
    check_weight_bits,
    export_int4_weights,
    int4_grid,
    quantize_weights,
)
from edgeq.conversion.quiet import import_tensorflow, quiet
from edgeq.errors import ConversionError, UnsupportedError
from edgeq.results.qat import QATLayer

if TYPE_CHECKING:
    from edgeq.results.convert import ModeResult

EMA_MOMENTUM = 0.99
BN_ABSORBING = ("Conv2D", "DepthwiseConv2D", "Dense")
PASS_THROUGH = ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Flatten", "Reshape")
SUPPORTED_LAYERS = (
    "InputLayer",
    *BN_ABSORBING,
    "BatchNormalization",
    "ReLU",
    "Activation",
    "Add",
    "Concatenate",
    *PASS_THROUGH,
    "Dropout",
    "Softmax",
)
_ACTIVATIONS = ("linear", "relu", "relu6")


@dataclass
class _Node:
    """One step of the fused graph: a layer (plus what was fused into it) and its input tensors."""

    layer: Any
    kind: str
    inputs: list[int]
    output: int
    batch_norm: Any = None
    activation: str = "linear"
    fused: list[str] = field(default_factory=list)


def _activation_name(layer: Any) -> str | None:
    """The activation's name (relu, relu6, linear, softmax, ...); None for a ReLU that is not one."""
    kind = type(layer).__name__
    if kind == "ReLU":
        config = layer.get_config()
        max_value = config.get("max_value")
        if config.get("negative_slope", 0) or config.get("threshold", 0):
            return None
        if max_value is None:
            return "relu"
        return "relu6" if float(max_value) == 6.0 else None
    function = getattr(layer, "activation", None)
    return getattr(function, "__name__", str(function)) if function is not None else "linear"


def trace_graph(model: Any) -> tuple[list[_Node], int, int]:
    """The model as fused nodes in execution order, with the ids of its input and output tensors.

    Raises UnsupportedError naming the first layer edgeq's QAT cannot handle.
    """
    import keras

    if isinstance(model, keras.Sequential):
        model = model._functional  # a built Sequential model keeps a functional twin
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedError(
            f"edgeq qat handles single-input, single-output models; {model.name} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    ids: dict[int, int] = {id(model.inputs[0]): 0}
    nodes: list[_Node] = []
    supported = ", ".join(SUPPORTED_LAYERS)
    in_graph = _graph_nodes(model)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind not in SUPPORTED_LAYERS:
            raise UnsupportedError(
                f"edgeq qat cannot handle layer {layer.name!r} ({kind}); supported layers: {supported}"
            )
        used = [n for n in layer._inbound_nodes if id(n) in in_graph]
        if len(used) > 1:
            raise UnsupportedError(
                f"edgeq qat cannot handle layer {layer.name!r}: it is used {len(used)} times"
            )
        node = next((n for n in used if all(id(t) in ids for t in n.input_tensors)), None)
        if node is None or len(node.output_tensors) != 1:
            raise UnsupportedError(f"edgeq qat cannot follow the graph at layer {layer.name!r}")
        if kind == "BatchNormalization":
            _check_channel_axis(layer, len(node.output_tensors[0].shape))
        activation = "linear" if kind in ("Add", "Concatenate", *PASS_THROUGH, "Dropout", "Softmax") else None
        softmax_after = False
        if activation is None and kind != "BatchNormalization":
            activation = _activation_name(layer)
            if activation == "softmax" and kind in ("Activation", "Dense"):
                kind = "Softmax" if kind == "Activation" else kind
                activation, softmax_after = "linear", kind == "Dense"
            if activation not in _ACTIVATIONS:
                raise UnsupportedError(
                    f"edgeq qat cannot handle the activation of layer {layer.name!r} ({kind}); "
                    f"supported: {', '.join(_ACTIVATIONS)}"
                )
        ids[id(node.output_tensors[0])] = len(ids)
        nodes.append(
            _Node(
                layer=layer,
                kind=kind,
                inputs=[ids[id(t)] for t in node.input_tensors],
                output=ids[id(node.output_tensors[0])],
                activation=activation or "linear",
            )
        )
        if softmax_after:  # Dense(..., activation="softmax") is a FULLY_CONNECTED and a SOFTMAX
            internal = -len(nodes)  # an id no Keras tensor has
            nodes.append(_Node(layer=None, kind="Softmax", inputs=[internal], output=nodes[-1].output))
            nodes[-2].output = internal
    if id(model.outputs[0]) not in ids:
        raise UnsupportedError(f"edgeq qat cannot follow the graph of {model.name} to its output")
    return _fuse(nodes), 0, ids[id(model.outputs[0])]


def _graph_nodes(model: Any) -> set[int]:
    """Ids of the Keras nodes on the paths from the model's inputs to its outputs.

    A layer can have other inbound nodes: a Sequential model built more than once (as Keras 2
    ``.h5`` files load) calls each layer once per build, and only one call is in the graph.
    """
    seen: set[int] = set()
    pending = list(model.outputs)
    while pending:
        history = getattr(pending.pop(), "_keras_history", None)
        if history is None:
            continue
        node = history.operation._inbound_nodes[history.node_index]
        if id(node) not in seen:
            seen.add(id(node))
            pending.extend(node.input_tensors)
    return seen


def _check_channel_axis(layer: Any, rank: int) -> None:
    """Batch-norm folds into the weights only over the last (channel) axis; Keras 2 files store
    ``axis`` as a list (``[3]``)."""
    axis = layer.get_config()["axis"]
    axes = [int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if axes != [rank - 1]:
        raise UnsupportedError(
            f"edgeq qat folds batch-norm over the last (channel) axis; layer {layer.name!r} "
            f"normalizes axis {axis}"
        )


def _fuse(nodes: list[_Node]) -> list[_Node]:
    """Fold BatchNormalization into the layer before it and activations into the layer or Add
    before them, where that layer's output feeds nothing else."""
    consumers: dict[int, int] = {}
    for node in nodes:
        for tensor in node.inputs:
            consumers[tensor] = consumers.get(tensor, 0) + 1
    by_output = {node.output: node for node in nodes}
    fused: list[_Node] = []
    for node in nodes:
        producer = by_output.get(node.inputs[0]) if len(node.inputs) == 1 else None
        alone = producer is not None and consumers.get(producer.output) == 1 and producer in fused
        if node.kind == "BatchNormalization":
            if not (alone and producer.kind in BN_ABSORBING and producer.batch_norm is None
                    and producer.activation == "linear"):  # fmt: skip
                raise UnsupportedError(
                    f"edgeq qat folds batch-norm into the Conv2D, DepthwiseConv2D or Dense layer "
                    f"before it, and layer {node.layer.name!r} does not follow one without activation"
                )
            producer.batch_norm = node.layer
            producer.fused.append(node.layer.name)
            producer.output = node.output
            by_output[node.output] = producer
            continue
        activation_after = node.kind in ("ReLU", "Activation") and alone
        if activation_after and producer.kind in (*BN_ABSORBING, "Add") and producer.activation == "linear":
            producer.activation = node.activation
            producer.fused.append(node.layer.name)
            producer.output = node.output
            by_output[node.output] = producer
            continue
        fused.append(node)
        by_output[node.output] = node
    return fused


def build_qat_model(
    model: Any, calibration: np.ndarray, batch_size: int = 32, weight_bits: int = 8
) -> tuple[Any, list[_Node]]:
    """A Keras model computing ``model`` with int8 activation fake quantization, ranges calibrated
    on ``calibration``, and ``weight_bits`` (8 or 4) weight fake quantization.

    Raises UnsupportedError for layers it cannot handle, ValueError for other weight bits."""
    check_weight_bits(weight_bits)
    tf = import_tensorflow()
    import keras

    nodes, input_id, output_id = trace_graph(model)
    layers = _qat_layer_classes()
    inputs = keras.Input(model.inputs[0].shape[1:], name="input")
    tensors: dict[int, Any] = {input_id: layers["fake_quant"](name="input_quant")(inputs)}
    for node in nodes:
        args = [tensors[i] for i in node.inputs]
        if node.kind in BN_ABSORBING:
            out = layers["linear"](
                node.layer, node.batch_norm, node.activation, weight_bits, name=node.layer.name
            )(args[0])
        elif node.kind == "Add":
            out = layers["add"](node.activation, name=node.layer.name)(args)
        elif node.kind == "Concatenate":
            out = layers["concat"](node.layer.get_config()["axis"], name=node.layer.name)(args)
        elif node.kind in ("ReLU", "Activation") and node.activation != "linear":
            out = layers["activation"](node.activation, name=node.layer.name)(args[0])
        elif node.kind in ("ReLU", "Activation", "Dropout"):
            out = args[0]
        elif node.kind == "Softmax":
            out = keras.layers.Softmax(name=node.layer.name if node.layer else None)(args[0])
        else:
            out = node.layer.__class__.from_config(node.layer.get_config())(args[0])
        tensors[node.output] = out
    qat = keras.Model(inputs, tensors[output_id], name=f"{model.name}_qat")
    calibrating = [layer for layer in qat.layers if hasattr(layer, "calibrating")]
    for layer in calibrating:
        layer.calibrating = True
    with quiet():
        for start in range(0, len(calibration), batch_size):
            qat(tf.constant(calibration[start : start + batch_size]), training=False)
    for layer in calibrating:
        layer.calibrating = False
    return qat, nodes


def _qat_layer_classes() -> dict[str, Any]:
    """The Keras layers of the quantization-aware model (defined on first use: they need TF)."""
    if _CLASSES:
        return _CLASSES
    tf = import_tensorflow()
    import keras

    def activate(x: Any, activation: str) -> Any:
        if activation == "relu":
            return tf.nn.relu(x)
        if activation == "relu6":
            return tf.nn.relu6(x)
        return x

    class RangeTracker(keras.layers.Layer):
        """Fake-quantizes its output to int8 over a range calibrated, then tracked by EMA."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.calibrating = False

        def build(self, shape: Any) -> None:
            zero = keras.initializers.Constant(0.0)
            self.low = self.add_weight(shape=(), initializer=zero, trainable=False, name="low")
            self.high = self.add_weight(shape=(), initializer=zero, trainable=False, name="high")

        def fake_quant(self, x: Any, training: Any) -> Any:
            low, high = tf.reduce_min(x), tf.reduce_max(x)
            if self.calibrating:
                self.low.assign(tf.minimum(self.low, low))
                self.high.assign(tf.maximum(self.high, high))
                return x
            if training:
                self.low.assign(EMA_MOMENTUM * self.low + (1 - EMA_MOMENTUM) * tf.minimum(low, 0.0))
                self.high.assign(EMA_MOMENTUM * self.high + (1 - EMA_MOMENTUM) * tf.maximum(high, 0.0))
            return tf.quantization.fake_quant_with_min_max_vars(x, self.low, self.high, num_bits=8)

        def call(self, x: Any, training: Any = None) -> Any:
            return self.fake_quant(x, training)

    class QuantActivation(RangeTracker):
        def __init__(self, activation: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.activation_name = activation

        def call(self, x: Any, training: Any = None) -> Any:
            return self.fake_quant(activate(x, self.activation_name), training)

    class QuantAdd(QuantActivation):
        def call(self, xs: Any, training: Any = None) -> Any:
            return self.fake_quant(activate(_sum(list(xs)), self.activation_name), training)

    class QuantConcat(RangeTracker):
        def __init__(self, axis: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.axis = axis

        def call(self, xs: Any, training: Any = None) -> Any:
            return self.fake_quant(tf.concat(list(xs), axis=self.axis), training)

    class QuantLinear(RangeTracker):
        """Conv2D / DepthwiseConv2D / Dense with folded batch-norm, fake-quantized weights."""

        def __init__(self, source: Any, batch_norm: Any, activation: str, weight_bits: int = 8,
                     **kwargs: Any) -> None:  # fmt: skip
            super().__init__(**kwargs)
            self.kind = type(source).__name__
            self.weight_bits = weight_bits
            self.config = source.get_config()
            self.activation_name = activation
            self.initial = [np.asarray(w) for w in source.get_weights()]
            self.bn_initial = [np.asarray(w) for w in batch_norm.get_weights()] if batch_norm else None
            self.bn_config = batch_norm.get_config() if batch_norm else None

        def build(self, shape: Any) -> None:
            super().build(shape)
            const = keras.initializers.Constant
            kernel = self.initial[0]
            bias = self.initial[1] if len(self.initial) > 1 else np.zeros(self._channels(kernel), np.float32)
            self.kernel = self.add_weight(shape=kernel.shape, initializer=const(kernel), name="kernel")
            self.bias = self.add_weight(shape=bias.shape, initializer=const(bias), name="bias")
            self.bn = None
            if self.bn_initial is not None:
                values = dict(zip(_bn_weight_names(self.bn_config), self.bn_initial, strict=True))
                channels = self._channels(kernel)
                gamma = values.get("gamma", np.ones(channels, np.float32))
                beta = values.get("beta", np.zeros(channels, np.float32))
                self.bn = {
                    "gamma": self.add_weight(shape=gamma.shape, initializer=const(gamma), name="gamma"),
                    "beta": self.add_weight(shape=beta.shape, initializer=const(beta), name="beta"),
                    "mean": self.add_weight(
                        shape=(channels,), initializer=const(values["moving_mean"]), trainable=False,
                        name="moving_mean",
                    ),
                    "variance": self.add_weight(
                        shape=(channels,), initializer=const(values["moving_variance"]), trainable=False,
                        name="moving_variance",
                    ),
                }  # fmt: skip

        def _channels(self, kernel: np.ndarray) -> int:
            if self.kind == "DepthwiseConv2D":
                return kernel.shape[2] * kernel.shape[3]
            return kernel.shape[-1]

        def folded(self) -> tuple[Any, Any]:
            """Kernel and bias with batch-norm folded in."""
            kernel, bias = self.kernel, self.bias
            if self.bn is None:
                return kernel, bias
            factor = self.bn["gamma"] * tf.math.rsqrt(self.bn["variance"] + self.bn_config["epsilon"])
            if self.kind == "DepthwiseConv2D":
                h, w, c, m = kernel.shape
                kernel = tf.reshape(tf.reshape(kernel, (h, w, c * m)) * factor, (h, w, c, m))
            else:
                kernel = kernel * factor
            return kernel, self.bn["beta"] + (bias - self.bn["mean"]) * factor

        def call(self, x: Any, training: Any = None) -> Any:
            kernel, bias = self.folded()
            kernel = quantize_weights(self.kind, kernel, self.weight_bits)
            y = linear_op(self.kind, self.config, x, kernel) + bias
            return self.fake_quant(activate(y, self.activation_name), training)

    class ExportFakeQuant(keras.layers.Layer):
        def __init__(self, low: float, high: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.low, self.high = float(low), float(high)

        def call(self, x: Any) -> Any:
            return tf.quantization.fake_quant_with_min_max_vars(x, self.low, self.high, num_bits=8)

    class ExportLinear(keras.layers.Layer):
        """The trained layer frozen: folded weights as constants behind their fake-quant op."""

        def __init__(self, kind: str, config: dict, kernel: np.ndarray, bias: np.ndarray, activation: str,
                     weight_bits: int = 8, **kwargs: Any) -> None:  # fmt: skip
            super().__init__(**kwargs)
            self.kind, self.config, self.activation_name = kind, config, activation
            self.kernel_value, self.bias_value = kernel, bias
            self.int4 = int4_grid(kind, kernel) if weight_bits == 4 else None  # eager, before tracing

        def call(self, x: Any) -> Any:
            if self.int4 is not None:
                kernel, bias = export_int4_weights(self.kind, *self.int4, self.bias_value)
            else:
                kernel = quantize_weights(self.kind, tf.constant(self.kernel_value))
                bias = tf.constant(self.bias_value)
            return activate(linear_op(self.kind, self.config, x, kernel) + bias, self.activation_name)

    class ExportAdd(keras.layers.Layer):
        def __init__(self, activation: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.activation_name = activation

        def call(self, xs: Any) -> Any:
            return activate(_sum(list(xs)), self.activation_name)

    class ExportConcat(keras.layers.Layer):
        def __init__(self, axis: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.axis = axis

        def call(self, xs: Any) -> Any:
            return tf.concat(list(xs), axis=self.axis)

    class ExportActivation(ExportAdd):
        def call(self, x: Any) -> Any:
            return activate(x, self.activation_name)

    _CLASSES.update(
        fake_quant=RangeTracker, activation=QuantActivation, add=QuantAdd, concat=QuantConcat,
        linear=QuantLinear, export_fake_quant=ExportFakeQuant, export_linear=ExportLinear,
        export_add=ExportAdd, export_concat=ExportConcat, export_activation=ExportActivation,
    )  # fmt: skip
    return _CLASSES


_CLASSES: dict[str, Any] = {}


def _bn_weight_names(config: dict) -> list[str]:
    """The names of a BatchNormalization's weights, in ``get_weights()`` order."""
    learned = [name for name, on in (("gamma", "scale"), ("beta", "center")) if config.get(on, True)]
    return [*learned, "moving_mean", "moving_variance"]


def _sum(terms: list[Any]) -> Any:
    """Pairwise adds, which convert to TFLite ADD ops (``tf.add_n`` would become ADD_N)."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def linear_op(kind: str, config: dict, x: Any, kernel: Any) -> Any:
    """The convolution or matrix product of a Conv2D / DepthwiseConv2D / Dense layer."""
    tf = import_tensorflow()
    if kind == "Dense":
        return tf.matmul(x, kernel)
    padding = config["padding"].upper()
    strides = _pair(config["strides"])
    dilations = _pair(config.get("dilation_rate", 1))
    if kind == "DepthwiseConv2D":
        return tf.nn.depthwise_conv2d(x, kernel, (1, *strides, 1), padding, dilations=dilations)
    if config.get("groups", 1) != 1:
        raise UnsupportedError("edgeq qat does not handle grouped convolutions")
    return tf.nn.conv2d(x, kernel, strides, padding, dilations=dilations)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def describe_layers(qat: Any, nodes: list[_Node]) -> tuple[QATLayer, ...]:
    """What each quantization-aware layer fused and its learned activation range."""
    described = []
    by_name = {layer.name: layer for layer in qat.layers}
    for node in nodes:
        layer = by_name.get(node.layer.name) if node.layer is not None else None
        if layer is None or not hasattr(layer, "low"):
            continue
        weights = "none"
        if node.kind in BN_ABSORBING:
            per_tensor = node.kind == "Dense" and layer.weight_bits == 8
            weights = f"int{layer.weight_bits} per {'tensor' if per_tensor else 'channel'}"
        described.append(
            QATLayer(
                name=node.layer.name, kind=node.kind, fused=tuple(node.fused), weights=weights,
                activation_range=(float(layer.low.numpy()), float(layer.high.numpy())),
            )
        )  # fmt: skip
    return tuple(described)


def export_qat(qat: Any, io_type: str = "int8", weight_bits: int = 8) -> bytes:
    """Convert the trained quantization-aware model to a full-integer .tflite (batch size 1);
    with ``weight_bits=4`` (the bits it was trained with) the weights of every CONV_2D,
    DEPTHWISE_CONV_2D and FULLY_CONNECTED are INT4 tensors, per output channel.

    Raises ConversionError when the converter fails or leaves a float op behind (or, at 4 bits,
    an int8 weight off the 4-bit grid).
    """
    check_weight_bits(weight_bits)
    tf = import_tensorflow()
    import keras

    layers = _qat_layer_classes()
    inputs = keras.Input(batch_shape=(1, *qat.inputs[0].shape[1:]), name="input")
    tensors: dict[int, Any] = {id(qat.inputs[0]): inputs}
    for layer in qat.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        node = layer._inbound_nodes[0]
        args = [tensors[id(t)] for t in node.input_tensors]
        kind = type(layer).__name__
        if kind == "QuantLinear":
            kernel, bias = (np.asarray(v) for v in layer.folded())
            out = layers["export_linear"](layer.kind, layer.config, kernel, bias, layer.activation_name,
                                          weight_bits, name=layer.name)(args[0])  # fmt: skip
        elif kind == "QuantAdd":
            out = layers["export_add"](layer.activation_name, name=f"{layer.name}_op")(args)
        elif kind == "QuantConcat":
            out = layers["export_concat"](layer.axis, name=f"{layer.name}_op")(args)
        elif kind == "QuantActivation":
            out = layers["export_activation"](layer.activation_name, name=f"{layer.name}_op")(args[0])
        elif kind == "RangeTracker":
            out = args[0]
        else:
            out = layer.__class__.from_config(layer.get_config())(args[0])
        if hasattr(layer, "low"):
            low, high = float(layer.low.numpy()), float(layer.high.numpy())
            out = layers["export_fake_quant"](low, high, name=f"{layer.name}_quant")(out)
        tensors[id(node.output_tensors[0])] = out
    exported = keras.Model(inputs, tensors[id(qat.outputs[0])], name=qat.name)
    with quiet():
        converter = tf.lite.TFLiteConverter.from_keras_model(exported)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # 8 bits: per-tensor dense weights keep TFLM's arena small; 4 bits need a scale per channel
        converter._experimental_disable_per_channel_quantization_for_dense_layers = weight_bits == 8
        if io_type == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        try:
            tflite = bytes(converter.convert())
        except Exception as exc:  # the converter raises several types; all mean it failed
            raise ConversionError(f"the TFLite converter failed on the QAT model ({exc})") from exc
    _check_all_integer(tflite)
    return _onto_int4(tflite) if weight_bits == 4 else tflite


def _onto_int4(tflite: bytes) -> bytes:
    """The converted 4-bit QAT file with its FULLY_CONNECTED weights mapped back from the converter's
    int8 values onto -7..7 (see export_int4_weights) and every weight op's weights stored as INT4."""
    from edgeq.tflite.rewrite import pack_int4_weights, regrid_fully_connected, weight_tensor_names

    try:
        regridded = regrid_fully_connected(tflite, INT8_LEVELS, INT4_LEVELS)
        return pack_int4_weights(regridded, weight_tensor_names(regridded))
    except ValueError as exc:
        raise ConversionError(
            f"the converter did not keep the 4-bit weights on their grid ({exc}); "
            "this is a bug in edgeq qat: please report it with the model"
        ) from exc


def _check_all_integer(tflite: bytes) -> None:
    from edgeq.tflite import read_tflite

    main = read_tflite(tflite, "QAT model").main
    floating = sorted(
        {
            op.opcode
            for op in main.operators
            if any(t >= 0 and main.tensors[t].dtype.startswith("float") for t in op.outputs)
        }
    )
    if floating:
        raise ConversionError(
            f"the QAT model converted with float ops left ({', '.join(floating)}); "
            "this is a bug in edgeq qat: please report it with the model"
        )


def regression_targets(y: np.ndarray | None, output_shape: tuple[int | None, ...]) -> np.ndarray | None:
    """The training targets of a regression or autoencoder model: float values with one value per
    model output (shaped like the output), which are not one-hot class labels; else None."""
    if y is None or len(y) == 0 or not np.issubdtype(y.dtype, np.floating):
        return None
    sample_shape = tuple(output_shape[1:])
    if any(d is None for d in sample_shape) or y[0].size != int(np.prod(sample_shape)):
        return None
    flat = y.reshape(len(y), -1)
    one_hot = flat.shape[1] > 1 and np.isin(flat, (0.0, 1.0)).all() and (flat.sum(axis=1) == 1).all()
    return None if one_hot else y.reshape(len(y), *sample_shape).astype(np.float32)


def training_loss(nodes: list[_Node], task: str) -> tuple[Any, list[Any], str]:
    """(loss, metrics, description) for ``task``: ``classification`` is sparse cross-entropy on
    class labels (from the logits unless the model ends in a softmax); ``regression`` is mean
    squared error to float targets; ``distillation`` (no labels) mean squared error to the float
    model's outputs. Both regressions report the relative L2 error of each epoch."""
    import keras

    if task == "classification":
        softmax = ends_with_softmax(nodes)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax)
        return loss, ["accuracy"], "sparse categorical cross-entropy on the labels"
    described = {
        "regression": "mean squared error to the float targets (regression)",
        "distillation": "mean squared error to the float model's outputs (no labels)",
    }
    if task not in described:
        raise ValueError(f"unknown QAT task {task!r}")
    return keras.losses.MeanSquaredError(), [relative_l2], described[task]


def relative_l2(targets: Any, outputs: Any) -> Any:
    """||outputs - targets|| / ||targets|| over the batch (Keras averages it over an epoch's batches)."""
    tf = import_tensorflow()
    targets = tf.cast(targets, outputs.dtype)
    return tf.norm(outputs - targets) / tf.maximum(tf.norm(targets), 1e-12)


def without_class_agreement(mode: ModeResult) -> ModeResult:
    """``mode`` without the share of samples whose largest output agrees with the float model's:
    for a regression's outputs that is no measure (its rel L2 is)."""
    if mode.evaluation is None:
        return mode
    return replace(mode, evaluation=replace(mode.evaluation, agreement=None))


def ends_with_softmax(nodes: list[_Node]) -> bool:
    """Whether the model's last step is a softmax (its outputs are probabilities, not logits)."""
    return bool(nodes) and nodes[-1].kind == "Softmax"
