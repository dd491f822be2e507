"""A .tflite model seen as an app sees a classifier: its input (image or features), normalization,
quantization, output scores and labels, checked once; and the TFLite metadata that describes it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.android.metadata import AssociatedFile, ImageProperties, ModelMetadata, TensorMetadata
from edgeq.errors import InputError, UnsupportedError
from edgeq.labels import read_labels
from edgeq.tflite import ModelGraph, Tensor
from edgeq.version import __version__

# Integer ranges of the input/output types a classifier module handles; float32 has none.
TYPE_RANGES: dict[str, tuple[int, int] | None] = {"float32": None, "int8": (-128, 127), "uint8": (0, 255)}
PIXEL_RANGE = (0.0, 255.0)
PROBABILITY_OPS = ("SOFTMAX", "LOGISTIC")

Numbers = float | Sequence[float]


@dataclass(frozen=True)
class TensorSpec:
    """An input or output as the app sees it: dtype, shape and affine quantization (None for float)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float | None
    zero_point: int | None

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    @property
    def limits(self) -> tuple[int, int] | None:
        return TYPE_RANGES[self.dtype]

    def dequantize_text(self) -> str:
        """``0.00390625 * (q + 128)``, or ``0.5 * q`` for zero point 0: the real value of a code q."""
        zero = self.zero_point or 0
        code = "q" if zero == 0 else f"(q - {zero})" if zero > 0 else f"(q + {-zero})"
        return f"{self.scale:.9g} * {code}"

    def quantize_text(self) -> str:
        """``round(x / 0.00392156886) - 128``: the input formula as people write it."""
        zero = self.zero_point or 0
        offset = "" if zero == 0 else f" + {zero}" if zero > 0 else f" - {-zero}"
        return f"round(x / {self.scale:.9g}){offset}"

    def text(self) -> str:
        shape = "x".join(map(str, self.shape))
        if not self.quantized:
            return f"{self.dtype} {shape}"
        return f"{self.dtype} {shape} (scale {self.scale:.9g}, zero point {self.zero_point})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "scale": self.scale, "zero_point": self.zero_point}  # fmt: skip


@dataclass(frozen=True)
class Classifier:
    """What the Kotlin classifier and the metadata need: ``image`` None means a feature input;
    ``mean``/``std`` hold one value per channel, or nothing when no normalization was given."""

    input: TensorSpec
    output: TensorSpec
    image: ImageProperties | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: tuple[str, ...]

    @property
    def channels(self) -> int:
        return self.input.shape[-1] if len(self.input.shape) > 1 else 1

    @property
    def classes(self) -> int:
        return self.output.shape[-1]

    @property
    def colour(self) -> str:
        return "" if self.image is None else "grey" if self.image.color_space == "GRAYSCALE" else "RGB"

    def clamping(self) -> str | None:
        """A warning when pixels 0..255, normalized, fall outside what the quantized input can hold
        (the usual sign of a wrong --mean/--std); None when they fit or the input is not a quantized image."""
        spec = self.input
        if self.image is None or spec.scale is None or spec.limits is None:
            return None
        low_q, high_q = (spec.scale * (limit - spec.zero_point) for limit in spec.limits)
        means, stds = self.mean or (0.0,) * self.channels, self.std or (1.0,) * self.channels
        ends = [(edge - m) / s for m, s in zip(means, stds, strict=True) for edge in PIXEL_RANGE]
        low, high = min(ends), max(ends)
        if low >= low_q - spec.scale and high <= high_q + spec.scale:
            return None
        return (
            f"pixels 0..255 normalize to {low:.4g}..{high:.4g}, but the {spec.dtype} input holds "
            f"{low_q:.4g}..{high_q:.4g}, so values outside are clamped: check --mean/--std against "
            "the data the model was trained and calibrated on"
        )

    def to_dict(self) -> dict[str, Any]:
        image = self.image
        return {
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "image": None if image is None else {
                "color_space": image.color_space, "width": image.width, "height": image.height},
            "mean": list(self.mean),
            "std": list(self.std),
            "labels": list(self.labels),
        }  # fmt: skip


INPUT_KINDS = ("auto", "image", "features")


def looks_like_image(shape: Sequence[int]) -> bool:
    """An NHWC input with 1 or 3 channels and a roughly square picture (sides at most 4:1) is an
    image; anything else (an MFCC of 49x10x1, sensor windows, flat vectors) is a feature tensor."""
    if len(shape) != 4 or shape[3] not in (1, 3):
        return False
    height, width = shape[1], shape[2]
    return min(height, width) > 0 and max(height, width) <= 4 * min(height, width)


