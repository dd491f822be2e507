"""edgeq export android: metadata read back by readers that are not edgeq, golden module files,
the generated Kotlin arithmetic against numpy, one-line errors and nothing written on failure."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS, GOLDEN, require_tool

from edgeq.android.export import export_android
from edgeq.android.kotlin import kotlin_float
from edgeq.cli import run
from edgeq.errors import InputError, UnsupportedError
from edgeq.outputs import MANIFEST
from edgeq.runtimes.tensors import TensorInfo, dequantize, quantize
from edgeq.tflite import read_tflite, read_tflite_file

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TINY_LABELS = ["cat", "dog", "bird"]


def require_module(name: str, package: str) -> Path:
    """The folder of Python package ``name``; skips when missing, fails when EDGEQ_REQUIRE_TOOLCHAINS=1."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        message = f"the Python package {package} is not installed (pip install {package})"
        if os.environ.get("EDGEQ_REQUIRE_TOOLCHAINS") == "1":
            pytest.fail(message + "; EDGEQ_REQUIRE_TOOLCHAINS=1 requires it")
        pytest.skip(message)
    return Path(spec.submodule_search_locations[0])


def metadata_schema() -> Path:
    """The public metadata_schema.fbs, as the mediapipe wheel ships it (edgeq does not copy it)."""
    schema = require_module("mediapipe", "mediapipe") / "tasks" / "metadata" / "metadata_schema.fbs"
    if not schema.is_file():
        pytest.fail(f"{schema} is missing: this mediapipe wheel no longer ships the metadata schema")
    return schema


def _files(folder: Path) -> dict[str, bytes]:
    # the manifest (sha256 of every file) follows from the files, so it is left out of the golden copy
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}  # fmt: skip


def _metadata_buffer(model: bytes) -> bytes:
    """The TFLITE_METADATA buffer, found with LiteRT's generated TFLite schema reader (not edgeq's)."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    names = {root.Metadata(i).Name(): root.Metadata(i).Buffer() for i in range(root.MetadataLength())}
    assert list(names).count(b"TFLITE_METADATA") == 1
    return root.Buffers(names[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()


def _rgb_pixels(grey: np.ndarray) -> np.ndarray:
    """Digits (0..16 counts, N x 8 x 8 x 1) as 0..255 RGB pixels."""
    return np.repeat(np.round(grey.astype(np.float32) * 255 / 16), 3, axis=3).astype(np.uint8)


@pytest.fixture(scope="module")
def rgb_digits(tmp_path_factory) -> dict[str, Path]:
    """Two RGB digit classifiers trained here in a few seconds (digits repeated on 3 channels):
    ``float32``, trained on (pixel - 127.5) / 127.5, and ``uint8`` (uint8 I/O), trained on pixel / 255."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    import keras

    with np.load(DIGITS) as archive:
        pixels, labels = _rgb_pixels(archive["x_train"]).astype(np.float32), archive["y_train"]
    folder = tmp_path_factory.mktemp("rgb_digits")

    def train(x: np.ndarray):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8, 8, 3))
        outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        with quiet():
            model.fit(x, labels, epochs=8, batch_size=32, verbose=0)
        return model

    with quiet():
        converter = tf.lite.TFLiteConverter.from_keras_model(train((pixels - 127.5) / 127.5))
        (folder / "float32.tflite").write_bytes(converter.convert())
        scaled = pixels / 255
        converter = tf.lite.TFLiteConverter.from_keras_model(train(scaled))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([scaled[i : i + 1]] for i in range(0, 400, 4))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.uint8
        (folder / "uint8.tflite").write_bytes(converter.convert())
    (folder / "labels.txt").write_text("\n".join(DIGIT_NAMES) + "\n")
    return {
        "float32": folder / "float32.tflite",
        "uint8": folder / "uint8.tflite",
        "labels": folder / "labels.txt",
    }


