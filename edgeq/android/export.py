"""``edgeq export android``: a .tflite classifier with TFLite metadata, as an Android Studio module.

Stages: read and verify the model (edgeq.tflite) → describe it as a classifier and check the
options against it (edgeq.android.classifier) → write the metadata flatbuffer and embed it with
the labels (edgeq.android.metadata), then re-read the result and check the graph is unchanged →
render the Kotlin/Gradle templates of ``firmware_templates/android/`` from the model's real
shapes, types and quantization → write the folder atomically. Same model and options, same bytes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq import templates
from edgeq.android.classifier import (
    Classifier,
    Numbers,
    TensorSpec,
    classifier_metadata,
    describe_classifier,
    numbers_text,
)
from edgeq.android.kotlin import class_name, comment_text, kotlin_float, kotlin_floats, kotlin_package
from edgeq.android.metadata import METADATA_NAME, MIN_PARSER_VERSION, build_metadata, embed_metadata
from edgeq.cnames import suggest_identifier
from edgeq.errors import InputError
from edgeq.outputs import atomic_output_dir, check_output_dir
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.reader import read_model_bytes
from edgeq.version import __version__

LITERT_MAVEN = "com.google.ai.edge.litert:litert:2.3.0"
MIN_SDK = 24  # what the LiteRT 2.3 AARs declare
COMPILE_SDK = 35


@dataclass(frozen=True)
class AndroidExportResult:
    """What ``export_android`` wrote: the module folder, its files and the classifier it describes."""

    output: Path
    name: str
    package: str
    class_name: str
    files: tuple[str, ...]
    model_asset: str  # path of the model with metadata, relative to ``output``
    classifier: Classifier
    source_sha256: str
    model_sha256: str
    metadata_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "name": self.name,
            "package": self.package,
            "class_name": self.class_name,
            "files": list(self.files),
            "model_asset": self.model_asset,
            "classifier": self.classifier.to_dict(),
            "source_sha256": self.source_sha256,
            "model_sha256": self.model_sha256,
            "metadata_bytes": self.metadata_bytes,
        }

    def summary(self) -> str:
        """Three lines for the console: the model written, what goes in and what comes out."""
        classifier = self.classifier
        image = classifier.image
        source = f"{classifier.colour} {image.width}x{image.height} image" if image else "features"
        if classifier.mean:
            source += f", (x - {numbers_text(classifier.mean)}) / {numbers_text(classifier.std)}"
        return (
            f"model: {self.model_asset} with {METADATA_NAME} ({self.metadata_bytes} bytes) and "
            f"{len(classifier.labels)} labels, sha256 {self.model_sha256[:16]}...\n"
            f"input: {source} -> {classifier.input.text()}\n"
            f"output: {classifier.output.text()} -> {len(classifier.labels)} labelled scores, best first"
        )


def export_android(
    model: str | Path,
    output: str | Path,
    labels: str | Path | Sequence[str],
    mean: Numbers | None = None,
    std: Numbers | None = None,
    name: str | None = None,
    version: str = "1",
    author: str = "unknown",
    description: str | None = None,
    package: str | None = None,
    force: bool = False,
    input_kind: str = "auto",
) -> AndroidExportResult:
    """Write an Android Studio module for the classifier ``model`` into the folder ``output``.

    The module holds a copy of the model with TFLite metadata (name, version, author,
    description, input normalization and image properties, tensor descriptions and stats, and
    the labels as a TENSOR_AXIS_LABELS file of the output), a Kotlin classifier that feeds the
    model its real input type, a Gradle build file and a README. ``labels`` is a text file with
    one label per line (or a list); ``mean``/``std`` (one value or one per channel) map 0..255
    pixels to the model's input as ``(pixel - mean) / std`` and are required for float images.
    ``name`` defaults to the file name; ``package`` to ``com.example.<name>``. ``input_kind``
    (``auto``, ``image``, ``features``) says whether the input is an image (a ``classify(Bitmap)``
    method and image metadata) or a feature tensor (values in, no pixel normalization).

    Returns an AndroidExportResult. Raises InputError for bad options or files and
    UnsupportedError for models that are not single-input, single-output classifiers with
    float32, int8 or uint8 tensors. Nothing is written when it raises.
    """
    model_path = Path(model)
    check_output_dir(output, force)
    source = read_model_bytes(model_path)
    graph = read_tflite(source, str(model_path))
    name = name if name is not None else model_path.stem
    if not name.strip():
        raise InputError("--name is empty: give the model a name such as digits")
    identifier = suggest_identifier(name).lower()
    package = kotlin_package(package if package is not None else f"com.example.{identifier}")
    classifier = describe_classifier(graph, labels, mean, std, input_kind)
    model_asset, labels_asset = f"{identifier}.tflite", f"{identifier}_labels.txt"

    metadata = classifier_metadata(classifier, graph, name, version, author, description, labels_asset)
    metadata_bytes = build_metadata(metadata)
    labels_bytes = "".join(text + "\n" for text in classifier.labels).encode("utf-8")
    with_metadata = embed_metadata(source, metadata_bytes, {labels_asset: labels_bytes})
    _check_same_graph(graph, read_tflite(with_metadata, f"{model_path} with metadata"))

    prefix = class_name(identifier)
    context = {
        "banner": f"generated by edgeq {__version__} — do not edit. Model sha256 {graph.sha256}",
        "name": comment_text(name),
        "identifier": identifier,
        "package": package,
        "package_path": package.replace(".", "/"),
        "class_name": f"{prefix}Classifier",
        "tensors_name": f"{prefix}Tensors",
        "litert_maven": LITERT_MAVEN,
        "litert_version": LITERT_MAVEN.rsplit(":", 1)[1],
        "min_sdk": MIN_SDK,
        "compile_sdk": COMPILE_SDK,
        "model_asset": model_asset,
        "labels_asset": labels_asset,
        "model_len": len(with_metadata),
        "source_sha256": graph.sha256,
        "model_sha256": hashlib.sha256(with_metadata).hexdigest(),
        "min_parser_version": MIN_PARSER_VERSION,
        "metadata": {
            "name": comment_text(metadata.name),
            "version": comment_text(metadata.version),
            "author": comment_text(metadata.author),
            "description": comment_text(metadata.description),
            "input_description": metadata.inputs[0].description,
            "output_description": metadata.outputs[0].description,
        },
        **classifier_context(classifier),
    }
    files = {path: text.encode("utf-8") for path, text in render_module(context).items()}
    files[f"src/main/assets/{model_asset}"] = with_metadata
    files[f"src/main/assets/{labels_asset}"] = labels_bytes
    with atomic_output_dir(output, force) as staging:
        for relative, data in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return AndroidExportResult(
        output=Path(output),
        name=name,
        package=package,
        class_name=context["class_name"],
        files=tuple(sorted(files)),
        model_asset=f"src/main/assets/{model_asset}",
        classifier=classifier,
        source_sha256=graph.sha256,
        model_sha256=context["model_sha256"],
        metadata_bytes=len(metadata_bytes),
    )


def _check_same_graph(before: ModelGraph, after: ModelGraph) -> None:
    """The model with metadata must hold the very same graph, weights included, plus the entry."""
    if after.subgraphs != before.subgraphs or after.signatures != before.signatures:
        raise AssertionError("adding metadata changed the model's graph")
    entries = [entry for entry, _ in after.metadata].count(METADATA_NAME)
    if entries != 1:
        raise AssertionError(f"the model with metadata lists {entries} {METADATA_NAME} entries")


def classifier_context(classifier: Classifier) -> dict[str, Any]:
    """The template values that come from the model: shapes, types, quantization, normalization."""
    image, channels = classifier.image, classifier.channels
    return {
        "image": None if image is None else {
            "height": image.height, "width": image.width, "channels": channels,
            "colour": classifier.colour, "color_space": image.color_space},
        "input": _tensor_context(classifier.input),
        "output": _tensor_context(classifier.output),
        "channels": channels,
        "classes": classifier.classes,
        "normalized": bool(classifier.mean),
        "mean_text": numbers_text(classifier.mean) if classifier.mean else "",
        "std_text": numbers_text(classifier.std) if classifier.std else "",
        "mean_array": kotlin_floats(classifier.mean or (0.0,) * channels),
        "std_array": kotlin_floats(classifier.std or (1.0,) * channels),
        "label_count": len(classifier.labels),
        "mediapipe_notes": mediapipe_notes(classifier),
        "clamping": classifier.clamping(),
    }  # fmt: skip


def _tensor_context(spec: TensorSpec) -> dict[str, Any]:
    limits = spec.limits or (0, 0)
    return {
        "dtype": spec.dtype,
        "shape_text": "x".join(map(str, spec.shape)),
        "kotlin_shape": ", ".join(map(str, spec.shape)),
        "size": spec.elements,
        "quantized": spec.quantized,
        "scale_text": f"{spec.scale:.9g}" if spec.quantized else "",
        "scale_literal": kotlin_float(spec.scale) if spec.quantized else "",
        "zero_point": spec.zero_point if spec.quantized else 0,
        "dequantize_text": spec.dequantize_text() if spec.quantized else "",
        "quantize_text": spec.quantize_text() if spec.quantized else "",
        "min": limits[0],
        "max": limits[1],
    }


def mediapipe_notes(classifier: Classifier) -> list[str]:
    """Whether MediaPipe's image classifier, which reads this metadata, can run the model as the
    Kotlin classifier does: one sentence per reason it cannot, or one saying it can. The refusals
    quote MediaPipe 1.2's own messages (the tests check them against MediaPipe)."""
    spec, image = classifier.input, classifier.image
    if image is None:
        return ["MediaPipe's image classifier takes images only; this model has a feature input."]
    notes = []
    if image.color_space != "RGB":
        notes.append('it accepts only RGB images ("Only RGB color space is supported for now").')
    if spec.dtype == "int8":
        notes.append('it refuses int8 inputs ("Requested one of these types: uint8/float32").')
    if len(set(classifier.mean)) > 1 or len(set(classifier.std)) > 1:
        notes.append(
            'it refuses per-channel normalization ("Per-channel image normalization is not available").'
        )
    if spec.dtype == "uint8" and not _uint8_is_normalization(classifier):
        notes.append(
            "it copies pixel bytes into a uint8 input without normalizing, which is right only when the "
            "input's quantization is the normalization (scale = 1/std, zero point = mean); here it is not."
        )
    if notes:
        first = "MediaPipe's image classifier cannot run this model as this module does: " + notes[0]
        return [first] + ["Also, " + note for note in notes[1:]]
    if spec.dtype == "uint8":
        return [
            "MediaPipe's image classifier can run this model from its metadata: it copies pixel bytes "
            "into the uint8 input, which here equals normalizing then quantizing "
            "(scale = 1/std, zero point = mean)."
        ]
    return ["MediaPipe's image classifier can run this model from its metadata (labels and normalization)."]


def _uint8_is_normalization(classifier: Classifier) -> bool:
    spec = classifier.input
    pairs = list(zip(classifier.mean, classifier.std, strict=True)) or [(0.0, 1.0)]
    return spec.scale is not None and all(
        math.isclose(spec.scale * std, 1.0, rel_tol=1e-6)
        and math.isclose(mean, spec.zero_point, abs_tol=1e-6)
        for mean, std in pairs
    )


def render_module(context: dict[str, Any]) -> dict[str, str]:
    """Every text file of the module: relative output path → text (pure, deterministic)."""
    environment = templates.environment(block_lines=True)
    sources = f"src/main/java/{context['package_path']}"
    layout = {
        "build.gradle.kts": "android/build.gradle.kts.j2",
        "README.md": "android/README.md.j2",
        f"{sources}/{context['class_name']}.kt": "android/Classifier.kt.j2",
        f"{sources}/{context['tensors_name']}.kt": "android/Tensors.kt.j2",
    }
    return {out: environment.get_template(source).render(context) for out, source in layout.items()}
