"""Reference models: Keras builders for standard workloads used by the demo, tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgeq.zoo.digits import digits_cnn
from edgeq.zoo.mlperf import ad_autoencoder, ic_resnet8, kws_dscnn, vww_mobilenet

__all__ = [
    "ZOO",
    "ad_autoencoder",
    "calibration_data",
    "digits_cnn",
    "ic_resnet8",
    "kws_dscnn",
    "vww_mobilenet",
]

ZOO: dict[str, Callable[..., Any]] = {
    "digits": digits_cnn,
    "kws": kws_dscnn,
    "vww": vww_mobilenet,
    "ic": ic_resnet8,
    "ad": ad_autoencoder,
}

# Input shape (without the batch axis) and value distribution of each ZOO model. Kept here rather
# than read from a built model so that no TensorFlow import is needed to make data.
_INPUTS: dict[str, tuple[tuple[int, ...], str]] = {
    "digits": ((8, 8, 1), "uniform"),
    "kws": ((49, 10, 1), "normal"),
    "vww": ((96, 96, 3), "uniform"),
    "ic": ((32, 32, 3), "uniform"),
    "ad": ((640,), "normal"),
}


def calibration_data(name: str, samples: int = 64, seed: int = 0) -> np.ndarray:
    """Seeded random float32 inputs for the ZOO model ``name``, shaped (samples, *input shape).

    Images are uniform in 0..1 and MFCC / log-mel features standard normal. This is stand-in
    calibration data for converting the random-weight models to int8 (sizes, op sets, memory,
    latency); it says nothing about the accuracy of a trained model.

    Raises KeyError for a name not in ZOO.
    """
    if name not in _INPUTS:
        raise KeyError(f"unknown zoo model {name!r}; choose from {', '.join(ZOO)}")
    shape, distribution = _INPUTS[name]
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        data = rng.uniform(0.0, 1.0, size=(samples, *shape))
    else:
        data = rng.standard_normal(size=(samples, *shape))
    return data.astype(np.float32)
