"""edgeq.toml validation: every problem is one line naming the key, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeq.cli import run
from edgeq.errors import InputError
from edgeq.runconfig import load_config

GOOD = """
[model]
path = "model.keras"
[data]
calib = "calib.npz"
eval = "test.npz"
scale = 0.0625
[convert]
modes = ["int8", "float16"]
[export]
mode = "int8"
[bench]
targets = ["host", "cortex-m4"]
[output]
folder = "out"
"""


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    for name in ("model.keras", "calib.npz", "test.npz"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def _write(folder: Path, text: str) -> Path:
    path = folder / "edgeq.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_paths_relative_to_it(folder):
    config = load_config(_write(folder, GOOD))
    assert config.model == folder / "model.keras" and config.output == folder / "out"
    assert config.modes == ("int8", "float16") and config.scale == 0.0625
    assert config.export.mode == "int8" and config.bench.targets == ("host", "cortex-m4")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("modes = [", "mdoes = ["),
            "unknown key convert.mdoes (valid in [convert]: modes, io, layer_report, max_drop)",
        ),
        (("[output]", "[outptu]"), "unknown section [outptu]"),
        (("scale = 0.0625", 'scale = "fast"'), "data.scale must be a number, got a string ('fast')"),
        (('modes = ["int8", "float16"]', 'modes = "int8"'), "convert.modes must be a list of mode names"),
        (('modes = ["int8", "float16"]', 'modes = ["int9"]'), "convert.modes: 'int9' is not one of"),
        (('path = "model.keras"', 'path = "missing.keras"'), "model.path: 'missing.keras' does not exist"),
        (('calib = "calib.npz"', 'calib = "nope.npz"'), "data.calib: 'nope.npz' does not exist"),
        (('targets = ["host", "cortex-m4"]', 'targets = ["cortex-m5"]'), "unknown target 'cortex-m5'"),
        (('mode = "int8"', 'mode = "float32"'), "export.mode: 'float32' is not among convert.modes"),
        (('targets = ["host", "cortex-m4"]', "targets = 3"), "bench.targets must be a list of target names"),
    ],
)
def test_each_problem_is_one_line_naming_the_key_and_exit_2(folder, capfd, change, message):
    path = _write(folder, GOOD.replace(*change))
    with pytest.raises(InputError, match=None) as raised:
        load_config(path)
    assert message in str(raised.value) and str(raised.value).startswith("edgeq.toml: ")
    assert run(["run", str(path)]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (folder / "out").exists()


def test_missing_model_key_and_invalid_toml(folder, capfd):
    assert run(["run", str(_write(folder, "[data]\nscale = 1\n"))]) == 2
    assert "model.path is missing" in capfd.readouterr().err
    assert run(["run", str(_write(folder, "[model\npath=1"))]) == 2
    assert "not valid TOML" in capfd.readouterr().err
    assert run(["run", str(folder / "absent.toml")]) == 2
    assert "absent.toml: no such file" in capfd.readouterr().err


def test_the_low_bit_modes_can_be_converted_exported_and_benchmarked(folder):
    text = GOOD.replace('modes = ["int8", "float16"]', 'modes = ["int4", "dynamic-int4"]')
    text = text.replace('mode = "int8"', 'mode = "int4"\ntemplate = "c"')
    config = load_config(_write(folder, text))
    assert config.modes == ("int4", "dynamic-int4") and config.export.mode == "int4"
    without_calib = text.replace('calib = "calib.npz"\n', "")
    with pytest.raises(InputError, match="modes int8, int16x8 and int4 need calibration data"):
        load_config(_write(folder, without_calib))