@pytest.mark.parametrize(("kind", "mean", "std"), [("float32", "127.5", "127.5"), ("uint8", "0", "255")])
def test_mediapipe_classifies_digits_with_the_labels_and_normalization(tmp_path, rgb_digits, kind, mean, std):
    """MediaPipe Tasks' ImageClassifier, reading only the exported file, names the classes from the
    packed labels and normalizes as the metadata says: its scores equal LiteRT's on inputs prepared
    by hand from the same mean/std, and the digits come out right."""
    require_module("mediapipe", "mediapipe")
    import mediapipe as mp
    from ai_edge_litert.interpreter import Interpreter
    from mediapipe.tasks.python import BaseOptions, vision

    out = tmp_path / "module"
    code = run(["export", "android", str(rgb_digits[kind]), "--labels", str(rgb_digits["labels"]), "--mean", mean,
                "--std", std, "--name", "digits", "-o", str(out)])  # fmt: skip
    assert code == 0
    model = out / "src" / "main" / "assets" / "digits.tflite"
    with np.load(DIGITS) as archive:
        images, truth = _rgb_pixels(archive["x_test"][:40]), archive["y_test"][:40]
    interpreter = Interpreter(model_path=str(rgb_digits[kind]))
    interpreter.allocate_tensors()
    source_in, source_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(model)))
    right = 0
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image, label in zip(images, truth, strict=True):
            result = classifier.classify(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
            )
            categories = result.classifications[0].categories
            if kind == "float32":
                interpreter.set_tensor(source_in["index"], (image[None].astype(np.float32) - 127.5) / 127.5)
            else:  # MediaPipe copies pixel bytes into a uint8 input: the quantization is the normalization
                interpreter.set_tensor(source_in["index"], image[None])
            interpreter.invoke()
            expected = interpreter.get_tensor(source_out["index"])[0]
            if kind == "uint8":
                scale, zero = source_out["quantization"]
                expected = (expected.astype(np.float32) - zero) * np.float32(scale)
            assert len(categories) == 10
            assert [c.category_name for c in categories] == [DIGIT_NAMES[c.index] for c in categories]
            scores = np.array([c.score for c in sorted(categories, key=lambda c: c.index)], dtype=np.float32)
            np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
            right += categories[0].category_name == DIGIT_NAMES[label]
    assert right >= 34, f"{right}/40 digits right"


def test_mediapipe_refuses_what_the_readme_says_it_refuses(tmp_path, tiny_int8, rgb_digits):
    """The README's notes on MediaPipe quote MediaPipe's own refusals: int8 inputs, per-channel mean/std."""
    require_module("mediapipe", "mediapipe")
    from mediapipe.tasks.python import BaseOptions, vision

    cases = [
        (tiny_int8, TINY_LABELS, 127.5, 127.5, "Requested one of these types: uint8/float32"),
        (
            rgb_digits["float32"],
            rgb_digits["labels"],
            (1, 2, 3),
            127.5,
            "Per-channel image normalization is not available",
        ),
    ]
    for number, (model, labels, mean, std, refusal) in enumerate(cases):
        result = export_android(model, tmp_path / str(number), labels=labels, mean=mean, std=std)
        assert refusal in (tmp_path / str(number) / "README.md").read_text()
        path = tmp_path / str(number) / result.model_asset
        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)))
        with pytest.raises((ValueError, NotImplementedError), match=refusal):
            vision.ImageClassifier.create_from_options(options)