def describe_classifier(
    graph: ModelGraph,
    labels: str | Path | Sequence[str],
    mean: Numbers | None,
    std: Numbers | None,
    input_kind: str = "auto",
) -> Classifier:
    """Check that ``graph`` is a one-input, one-output classifier with float32/int8/uint8 tensors
    and that the labels and normalization fit it. ``input_kind``: ``image`` (pixels from a bitmap),
    ``features`` (a tensor of values: audio features, sensor data) or ``auto`` (an image when the
    shape is one, see ``looks_like_image``). Raises UnsupportedError for the model, InputError for
    the options."""
    if input_kind not in INPUT_KINDS:
        raise InputError(f"--input {input_kind!r}: choose from {', '.join(INPUT_KINDS)}")
    subgraph = graph.main
    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise UnsupportedError(
            f"the model has {len(subgraph.inputs)} inputs and {len(subgraph.outputs)} outputs: "
            "edgeq export android writes single-input, single-output classifiers"
        )
    input_spec = _spec(subgraph.tensors[subgraph.inputs[0]], "input")
    output_spec = _spec(subgraph.tensors[subgraph.outputs[0]], "output")
    if not input_spec.shape or input_spec.shape[0] != 1:
        raise UnsupportedError(
            f"the model input has shape {input_spec.shape}: the classifier needs batch size 1 "
            "(convert with a static batch of 1, the edgeq convert default)"
        )
    classes = output_spec.shape[-1] if output_spec.shape else 0
    if classes < 1 or output_spec.elements != classes:
        raise UnsupportedError(
            f"the model output has shape {output_spec.shape}, not one score per class (1, classes): "
            "edgeq export android writes classifiers"
        )
    image = None
    if input_kind == "image" and (len(input_spec.shape) != 4 or input_spec.shape[3] not in (1, 3)):
        raise InputError(
            f"--input image: the model input has shape {input_spec.shape}, not an NHWC image with 1 or 3 "
            "channels: use --input features"
        )
    wanted = looks_like_image(input_spec.shape) if input_kind == "auto" else input_kind == "image"
    if wanted:  # NHWC, grey or RGB
        colour = "GRAYSCALE" if input_spec.shape[3] == 1 else "RGB"
        image = ImageProperties(colour, width=input_spec.shape[2], height=input_spec.shape[1])
    channels = input_spec.shape[-1] if len(input_spec.shape) > 1 else 1
    means, stds = _normalization(mean, std, channels, input_spec, image)
    return Classifier(input_spec, output_spec, image, means, stds, tuple(read_labels(labels, classes)))


def _spec(tensor: Tensor, role: str) -> TensorSpec:
    if tensor.dtype not in TYPE_RANGES:
        raise UnsupportedError(
            f"the model {role} is {tensor.dtype}: Android classifiers take {', '.join(TYPE_RANGES)} "
            "(convert with int8 or float I/O)"
        )
    if TYPE_RANGES[tensor.dtype] is None:
        return TensorSpec(tensor.name, tensor.dtype, tensor.shape, None, None)
    quant = tensor.quantization
    if quant is None or quant.per_channel or quant.scales[0] <= 0:
        raise UnsupportedError(
            f"the model {role} is {tensor.dtype} without one positive scale: the classifier cannot "
            "convert real values to it; convert with edgeq convert, which quantizes inputs per tensor"
        )
    return TensorSpec(tensor.name, tensor.dtype, tensor.shape, quant.scales[0], quant.zero_points[0])


