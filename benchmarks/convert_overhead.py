"""Overhead of ``edgeq convert --mode int8`` over a bare TFLiteConverter script doing the same work.

Both run as fresh processes (imports included) on the same model and the same 200 calibration
samples, alternately, ROUNDS times each; the ratio of the medians is printed. Machines here are
noisy, so only the ratio measured within one run means anything.

    .venv/bin/python benchmarks/convert_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "datasets" / "digits.npz"

BARE_SCRIPT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import keras
import tensorflow as tf

model = keras.saving.load_model(sys.argv[1], compile=False)
with np.load(sys.argv[2]) as data:
    x = data["x_train"].astype(np.float32) * np.float32(0.0625)
index = np.sort(np.random.default_rng(0).choice(len(x), size=200, replace=False))
samples = x[index]

def representative():
    for i in range(len(samples)):
        yield [samples[i : i + 1]]

single = keras.Input(batch_shape=(1, 8, 8, 1))  # edgeq converts with batch size 1 too
converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(single, model(single)))
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = representative
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = tf.int8
converter.inference_output_type = tf.int8
with open(sys.argv[3], "wb") as handle:
    handle.write(converter.convert())
"""


def build_model(folder: Path) -> Path:
    """The digits CNN with seeded untrained weights: conversion cost does not depend on training."""
    script = (
        "import sys, keras; from edgeq.zoo import digits_cnn; keras.utils.set_random_seed(0); "
        "digits_cnn().save(sys.argv[1])"
    )
    path = folder / "digits_cnn.keras"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, capture_output=True)
    return path


def say(message: str) -> None:
    """Progress on stderr, at once: the whole measurement takes minutes."""
    print(f"· {message}", file=sys.stderr, flush=True)


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeq-bench-") as work:
        folder = Path(work)
        say("building the digits CNN (seeded, untrained)")
        model = build_model(folder)
        edgeq_argv = [
            sys.executable, "-m", "edgeq", "convert", str(model), "--mode", "int8",
            "--calib", f"{DIGITS}:train", "--calib-samples", "200", "--seed", "0", "--scale", "0.0625",
            "-o", str(folder / "out"), "--force",
        ]  # fmt: skip
        bare_argv = [sys.executable, "-c", BARE_SCRIPT, str(model), str(DIGITS), str(folder / "bare.tflite")]
        say("warming the file cache with one bare conversion (not counted)")
        timed(bare_argv)
        edgeq_times, bare_times = [], []
        for number in range(1, args.rounds + 1):
            say(f"round {number}/{args.rounds}: edgeq convert, then the bare script (fresh processes)")
            edgeq_times.append(timed(edgeq_argv))
            bare_times.append(timed(bare_argv))
            say(f"round {number}/{args.rounds}: edgeq {edgeq_times[-1]:.2f} s, bare {bare_times[-1]:.2f} s")
        edgeq_size = (folder / "out" / "digits_cnn_int8.tflite").stat().st_size
        bare_size = (folder / "bare.tflite").stat().st_size
    edgeq_median, bare_median = statistics.median(edgeq_times), statistics.median(bare_times)
    print(
        f"edgeq convert --mode int8: median {edgeq_median:.2f} s over {args.rounds} runs ({edgeq_size} bytes)"
    )
    print(
        f"bare TFLiteConverter:      median {bare_median:.2f} s over {args.rounds} runs ({bare_size} bytes)"
    )
    print(f"ratio edgeq / bare: {edgeq_median / bare_median:.3f} (goal <= 1.15)")


if __name__ == "__main__":
    main()