EXPECTED_RGB_METADATA = {
    "name": "rgb",
    "description": "Classifies 8x8 RGB images into 10 classes (float32 input, float32 output). Exported by edgeq 0.1.0.",
    "version": "2.1",
    "author": "edgeq tests",
    "min_parser_version": "1.0.0",
    "subgraph_metadata": [
        {
            "input_tensor_metadata": [
                {
                    "name": "image",
                    "description": "Input 1x8x8x3: RGB image pixels 0..255, normalized as (x - mean) / std with "
                    "mean 123.675,116.28,103.53, std 58.395,57.12,57.375.",
                    "content": {
                        "content_properties_type": "ImageProperties",
                        "content_properties": {
                            "color_space": "RGB",
                            "default_size": {"width": 8, "height": 8},
                        },
                    },
                    "process_units": [
                        {
                            "options_type": "NormalizationOptions",
                            "options": {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
                        }
                    ],
                    "stats": {
                        "max": [(255 - 123.675) / 58.395, (255 - 116.28) / 57.12, (255 - 103.53) / 57.375],
                        "min": [-123.675 / 58.395, -116.28 / 57.12, -103.53 / 57.375],
                    },
                }
            ],
            "output_tensor_metadata": [
                {
                    "name": "probability",
                    "description": "Scores of the 10 classes, in the order of the labels file.",
                    "content": {"content_properties_type": "FeatureProperties", "content_properties": {}},
                    "stats": {"max": [1.0], "min": [0.0]},
                    "associated_files": [
                        {
                            "name": "rgb_labels.txt",
                            "description": "The 10 class labels, one per line, in output order.",
                            "type": "TENSOR_AXIS_LABELS",
                        }
                    ],
                }
            ],
        }
    ],
}


def _as_float32(value):
    """Floats of a JSON tree rounded to float32, as the metadata stores them."""
    if isinstance(value, dict):
        return {k: _as_float32(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_float32(v) for v in value]
    return float(np.float32(value)) if isinstance(value, float) else value


def test_flatc_dumps_the_metadata_exactly_as_written(tmp_path, rgb_digits):
    """``flatc --json`` with the public schema decodes the metadata buffer to exactly the expected
    tree: per-channel normalization, image properties, stats, descriptions and the labels file."""
    flatc = require_tool("flatc")
    schema = metadata_schema()
    export_android(rgb_digits["float32"], tmp_path / "m", labels=rgb_digits["labels"], mean=(123.675, 116.28, 103.53),
                   std=(58.395, 57.12, 57.375), name="rgb", version="2.1", author="edgeq tests")  # fmt: skip
    model = (tmp_path / "m" / "src/main/assets/rgb.tflite").read_bytes()
    (tmp_path / "metadata.bin").write_bytes(_metadata_buffer(model))
    subprocess.run([flatc, "--json", "--strict-json", "--raw-binary", "-o", str(tmp_path), str(schema), "--",
                    str(tmp_path / "metadata.bin")], check=True, capture_output=True)  # fmt: skip
    dumped, expected = (
        _as_float32(json.loads((tmp_path / "metadata.json").read_text())),
        _as_float32(EXPECTED_RGB_METADATA),
    )
    stats = [
        tree["subgraph_metadata"][0]["input_tensor_metadata"][0].pop("stats") for tree in (dumped, expected)
    ]
    assert dumped == expected
    for key in ("min", "max"):  # flatc prints floats to 7 significant digits
        np.testing.assert_allclose(stats[0][key], stats[1][key], rtol=1e-6)
    with zipfile.ZipFile(tmp_path / "m" / "src/main/assets/rgb.tflite") as archive:
        assert [(i.filename, i.compress_type) for i in archive.infolist()] == [
            ("rgb_labels.txt", zipfile.ZIP_STORED)
        ]
        assert archive.read("rgb_labels.txt").decode().splitlines() == DIGIT_NAMES


def test_schemas_generated_reader_reads_labels_and_normalization(tmp_path, monkeypatch, tiny_int8):
    """The reader ``flatc --python`` generates from the public schema, at test time, reads the grey
    int8 model's metadata (which MediaPipe refuses to run) field by field."""
    flatc = require_tool("flatc")
    schema = metadata_schema()
    subprocess.run(
        [flatc, "--python", "-o", str(tmp_path / "generated"), str(schema)], check=True, capture_output=True
    )
    monkeypatch.syspath_prepend(str(tmp_path / "generated"))
    try:
        from tflite.AssociatedFileType import AssociatedFileType
        from tflite.ColorSpaceType import ColorSpaceType
        from tflite.ContentProperties import ContentProperties
        from tflite.ImageProperties import ImageProperties
        from tflite.ModelMetadata import ModelMetadata
        from tflite.NormalizationOptions import NormalizationOptions
        from tflite.ProcessUnitOptions import ProcessUnitOptions

        export_android(tiny_int8, tmp_path / "m", labels=TINY_LABELS, mean=127.5, std=127.5, name="tiny",
                       description="three made-up classes")  # fmt: skip
        model = (tmp_path / "m" / "src/main/assets/tiny.tflite").read_bytes()
        buffer = _metadata_buffer(model)
        assert ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)
        metadata = ModelMetadata.GetRootAs(buffer, 0)
        assert (metadata.Name(), metadata.Version(), metadata.Author(), metadata.Description()) == (
            b"tiny", b"1", b"unknown", b"three made-up classes",
        )  # fmt: skip
        assert metadata.MinParserVersion() == b"1.0.0" and metadata.SubgraphMetadataLength() == 1
        subgraph = metadata.SubgraphMetadata(0)
        assert subgraph.InputTensorMetadataLength() == 1 and subgraph.OutputTensorMetadataLength() == 1
        tensor = subgraph.InputTensorMetadata(0)
        assert tensor.Content().ContentPropertiesType() == ContentProperties.ImageProperties
        image = ImageProperties()
        table = tensor.Content().ContentProperties()
        image.Init(table.Bytes, table.Pos)
        assert image.ColorSpace() == ColorSpaceType.GRAYSCALE
        assert (image.DefaultSize().Width(), image.DefaultSize().Height()) == (8, 8)
        assert tensor.ProcessUnitsLength() == 1
        unit = tensor.ProcessUnits(0)
        assert unit.OptionsType() == ProcessUnitOptions.NormalizationOptions
        normalization = NormalizationOptions()
        normalization.Init(unit.Options().Bytes, unit.Options().Pos)
        assert normalization.MeanAsNumpy().tolist() == [127.5] and normalization.StdAsNumpy().tolist() == [
            127.5
        ]
        assert (tensor.Stats().MinAsNumpy().tolist(), tensor.Stats().MaxAsNumpy().tolist()) == (
            [-128.0],
            [127.0],
        )
        quant = read_tflite_file(tiny_int8).main.tensors[0].quantization
        assert f"round(x / {quant.scales[0]:.9g}) - 128".encode() in tensor.Description()
        output = subgraph.OutputTensorMetadata(0)
        assert output.AssociatedFilesLength() == 1
        labels_file = output.AssociatedFiles(0)
        assert labels_file.Type() == AssociatedFileType.TENSOR_AXIS_LABELS
        with zipfile.ZipFile(tmp_path / "m" / "src/main/assets/tiny.tflite") as archive:
            assert archive.read(labels_file.Name().decode()).decode().splitlines() == TINY_LABELS
    finally:
        for module in [m for m in sys.modules if m == "tflite" or m.startswith("tflite.")]:
            del sys.modules[module]


@pytest.mark.parametrize("kind", ["tiny_int8", "float32", "uint8"])
def test_model_with_metadata_computes_what_the_original_computes(tmp_path, tiny_int8, rgb_digits, kind):
    """The graph and weights are untouched (edgeq's reader), and LiteRT's CompiledModel, the runtime
    behind the Kotlin classifier, gives bit-identical outputs for the original and the export."""
    from ai_edge_litert.compiled_model import CompiledModel

    source = tiny_int8 if kind == "tiny_int8" else rgb_digits[kind]
    labels = TINY_LABELS if kind == "tiny_int8" else DIGIT_NAMES
    result = export_android(source, tmp_path / "m", labels=labels, mean=127.5, std=127.5, name="m")
    exported = (tmp_path / "m" / result.model_asset).read_bytes()
    before, after = read_tflite_file(source), read_tflite(exported)
    assert after.subgraphs == before.subgraphs and len(after.metadata) == len(before.metadata) + 1
    inputs = np.random.default_rng(0).integers(
        0, 256, size=before.main.tensors[before.main.inputs[0]].elements
    )
    outputs = []
    for path in (source, tmp_path / "m" / result.model_asset):
        model = CompiledModel.from_file(str(path))
        ins, outs = model.create_input_buffers(0), model.create_output_buffers(0)
        ins[0].write(
            inputs.astype({"int8": np.int8, "uint8": np.uint8}.get(result.classifier.input.dtype, np.float32))
        )
        model.run_by_index(0, ins, outs)
        dtype = {"int8": np.int8, "uint8": np.uint8}.get(result.classifier.output.dtype, np.float32)
        outputs.append(outs[0].read(result.classifier.output.elements, dtype))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_exporting_an_exported_model_replaces_its_metadata(tmp_path, tiny_int8):
    first = export_android(tiny_int8, tmp_path / "a", labels=TINY_LABELS, mean=127.5, std=127.5, name="tiny")
    again = tmp_path / "again.tflite"
    again.write_bytes((tmp_path / "a" / first.model_asset).read_bytes())
    second = export_android(again, tmp_path / "b", labels=["x", "y", "z"], mean=0, std=255, name="tiny")
    model = (tmp_path / "b" / second.model_asset).read_bytes()
    graph = read_tflite(model)
    assert [name for name, _ in graph.metadata].count("TFLITE_METADATA") == 1
    assert graph.subgraphs == read_tflite_file(tiny_int8).subgraphs
    assert len(graph.main.tensors) == len(read_tflite_file(tiny_int8).main.tensors)
    with zipfile.ZipFile(tmp_path / "b" / second.model_asset) as archive:
        assert archive.namelist() == ["tiny_labels.txt"] and archive.read("tiny_labels.txt") == b"x\ny\nz\n"
    assert struct.pack("<f", 255.0) in _metadata_buffer(model)
    assert struct.pack("<f", 127.5) not in _metadata_buffer(model)


def test_module_matches_golden_files(tmp_path, tiny_int8, update_golden):
    """Golden text files for the int8 grey model; they carry its real shape, type, scale and zero
    point (checked here against edgeq's reader), and the README pins the exported model's sha256."""
    out = tmp_path / "tiny"  # calibrated on 0..1 (tests/golden/make_models.py): pixels / 255
    result = export_android(tiny_int8, out, labels=TINY_LABELS, mean=0, std=255, name="tiny")
    produced = {path: data for path, data in _files(out).items() if not path.endswith(".tflite")}
    golden = GOLDEN / "android"
    if update_golden:
        shutil.rmtree(golden, ignore_errors=True)
        for path, data in produced.items():
            (golden / path).parent.mkdir(parents=True, exist_ok=True)
            (golden / path).write_bytes(data)
    assert produced == _files(golden), "regenerate with pytest --update-golden and review the diff"

    graph = read_tflite_file(tiny_int8)
    source_in, source_out = (
        graph.main.tensors[graph.main.inputs[0]],
        graph.main.tensors[graph.main.outputs[0]],
    )
    scale_in, zero_in = source_in.quantization.scales[0], source_in.quantization.zero_points[0]
    scale_out, zero_out = source_out.quantization.scales[0], source_out.quantization.zero_points[0]
    tensors = (out / "src/main/java/com/example/tiny/TinyTensors.kt").read_text()
    assert (source_in.dtype, source_in.shape) == ("int8", (1, 8, 8, 1))
    assert "val INPUT_SHAPE = intArrayOf(1, 8, 8, 1)" in tensors and "const val INPUT_SIZE = 64" in tensors
    assert f"const val INPUT_SCALE = {kotlin_float(scale_in)}\n" in tensors
    assert np.float32(kotlin_float(scale_in)[:-1]) == np.float32(scale_in)
    assert f"const val INPUT_ZERO_POINT = {zero_in}\n" in tensors and "INPUT_MIN = -128" in tensors
    assert f"const val OUTPUT_SCALE = {kotlin_float(scale_out)}\n" in tensors
    assert f"const val OUTPUT_ZERO_POINT = {zero_out}\n" in tensors and "const val CLASSES = 3" in tensors
    classifier = (out / "src/main/java/com/example/tiny/TinyClassifier.kt").read_text()
    assert "inputBuffers[0].writeInt8(TinyTensors.quantizeInput(normalized))" in classifier
    assert "TinyTensors.dequantizeOutput(outputBuffers[0].readInt8())" in classifier
    readme = (out / "README.md").read_text()
    assert f"| input | int8 | 1x8x8x1 | {scale_in:.9g} | {zero_in} |" in readme
    assert f"| output | int8 | 1x3 | {scale_out:.9g} | {zero_out} |" in readme
    assert f"sha256 `{result.model_sha256}`" in readme
    assert (
        'implementation("com.google.ai.edge.litert:litert:2.3.0")' in (out / "build.gradle.kts").read_text()
    )
    for path, data in produced.items():
        first = data.decode().splitlines()[0]
        if not path.endswith(".txt"):
            assert f"generated by edgeq 0.1.0 — do not edit. Model sha256 {graph.sha256}" in first, path


def test_templates_follow_the_models_real_types(tmp_path, rgb_digits):
    """float32 input and output: floats in, floats out; uint8: bytes read back as 0..255."""
    export_android(rgb_digits["float32"], tmp_path / "f", labels=rgb_digits["labels"], mean=127.5, std=127.5,
                   name="digits")  # fmt: skip
    classifier = (tmp_path / "f/src/main/java/com/example/digits/DigitsClassifier.kt").read_text()
    assert "inputBuffers[0].writeFloat(normalized)" in classifier
    assert "val scores = outputBuffers[0].readFloat()" in classifier
    tensors = (tmp_path / "f/src/main/java/com/example/digits/DigitsTensors.kt").read_text()
    assert "INPUT_SCALE" not in tensors and "values[3 * i + 2] = b.toFloat()" in tensors
    export_android(rgb_digits["uint8"], tmp_path / "u", labels=rgb_digits["labels"], mean=0, std=255,
                   name="digits")  # fmt: skip
    tensors = (tmp_path / "u/src/main/java/com/example/digits/DigitsTensors.kt").read_text()
    assert "val q = codes[i].toInt() and 0xFF" in tensors and "const val INPUT_MAX = 255" in tensors
    assert "it copies pixel bytes into the uint8 input" in (tmp_path / "u" / "README.md").read_text()


def test_a_normalization_the_input_cannot_hold_is_flagged(capfd, tmp_path, tiny_int8):
    """tiny_int8 was calibrated on 0..1: mean/std 127.5 (pixels to -1..1) would clamp half the range."""
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(TINY_LABELS) + "\n")
    code = run(["export", "android", str(tiny_int8), "--labels", str(labels), "--mean", "127.5", "--std", "127.5",
                "-o", str(tmp_path / "out")])  # fmt: skip
    captured = capfd.readouterr()
    assert code == 0 and "wrote" in captured.out
    assert "warning: pixels 0..255 normalize to -1..1, but the int8 input holds 0..0.9992" in captured.err
    assert (
        "**Check the normalization:** pixels 0..255 normalize to -1..1"
        in (tmp_path / "out/README.md").read_text()
    )
    code = run(["export", "android", str(tiny_int8), "--labels", str(labels), "--mean", "0", "--std", "255",
                "-o", str(tmp_path / "ok")])  # fmt: skip
    assert code == 0 and "warning" not in capfd.readouterr().err


