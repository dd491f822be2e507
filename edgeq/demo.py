"""``edgeq demo``: train the digits CNN on the bundled data set, convert it in every mode, report."""

from __future__ import annotations

import dataclasses
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from edgeq.api import Progress, convert
from edgeq.checks import check_count, check_seed
from edgeq.data import Preprocessing
from edgeq.errors import InputError
from edgeq.outputs import atomic_output_dir, check_output_dir
from edgeq.results import ConvertResult

DIGITS_SCALE = 1.0 / 16.0  # pixels are counts 0..16


def bundled_digits() -> Path:
    """The bundled ``digits.npz`` (the checkout's ``datasets/``, package data ``edgeq.datasets`` in
    the wheel); raises InputError if this installation lacks it."""
    try:
        path = resources.files("edgeq.datasets") / "digits.npz"
    except ModuleNotFoundError:  # an editable install older than edgeq.datasets
        path = None
    if not (isinstance(path, Path) and path.is_file()):
        raise InputError(
            "the bundled data set (digits.npz of the package edgeq.datasets) is missing: "
            "reinstall edgeq (in a checkout: make setup), or pass --data"
        )
    return path


DIGITS_INPUT = (None, 8, 8, 1)
DIGITS_CLASSES = 10


def check_digits(path: Path) -> None:
    """InputError unless ``path`` is an .npz with ``x_train``/``y_train`` and ``x_test``/``y_test``
    shaped like the digits data (8x8 images, labels 0..9), before any training."""
    from edgeq.data import prepare_dataset, read_dataset

    if path.suffix.lower() != ".npz":
        raise InputError(f"--data {path} is not an .npz file: give one with x_train, y_train, x_test, y_test")
    for split in ("train", "test"):
        dataset = read_dataset(f"{path}:{split}", DIGITS_INPUT, f"--data ({split} split)")
        if dataset.y is None:
            raise InputError(f"--data {path} has no y_{split}: the demo trains and tests on labelled digits")
        prepare_dataset(dataset, DIGITS_INPUT, "float32", Preprocessing(scale=DIGITS_SCALE),
                        f"--data ({split} split)", num_classes=DIGITS_CLASSES)  # fmt: skip


def train_digits_cnn(data: Path, epochs: int, seed: int) -> object:
    """Train ``edgeq.zoo.digits_cnn`` on ``x_train``/``y_train`` of ``data``, seeded."""
    from edgeq.conversion.quiet import import_tensorflow, quiet
    from edgeq.zoo import digits_cnn

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    with np.load(data) as archive:
        x_train = archive["x_train"].astype(np.float32) * DIGITS_SCALE
        y_train = archive["y_train"].astype(np.int64)
    model = digits_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    with quiet():
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return model


def run_demo(
    output: str | Path,
    force: bool = False,
    epochs: int = 30,
    seed: int = 0,
    data: str | Path | None = None,
    progress: Progress | None = None,
) -> ConvertResult:
    """Train, convert in all six modes, evaluate on the test split, and write everything to ``output``.

    ``output`` receives ``digits_cnn.keras``, ``calib.npz`` (the training split), ``test.npz``,
    the six .tflite files, ``report.json`` and ``report.md``. Returns the ConvertResult.
    """
    say = progress or (lambda _message: None)
    output = check_output_dir(output, force)
    data_path = Path(data) if data is not None else bundled_digits()
    check_count(epochs, "--epochs", maximum=10_000)
    check_seed(seed)
    check_digits(data_path)
    with tempfile.TemporaryDirectory(prefix="edgeq-demo-") as work:
        work_dir = Path(work)
        say(f"training the digits CNN on {data_path} ({epochs} epochs, seed {seed})")
        model = train_digits_cnn(data_path, epochs, seed)
        model_path = work_dir / "digits_cnn.keras"
        model.save(model_path)
        with np.load(data_path) as archive:
            np.savez(work_dir / "calib.npz", x=archive["x_train"], y=archive["y_train"])
            np.savez(work_dir / "test.npz", x=archive["x_test"], y=archive["y_test"])
        result = convert(
            model_path,
            calib=work_dir / "calib.npz",
            eval=work_dir / "test.npz",
            mode="all",
            scale=DIGITS_SCALE,
            seed=seed,
            progress=progress,
        )
        result = _relocated(result, str(work_dir), str(output))
        with atomic_output_dir(output, force) as staging:
            for name in ("digits_cnn.keras", "calib.npz", "test.npz"):
                (staging / name).write_bytes((work_dir / name).read_bytes())
            result.write_into(staging)
    return result


def _relocated(result: ConvertResult, old: str, new: str) -> ConvertResult:
    """The same result with paths inside the temporary work folder pointed at the output folder."""

    def fix(section: dict | None) -> dict | None:
        if section is None:
            return None
        return {k: (v.replace(old, new) if isinstance(v, str) else v) for k, v in section.items()}

    return dataclasses.replace(
        result,
        source=fix(result.source),
        calibration=fix(result.calibration),
        evaluation_data=fix(result.evaluation_data),
    )
