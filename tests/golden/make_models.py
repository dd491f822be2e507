"""Rebuild the small .tflite fixtures the golden-file tests export (run by hand, then review).

Golden files hold the model's bytes, so the model must not change with the machine: it is
converted once here and checked in, rather than rebuilt by each test run.

    .venv/bin/python tests/golden/make_models.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import edgeq


def build(folder: Path) -> Path:
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    path = folder / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def main() -> None:
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as work:
        model = build(Path(work))
        calib = Path(work) / "calib.npz"
        np.savez(calib, x=np.random.default_rng(7).random((32, 8, 8, 1), dtype=np.float32))
        result = edgeq.convert(model, calib=calib, mode="int8,int16x8")
    for key, name in (("int8", "tiny_int8.tflite"), ("int16x8", "tiny_int16x8.tflite")):
        (here / name).write_bytes(result.mode(key).tflite)
        print(name, result.mode(key).size_bytes, "bytes")


if __name__ == "__main__":
    main()