def _normalization(
    mean: Numbers | None, std: Numbers | None, channels: int, spec: TensorSpec, image: ImageProperties | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (a single value applies to every channel), or two empty tuples."""
    if mean is None and std is None:
        if image is not None and not spec.quantized:
            raise InputError(
                f"the model input is a float32 {image.color_space} image: give --mean and --std, the values "
                "that map 0..255 pixels to what the model was trained on, (pixel - mean) / std; "
                "e.g. --mean 0 --std 255 for 0..1, --mean 127.5 --std 127.5 for -1..1"
            )
        return (), ()
    if mean is None or std is None:
        raise InputError("--mean and --std go together: give both, one value or one per channel each")
    values = {}
    for option, given in (("--mean", mean), ("--std", std)):
        numbers = (float(given),) if isinstance(given, (int, float)) else tuple(float(v) for v in given)
        if len(numbers) not in (1, channels):
            allowed = "one value" if channels == 1 else f"1 or {channels} values"
            raise InputError(
                f"{option} has {len(numbers)} values; the input has {channels} channel(s): give {allowed}"
            )
        if not all(math.isfinite(v) for v in numbers):
            raise InputError(f"{option} {numbers_text(numbers)} is not finite: give real numbers")
        values[option] = numbers * channels if len(numbers) == 1 else numbers
    if any(v == 0 for v in values["--std"]):
        raise InputError(f"--std {numbers_text(values['--std'])} contains 0: the standard deviation divides")
    return values["--mean"], values["--std"]


def classifier_metadata(
    classifier: Classifier,
    graph: ModelGraph,
    name: str,
    version: str,
    author: str,
    description: str | None,
    labels_file: str,
) -> ModelMetadata:
    """The TFLite metadata of ``classifier``: names, descriptions that give the real formulas,
    image properties, normalization, stats where known, and ``labels_file`` on the output."""
    spec_in, spec_out, image = classifier.input, classifier.output, classifier.image
    what = (
        f"{image.width}x{image.height} {classifier.colour} images"
        if image
        else f"{spec_in.elements} features"
    )
    default_description = (
        f"Classifies {what} into {classifier.classes} classes "
        f"({spec_in.dtype} input, {spec_out.dtype} output). "
        f"Exported by edgeq {__version__}."
    )
    stats_in, stats_out = _input_stats(classifier), _output_stats(graph, spec_out)
    input_metadata = TensorMetadata(
        name="image" if image else "features",
        description=_input_description(classifier),
        image=image,
        mean=classifier.mean,
        std=classifier.std,
        stats_min=stats_in[0],
        stats_max=stats_in[1],
    )
    output_text = f"Scores of the {classifier.classes} classes, in the order of the labels file"
    if spec_out.quantized:
        output_text += f"; {spec_out.dtype} q, real score = {spec_out.dequantize_text()}"
    output_metadata = TensorMetadata(
        name="probability",
        description=output_text + ".",
        stats_min=stats_out[0],
        stats_max=stats_out[1],
        associated_files=(
            AssociatedFile(
                labels_file, f"The {classifier.classes} class labels, one per line, in output order."
            ),
        ),
    )
    return ModelMetadata(
        name=name,
        description=description if description is not None else default_description,
        version=version,
        author=author,
        license="",
        inputs=(input_metadata,),
        outputs=(output_metadata,),
    )


def _input_stats(classifier: Classifier) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Integer tensors: their type's range (the metadata writers' convention); float images with
    normalization: where pixels 0..255 land; otherwise unknown."""
    limits = classifier.input.limits
    if limits is not None:
        return (float(limits[0]),), (float(limits[1]),)
    if classifier.image is not None and classifier.mean:
        pairs = list(zip(classifier.mean, classifier.std, strict=True))
        low, high = PIXEL_RANGE
        return tuple(_f32((low - m) / s) for m, s in pairs), tuple(_f32((high - m) / s) for m, s in pairs)
    return (), ()


def _output_stats(graph: ModelGraph, spec: TensorSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Integer outputs: their type's range; float outputs of a softmax or logistic op: 0..1."""
    if spec.limits is not None:
        return (float(spec.limits[0]),), (float(spec.limits[1]),)
    index = graph.main.outputs[0]
    producer = next((op for op in graph.main.operators if index in op.outputs), None)
    if producer is not None and producer.opcode in PROBABILITY_OPS:
        return (0.0,), (1.0,)
    return (), ()


def _input_description(classifier: Classifier) -> str:
    spec = classifier.input
    source = f"{classifier.colour} image pixels 0..255" if classifier.image else "feature values"
    steps = [f"Input {'x'.join(map(str, spec.shape))}: {source}"]
    if classifier.mean:
        steps.append(
            f"normalized as (x - mean) / std with mean {numbers_text(classifier.mean)}, "
            f"std {numbers_text(classifier.std)}"
        )
    if spec.quantized:
        steps.append(f"then quantized to {spec.dtype} as {spec.quantize_text()}")
    return ", ".join(steps) + "."


def _f32(value: float) -> float:
    """A float as float32 stores it, so the metadata's values and their text agree."""
    import numpy as np

    return float(np.float32(value))


def numbers_text(values: Sequence[float]) -> str:
    """``127.5`` or ``123.675,116.28,103.53`` (one value when all channels agree), as options take them."""
    distinct = values[:1] if len(set(values)) == 1 else values
    return ",".join(f"{v:.9g}" for v in distinct)