def test_export_is_deterministic(tmp_path, tiny_int8):
    for folder in ("a", "b"):
        export_android(tiny_int8, tmp_path / folder, labels=TINY_LABELS, mean=127.5, std=127.5)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


KOTLIN_DRIVER = """
import com.example.tiny.TinyTensors
import com.example.digits.DigitsTensors

fun bits(values: FloatArray) = values.joinToString(" ") { java.lang.Float.floatToRawIntBits(it).toString() }

fun main() {
    val values = floatArrayOf(%(values)s)
    val argb = intArrayOf(%(argb)s)
    println(bits(TinyTensors.pixelValues(argb)))
    println(bits(TinyTensors.normalize(values)))
    println(TinyTensors.quantizeInput(TinyTensors.normalize(values)).joinToString(" "))
    println(bits(TinyTensors.dequantizeOutput(ByteArray(256) { (it - 128).toByte() })))
    println(bits(DigitsTensors.pixelValues(argb)))
    val rgb = FloatArray(192) { values[it %% values.size] }
    println(DigitsTensors.quantizeInput(DigitsTensors.normalize(rgb)).joinToString(" ") { (it.toInt() and 0xFF).toString() })
    println(bits(DigitsTensors.dequantizeOutput(ByteArray(256) { it.toByte() })))
}
"""


