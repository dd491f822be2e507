"""Nothing a user hands edgeq may crash it: corrupted .tflite files, models that abort LiteRT."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

import edgeq
from edgeq.cli import run
from edgeq.errors import InputError
from edgeq.results.markdown import footnotes
from edgeq.tflite import read_tflite


def _variants(original: bytes, count: int, seed: int) -> list[bytes]:
    """Truncations, byte flips, random bytes after a valid header, and offsets pointing outside."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        kind = index % 4
        data = bytearray(original)
        if kind == 0:
            data = data[: rng.randrange(0, len(data))]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 2:
            data = data[:8] + bytearray(rng.randbytes(rng.randrange(8, 4096)))
        else:
            position = rng.randrange(0, len(data) - 4) & ~3
            struct.pack_into(
                "<I", data, position, rng.choice([len(data), len(data) + 4, 0x7FFFFFFF, 0xFFFFFFF0])
            )
        made.append(bytes(data))
    return made


def test_a_thousand_corrupted_models_never_crash_inspect_or_export(tmp_path, tiny_int8, capfd):
    variants = _variants(tiny_int8.read_bytes(), 1000, seed=11)
    refused = still_valid = 0
    for index, data in enumerate(variants):
        try:
            read_tflite(data, f"variant {index}")
        except InputError as exc:
            assert "\n" not in str(exc)
            refused += 1
        else:
            still_valid += 1
    assert refused + still_valid == 1000
    # Through the real commands: every refused variant is one line and exit code 2, with nothing
    # written; a variant that is still a well-formed model (a flipped bit in a weight or a scale)
    # must be handled too, by exit 0 or a clean error, never a crash. All of them go through both
    # commands when they are refused by the reader (fast); a sample of the valid ones runs fully.
    valid_checked = 0
    for index, data in enumerate(variants):
        path = tmp_path / f"v{index}.tflite"
        path.write_bytes(data)
        try:
            read_tflite(data)
            valid = True
        except InputError:
            valid = False
        if valid:
            valid_checked += 1
            if valid_checked > 5:  # the fuzzer (test_fuzz.py) runs more mutated-but-valid models
                continue
        for argv in (
            ["inspect", str(path)],
            ["export", "mcu", str(path), "-o", str(tmp_path / f"out{index}")],
        ):
            code = run(argv)
            err = capfd.readouterr().err
            assert "Traceback" not in err
            if valid:
                assert code in (0, 2)
            else:
                assert code == 2, err
                assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
        assert valid or not (tmp_path / f"out{index}").exists()
        path.unlink()
    print(f"refused {refused}, still well-formed {still_valid}")
    assert refused >= 800


def test_reader_rejects_specific_malformations(tiny_int8):
    original = tiny_int8.read_bytes()
    with pytest.raises(InputError, match="too short"):
        read_tflite(original[:4])
    with pytest.raises(InputError, match="no TFL3 file identifier"):
        read_tflite(original[:4] + b"XXXX" + original[8:])
    with pytest.raises(InputError, match="outside"):
        read_tflite(struct.pack("<I", len(original) + 100) + original[4:])


def test_a_model_that_aborts_litert_is_reported_not_fatal(tmp_path):
    """int8 SOFTMAX with a near-zero input scale makes LiteRT's reference kernel abort()."""
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.save(tmp_path / "tiny_scale.keras")
    np.savez(
        tmp_path / "calib.npz", x=np.random.default_rng(0).normal(scale=1e-8, size=(16, 4)).astype(np.float32)
    )
    result = edgeq.convert(
        tmp_path / "tiny_scale.keras", calib=tmp_path / "calib.npz", eval=tmp_path / "calib.npz", mode="int8"
    )
    mode = result.mode("int8")
    assert mode.problem is not None and "crashed (SIGABRT)" in mode.problem
    assert mode.evaluation is None
    assert any("Problems" in note for note in footnotes(result))
