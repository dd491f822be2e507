"""The model zoo: MLPerf Tiny builders match the reference shapes and sizes; calibration data fits them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgeq.zoo import ZOO, calibration_data

# (input shape, output shape, parameter count of the MLPerf Tiny reference model)
MLPERF = {
    "kws": ((49, 10, 1), (12,), 25_000),
    "vww": ((96, 96, 3), (2,), 222_000),
    "ic": ((32, 32, 3), (10,), 79_000),
    "ad": ((640,), (640,), 270_000),
}


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_model_shapes_and_parameter_count(name):
    input_shape, output_shape, reference_params = MLPERF[name]
    model = ZOO[name]()
    assert tuple(model.input_shape) == (None, *input_shape)
    assert tuple(model.output_shape) == (None, *output_shape)
    assert abs(model.count_params() - reference_params) <= 0.1 * reference_params, model.count_params()


def test_seed_fixes_the_weights():
    first, again, other = (ZOO["kws"](seed=seed).get_weights() for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_calibration_data_fits_the_model_input(name):
    data = calibration_data(name, samples=5)
    assert data.dtype == np.float32
    assert data.shape[1:] == tuple(ZOO[name]().input_shape[1:]) and len(data) == 5


def test_calibration_data_ranges_and_seeding():
    images = calibration_data("ic", samples=16)
    assert images.min() >= 0.0 and images.max() <= 1.0
    features = calibration_data("ad", samples=200)
    assert features.min() < -1.0 and abs(features.mean()) < 0.05 and abs(features.std() - 1.0) < 0.05
    assert np.array_equal(calibration_data("kws", seed=3), calibration_data("kws", seed=3))
    assert not np.array_equal(calibration_data("kws", seed=3), calibration_data("kws", seed=4))


def test_unknown_name_lists_the_choices():
    with pytest.raises(KeyError, match="digits, kws, vww, ic, ad"):
        calibration_data("resnet50")


def test_importing_the_zoo_does_not_import_tensorflow():
    probe = "import sys, edgeq.zoo; print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
