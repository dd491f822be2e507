"""edgeq export android on models that are not image classifiers: an audio-feature keyword
spotter (MFCC 49x10x1, the MLPerf Tiny KWS input) and a sensor window are feature tensors (no
image metadata, no pixel normalization, a values-in API), read back with the reader flatc
generates from the public metadata schema; ``--input`` overrides the shape-based choice."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool
from test_export_android import _metadata_buffer, metadata_schema

from edgeq.android.classifier import looks_like_image
from edgeq.android.export import export_android
from edgeq.cli import run
from edgeq.errors import InputError

LABELS = ["yes", "no", "up", "down"]


@pytest.fixture(scope="module")
def mfcc_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny DS-CNN-like keyword spotter on 49x10x1 MFCCs, as int8 and float32 files."""
    import edgeq
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(3)
    folder = tmp_path_factory.mktemp("mfcc")
    inputs = keras.Input((49, 10, 1), batch_size=1)
    x = keras.layers.Conv2D(4, (10, 4), strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(LABELS), activation="softmax")(x)
    keras.Model(inputs, outputs).save(folder / "kws.keras")
    np.savez(folder / "calib.npz", x=np.random.default_rng(0).normal(size=(16, 49, 10, 1)).astype(np.float32))
    converted = edgeq.convert(folder / "kws.keras", calib=folder / "calib.npz", mode="int8,float32")
    files = {}
    for mode in ("int8", "float32"):
        files[mode] = folder / f"kws_{mode}.tflite"
        files[mode].write_bytes(converted.mode(mode).tflite)
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    files["labels"] = folder / "labels.txt"
    return files


def test_image_or_features_follows_the_shape():
    assert (
        looks_like_image((1, 96, 96, 3))
        and looks_like_image((1, 8, 8, 1))
        and looks_like_image((1, 28, 28, 1))
    )
    assert not looks_like_image((1, 49, 10, 1))  # MFCC frames x coefficients
    assert (
        not looks_like_image((1, 128, 3))
        and not looks_like_image((1, 640))
        and not looks_like_image((1, 8, 8, 4))
    )


@pytest.mark.parametrize("mode", ["int8", "float32"])
def test_an_mfcc_keyword_spotter_is_a_feature_classifier(tmp_path, mfcc_models, mode):
    """No --mean/--std needed (even for float32), no Bitmap method, a values-in classify()."""
    result = export_android(mfcc_models[mode], tmp_path / "m", labels=mfcc_models["labels"], name="kws")
    assert result.classifier.image is None and not result.classifier.mean
    kotlin = "\n".join(p.read_text() for p in (tmp_path / "m").rglob("*.kt"))
    assert "Bitmap" not in kotlin and "GRAYSCALE" not in kotlin
    assert "fun classify(" in kotlin
    assert "image" not in result.summary().lower()
    readme = (tmp_path / "m" / "README.md").read_text()
    assert "Bitmap" not in readme


def test_flatc_reader_reads_feature_metadata_back(tmp_path, monkeypatch, mfcc_models):
    flatc = require_tool("flatc")
    subprocess.run([flatc, "--python", "-o", str(tmp_path / "generated"), str(metadata_schema())],
                   check=True, capture_output=True)  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path / "generated"))
    try:
        from tflite.AssociatedFileType import AssociatedFileType
        from tflite.ContentProperties import ContentProperties
        from tflite.ModelMetadata import ModelMetadata

        export_android(mfcc_models["int8"], tmp_path / "m", labels=mfcc_models["labels"], name="kws")
        model = (tmp_path / "m" / "src/main/assets/kws.tflite").read_bytes()
        metadata = ModelMetadata.GetRootAs(_metadata_buffer(model), 0)
        tensor = metadata.SubgraphMetadata(0).InputTensorMetadata(0)
        assert tensor.Content().ContentPropertiesType() == ContentProperties.FeatureProperties
        assert tensor.ProcessUnitsLength() == 0  # no pixel normalization
        output = metadata.SubgraphMetadata(0).OutputTensorMetadata(0)
        assert output.AssociatedFiles(0).Type() == AssociatedFileType.TENSOR_AXIS_LABELS
        with zipfile.ZipFile(tmp_path / "m" / "src/main/assets/kws.tflite") as archive:
            assert archive.read(output.AssociatedFiles(0).Name().decode()).decode().splitlines() == LABELS
    finally:
        for module in [m for m in sys.modules if m == "tflite" or m.startswith("tflite.")]:
            del sys.modules[module]


def test_input_option_overrides_the_shape(tmp_path, mfcc_models, capfd):
    forced = export_android(mfcc_models["int8"], tmp_path / "img", labels=mfcc_models["labels"], name="kws",
                            mean=0, std=1, input_kind="image")  # fmt: skip
    assert forced.classifier.image is not None and forced.classifier.image.color_space == "GRAYSCALE"
    with pytest.raises(InputError, match="--input"):
        export_android(
            mfcc_models["int8"], tmp_path / "bad", labels=mfcc_models["labels"], input_kind="audio"
        )
    code = run(["export", "android", str(mfcc_models["float32"]), "--labels", str(mfcc_models["labels"]),
                "--input", "features", "-o", str(tmp_path / "cli")])  # fmt: skip
    assert code == 0 and (tmp_path / "cli" / "src/main/assets").is_dir()
    capfd.readouterr()
