"""Rebuild datasets/hard_case_densenet.keras: the bundled model that plain int8 PTQ breaks.

A DenseNet-style digits classifier without batch-norm: six 3x3 Conv2D+ReLU layers of 16 filters,
each one's input being the concatenation of the image and every earlier layer's output, then
global average pooling and a softmax Dense layer. Trained on x_train of datasets/digits.npz
(pixels / 16), Adam 1e-3, 60 epochs, batch 32, seed 0 with TensorFlow op determinism and
oneDNN off (as edgeq imports TensorFlow).

Why int8 hurts it: TFLite's int8 CONCATENATION needs one scale for all its inputs and its output,
and the converter imposes that scale on the tensors feeding it. The last concatenation carries
ReLU features up to about 170, so the model's input, which feeds the first concatenation, gets
a scale of about 0.67 for pixels in 0..1: the image reaches the network as 0, 1 or 2.

Run once by a maintainer (python datasets/make_hard_case.py from the checkout, with edgeq's
virtual environment); edgeq and its tests use the committed file, whose sha256 is in
MANIFEST.json. Retraining on another machine may give slightly different weights.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 60
LAYERS = 6
FILTERS = 16


def build() -> object:
    import keras
    from keras import layers

    image = keras.Input((8, 8, 1), name="image")
    x = image
    for i in range(LAYERS):
        features = layers.Conv2D(FILTERS, 3, padding="same", activation="relu", name=f"c{i}")(x)
        x = layers.Concatenate(name=f"cat{i}")([x, features])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    probabilities = layers.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(image, probabilities, name="densenet_digits")


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    from edgeq.conversion.quiet import import_tensorflow  # oneDNN off, as every edgeq run

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    with np.load(HERE / "digits.npz") as data:
        x_train = data["x_train"].astype(np.float32) / 16
        y_train = data["y_train"].astype(np.int64)
        x_test = data["x_test"].astype(np.float32) / 16
        y_test = data["y_test"].astype(np.int64)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    out = HERE / "hard_case_densenet.keras"
    model.save(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: float top-1 {accuracy * 100:.2f} % on x_test, sha256 {digest}")


if __name__ == "__main__":
    main()
