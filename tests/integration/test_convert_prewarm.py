"""``edgeq.convert`` starts its converter child before loading the model (the child imports TensorFlow
and loads the model meanwhile): it serves the first conversion, and it is killed and reaped whenever
the parent fails before using it; a child that cannot load the model, or that times out, is still
that mode's crash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

import edgeq
import edgeq.api
from edgeq.conversion import tflite_converter
from edgeq.errors import ConversionError, InputError


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("prewarm")
    inputs = keras.Input((8,))
    keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Dense(16, activation="relu")(inputs))).save(
        folder / "dense.keras"
    )
    np.save(folder / "calib.npy", np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32))
    np.save(folder / "wrong_shape.npy", np.zeros((16, 5), np.float32))
    return folder / "dense.keras"


@pytest.fixture
def children(monkeypatch, tmp_path) -> list[tflite_converter.ConverterChild]:
    """Every converter child started, in order; temporary files go to a folder of the test's own."""
    started: list[tflite_converter.ConverterChild] = []

    class Recorded(tflite_converter.ConverterChild):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(tflite_converter, "ConverterChild", Recorded)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return started


def _assert_reaped(children: list[tflite_converter.ConverterChild], tmp_path: Path) -> None:
    assert children, "no converter child was started"
    for child in children:
        assert child.process.returncode is not None, f"child {child.pid} still runs"
        assert not Path(f"/proc/{child.pid}").exists(), f"child {child.pid} is a zombie or still runs"
    kids = [p.read_text().split() for p in Path(f"/proc/{os.getpid()}/task").glob("*/children")]
    assert not {int(pid) for pids in kids for pid in pids} & {c.pid for c in children}
    assert list((tmp_path / "tmp").iterdir()) == []  # no edgeq-convert-* folder left


def test_prewarmed_child_serves_the_conversion(model, children, tmp_path):
    result = edgeq.convert(model, calib=model.parent / "calib.npy", mode="int8,float32")
    assert result.ok and [m.key for m in result.modes] == ["int8", "float32"]
    assert len(children) == 1 and children[0].used  # the child started before load_model did it all
    _assert_reaped(children, tmp_path)


def test_prewarmed_child_is_reaped_when_the_calibration_data_is_bad(model, children, tmp_path):
    with pytest.raises(InputError, match="calibration"):
        edgeq.convert(model, calib=model.parent / "wrong_shape.npy", mode="int8")
    assert len(children) == 1 and not children[0].used
    _assert_reaped(children, tmp_path)


def test_prewarmed_child_is_reaped_on_keyboard_interrupt(model, children, tmp_path, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(edgeq.api, "_load_data", interrupted)
    with pytest.raises(KeyboardInterrupt):
        edgeq.convert(model, calib=model.parent / "calib.npy", mode="int8")
    _assert_reaped(children, tmp_path)


def test_prewarmed_child_is_reaped_when_the_model_is_missing(model, children, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        edgeq.convert(model.parent / "missing.keras", mode="float32")
    _assert_reaped(children, tmp_path)


CHILD_ONLY_FAILURE = """
import sys

if sys.argv[0].endswith("tflite_converter.py"):  # the converter child, not the edgeq process
    raise RuntimeError("refused in the converter child")
"""


def test_child_that_cannot_load_the_model_is_each_modes_crash(model, children, tmp_path):
    objects = tmp_path / "objects.py"
    objects.write_text(CHILD_ONLY_FAILURE)
    with pytest.raises(ConversionError, match=r"mode float32: .* crashed \(exit status 1\)"):
        edgeq.convert(model, mode="float32,float16", custom_objects=objects)
    assert len(children) == 2  # the prewarmed one, then a fresh one for float16, as before
    _assert_reaped(children, tmp_path)


def test_timeout_is_that_modes_crash_and_the_child_is_reaped(model, children, tmp_path, monkeypatch):
    monkeypatch.setattr(tflite_converter, "CONVERT_TIMEOUT_S", 0.05)
    with pytest.raises(ConversionError, match=r"mode float32: .* crashed \(no answer within 0.05 s\)"):
        edgeq.convert(model, mode="float32,float16")
    assert len(children) == 2  # the prewarmed one, then a fresh one for float16
    _assert_reaped(children, tmp_path)