def test_generated_kotlin_arithmetic_matches_numpy(tmp_path, tiny_int8, rgb_digits):
    """The generated Tensors objects, compiled with kotlinc and run on the JVM, convert pixels,
    normalize, quantize and dequantize bit for bit as edgeq's numpy reference does (int8 and uint8)."""
    kotlinc = require_tool("kotlinc")
    java = require_tool("java")
    tiny = export_android(
        tiny_int8, tmp_path / "tiny", labels=TINY_LABELS, mean=127.5, std=127.5, name="tiny"
    )
    digits = export_android(rgb_digits["uint8"], tmp_path / "digits", labels=rgb_digits["labels"], mean=0, std=255,
                            name="digits")  # fmt: skip
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.uniform(-20, 280, 52), [0, 255, 127.5, -1e9, 1e9, 63.75, 191.25, 127.4999, 1, 2, 3, 254]]
    )
    values = values.astype(np.float32)
    argb = rng.integers(-(2**31), 2**31, size=64, dtype=np.int64)
    driver = tmp_path / "Main.kt"
    driver.write_text(KOTLIN_DRIVER % {
        "values": ", ".join(f"{float(v)!r}f" for v in values),
        "argb": ", ".join(f"{int(v)}" for v in argb),
    })  # fmt: skip
    sources = [
        driver,
        *(tmp_path / "tiny").rglob("TinyTensors.kt"),
        *(tmp_path / "digits").rglob("DigitsTensors.kt"),
    ]
    jar = tmp_path / "check.jar"
    subprocess.run([kotlinc, *map(str, sources), "-include-runtime", "-d", str(jar)], check=True,
                   capture_output=True, text=True)  # fmt: skip
    lines = subprocess.run(
        [java, "-jar", str(jar)], check=True, capture_output=True, text=True
    ).stdout.splitlines()

    def floats(line: str) -> np.ndarray:
        return np.array([int(v) for v in line.split()], dtype=np.int64).astype(np.uint32).view(np.float32)

    r, g, b = (argb >> 16) & 0xFF, (argb >> 8) & 0xFF, argb & 0xFF
    np.testing.assert_array_equal(
        floats(lines[0]), ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.float32)
    )
    normalized = (values - np.float32(127.5)) / np.float32(127.5)
    np.testing.assert_array_equal(floats(lines[1]), normalized)
    info = TensorInfo(
        "in",
        tiny.classifier.input.shape,
        "int8",
        tiny.classifier.input.scale,
        tiny.classifier.input.zero_point,
    )
    assert [int(v) for v in lines[2].split()] == quantize(normalized, info).tolist()
    info = TensorInfo(
        "out",
        tiny.classifier.output.shape,
        "int8",
        tiny.classifier.output.scale,
        tiny.classifier.output.zero_point,
    )
    np.testing.assert_array_equal(floats(lines[3]), dequantize(np.arange(-128, 128, dtype=np.int8), info))
    np.testing.assert_array_equal(
        floats(lines[4]), np.stack([r, g, b], axis=1).reshape(-1).astype(np.float32)
    )
    rgb = np.resize(values, 192)
    info = TensorInfo(
        "in",
        digits.classifier.input.shape,
        "uint8",
        digits.classifier.input.scale,
        digits.classifier.input.zero_point,
    )
    expected = quantize((rgb - np.float32(0)) / np.float32(255), info)
    assert [int(v) for v in lines[5].split()] == expected.tolist()
    info = TensorInfo("out", digits.classifier.output.shape, "uint8", digits.classifier.output.scale,
                      digits.classifier.output.zero_point)  # fmt: skip
    np.testing.assert_array_equal(floats(lines[6]), dequantize(np.arange(256).astype(np.uint8), info))


