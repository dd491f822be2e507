"""Shared fixtures: the trained digits demo (built once per session) and small model builders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "datasets" / "digits.npz"


def require_tool(name: str) -> str:
    """The path of ``name``; skips when missing, fails when EDGEQ_REQUIRE_TOOLCHAINS=1 (CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (see the Makefile for the package that provides it)"
        if os.environ.get("EDGEQ_REQUIRE_TOOLCHAINS") == "1":
            pytest.fail(message + "; EDGEQ_REQUIRE_TOOLCHAINS=1 requires it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """``edgeq demo`` run once: (ConvertResult, output folder)."""
    from edgeq.demo import run_demo

    output = tmp_path_factory.mktemp("demo") / "out"
    result = run_demo(output)
    return result, output


@pytest.fixture(scope="session")
def digits_model(demo_run) -> Path:
    """The trained digits CNN as a .keras file."""
    return demo_run[1] / "digits_cnn.keras"


@pytest.fixture(scope="session")
def digits_split(demo_run) -> tuple[Path, Path]:
    """(calibration .npz, test .npz) written by the demo, raw 0..16 pixels."""
    return demo_run[1] / "calib.npz", demo_run[1] / "test.npz"


@pytest.fixture(scope="session")
def small_dense_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 4-input dense model, for tests that only need something loadable and fast."""
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    path = tmp_path_factory.mktemp("dense") / "dense.keras"
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.fixture()
def dense_data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "dense.npz"
    np.savez(path, x=rng.normal(size=(64, 4)).astype(np.float32), y=rng.integers(0, 3, size=64))
    return path


GOLDEN = REPO / "tests" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files from the current output"
    )


@pytest.fixture()
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def tiny_int8() -> Path:
    """A checked-in 3 KB int8 model (tests/golden/make_models.py): conv, depthwise, pool, dense."""
    return GOLDEN / "tiny_int8.tflite"


@pytest.fixture(scope="session")
def tiny_int16x8() -> Path:
    return GOLDEN / "tiny_int16x8.tflite"


@pytest.fixture(scope="session", params=["kws", "vww", "ic", "ad"])
def zoo_int8(request, tmp_path_factory):
    """(name, Keras model, int8 ModeResult) for each MLPerf Tiny model, converted once per session
    with ``edgeq.convert`` (seeded random weights, seeded calibration data)."""
    import edgeq
    from edgeq.zoo import ZOO, calibration_data

    name = request.param
    folder = tmp_path_factory.mktemp(name)
    model = ZOO[name]()
    model.save(folder / "m.keras")
    np.savez(folder / "c.npz", x=calibration_data(name))
    return name, model, edgeq.convert(folder / "m.keras", calib=folder / "c.npz", mode="int8").mode("int8")