def test_wrong_label_count_is_one_line_exit_2_and_writes_nothing(capfd, tmp_path, tiny_int8):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    code = run(["export", "android", str(tiny_int8), "--labels", str(labels), "--mean", "127.5", "--std", "127.5",
                "-o", str(tmp_path / "android")])  # fmt: skip
    err = capfd.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--labels has 2 labels but the model's output has 3 classes" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--mean", "1,2", "--std", "1"], "--mean has 2 values; the input has 1 channel(s): give one value"),
        (["--mean", "0", "--std", "0"], "--std 0 contains 0"),
        (["--mean", "0"], "--mean and --std go together"),
        (["--mean", "x", "--std", "1"], "--mean takes a number"),
        (["--mean", "0", "--std", "1", "--package", "com.example.int"], "contains the keyword 'int'"),
    ],
)
def test_bad_options_are_one_line_errors(capfd, tmp_path, tiny_int8, args, fragment):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(TINY_LABELS) + "\n")
    code = run(
        ["export", "android", str(tiny_int8), "--labels", str(labels), *args, "-o", str(tmp_path / "out")]
    )
    err = capfd.readouterr().err
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_float_image_needs_normalization_and_labels_must_be_named(tmp_path, rgb_digits):
    with pytest.raises(InputError, match="float32 RGB image: give --mean and --std"):
        export_android(rgb_digits["float32"], tmp_path / "o", labels=rgb_digits["labels"])
    with pytest.raises(InputError, match="--labels line 2 is blank"):
        export_android(rgb_digits["float32"], tmp_path / "o", labels=["a", " ", *"cdefghij"], mean=0, std=1)
    assert not (tmp_path / "o").exists()


def test_models_that_are_not_classifiers_are_refused(tmp_path, tiny_int16x8):
    with pytest.raises(UnsupportedError, match="the model input is int16"):
        export_android(tiny_int16x8, tmp_path / "o", labels=TINY_LABELS)
