"""Each hostile input of issue 18, pinned: one deterministic test apiece, run in-process through
``edgeq.cli.run`` in a sandbox folder (the working directory while it runs).

Every refusal must give the documented exit code (2: a problem with the input), exactly one line
starting with ``error:`` on stderr, naming the problem, as its last line, and no traceback; and
it must leave nothing behind: the sandbox's listing (hidden files included, with each file's
content hash and mtime) is the same before and after, so no file appeared, no file the user had
was deleted or changed, no output path (``-o``, ``--json``, ``[output] folder``) exists
afterwards, and the temporary folder (a private ``TMPDIR``) holds nothing new. No numpy
RuntimeWarning may reach the user either.

The seeded fuzzer (tests/fuzzing.py, tests/integration/test_fuzz.py) draws such inputs at random;
these tests name each one and what edgeq must say about it. Cheap on purpose: the checked-in
3 KB int8 model, two tiny Keras models built once, JSON run folders written by hand. Nothing
is converted (each convert case is refused once the model is loaded, before the converter gets
the data); ``export mcu`` runs TFLite Micro in a child process (about 2 s) before it refuses.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import fuzzing
import numpy as np
import pytest

from edgeq.cli import run

USER_FILE = b"the user's own file: edgeq must leave it alone\n"
LONG = "n" * 300


# ---------------------------------------------------------------------------------------------
# The sandbox: run a command, see what it printed and what it changed


@dataclass
class Outcome:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str
    created: list[str]
    deleted: list[str]
    modified: list[str]
    temp_left: list[str]
    warned: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]

    def __str__(self) -> str:  # shown by a failing assertion
        return (
            f"edgeq {' '.join(self.argv)[:300]} -> {self.code}\nstdout: {self.out[-1500:]}\n"
            f"stderr: {self.err[-1500:]}\ncreated {self.created[:5]}, deleted {self.deleted[:5]}, "
            f"modified {self.modified[:5]}, left in TMPDIR {self.temp_left[:5]}, warnings {self.warned[:3]}"
        )


class Sandbox:
    """A folder holding the user's files (``important.txt`` always among them), the working
    directory of each ``run``; a private TMPDIR beside it."""

    def __init__(self, root: Path, temp: Path, capfd: pytest.CaptureFixture[str]) -> None:
        self.root, self.temp, self.capfd = root, temp, capfd
        self.write("important.txt", USER_FILE)

    def write(self, relative: str, content: bytes | str) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return relative

    def copy(self, source: Path, relative: str) -> str:
        return self.write(relative, source.read_bytes())

    def run(self, *argv: str) -> Outcome:
        before = fuzzing.snapshot(self.root)
        temp_before = set(os.listdir(self.temp))
        self.capfd.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # whatever edgeq lets through would reach the user
            code = run(list(argv))
        out, err = self.capfd.readouterr()
        after = fuzzing.snapshot(self.root)
        return Outcome(
            argv=argv,
            code=code,
            out=out,
            err=err,
            created=sorted(set(after) - set(before)),
            deleted=sorted(set(before) - set(after)),
            modified=sorted(
                p for p in before if p in after and before[p] != after[p] and before[p][0] != "dir"
            ),
            temp_left=sorted(set(os.listdir(self.temp)) - temp_before),
            warned=[f"{w.category.__name__}: {w.message}" for w in caught],
        )


@pytest.fixture()
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Sandbox:
    root, temp = tmp_path / "box", tmp_path / "tmp"
    root.mkdir()
    temp.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("TMPDIR", str(temp))  # child processes (converter, TFLite Micro) too
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("EDGEQ_DEBUG", raising=False)
    return Sandbox(root, temp, capfd)


def assert_clean(outcome: Outcome, written: tuple[str, ...] = ()) -> None:
    """No traceback, no RuntimeWarning, nothing deleted or changed, nothing new outside ``written``
    (sandbox-relative paths; a folder covers what is under it), nothing left in TMPDIR."""
    assert "Traceback" not in outcome.out + outcome.err, outcome
    assert "RuntimeWarning" not in outcome.err, outcome
    assert not [w for w in outcome.warned if w.startswith("RuntimeWarning")], outcome
    assert outcome.deleted == [] and outcome.modified == [], outcome
    stray = [p for p in outcome.created if not any(p == w or p.startswith(w + "/") for w in written)]
    assert stray == [], outcome
    assert outcome.temp_left == [], outcome


def assert_refused(outcome: Outcome, *names: str, code: int = 2, outputs: tuple[str, ...] = ()) -> str:
    """The documented exit code, one ``error:`` line (stderr's last) holding every one of
    ``names``, and nothing left behind; every path of ``outputs`` absent. Returns the line."""
    assert outcome.code == code, outcome
    assert len(outcome.errors) == 1, outcome
    line = outcome.errors[0]
    assert outcome.err.rstrip("\n").splitlines()[-1] == line, outcome  # a one-line message
    for name in names:
        assert name in line, outcome
    assert_clean(outcome)
    for path in outputs:
        assert not os.path.lexists(path), f"{path} exists after a refusal\n{outcome}"
    return line


# ---------------------------------------------------------------------------------------------
# Inputs


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two untrained Keras models: ``image`` (8x8x1 -> 3 classes) and ``dense`` (4 -> 3 classes)."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    import_tensorflow()
    import keras

    folder = tmp_path_factory.mktemp("hostile-models")
    keras.utils.set_random_seed(0)
    with quiet():
        image = keras.Input((8, 8, 1))
        dense = keras.Input((4,))
        keras.Model(image, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(image))).save(
            folder / "image.keras"
        )
        keras.Model(dense, keras.layers.Dense(3, activation="softmax")(dense)).save(folder / "dense.keras")
    return {"image": folder / "image.keras", "dense": folder / "dense.keras"}


def npy(array: np.ndarray) -> bytes:
    return fuzzing.npy_bytes(array)


def npz(**arrays: np.ndarray) -> bytes:
    return fuzzing.npz_bytes(**arrays)


LABELS = "cat\ndog\nbird\n"  # tiny_int8 has 3 classes
STOP = ("--eval", "no-such-eval.npz")  # refused after the calibration data: never converts


def convert_calib(box: Sandbox, models: dict[str, Path], kind: str, calib: str, *extra: str) -> Outcome:
    model = box.copy(models[kind], "m.keras")
    return box.run("convert", model, "--calib", calib, "-o", "out", *extra, *STOP)


def run_config(box: Sandbox, body: str, name: str = "edgeq.toml") -> str:
    """An edgeq.toml converting the (never read) model m.keras in float32, with ``body`` added."""
    box.write("m.keras", b"not read: the run is refused first")
    return box.write(name, f'[model]\npath = "m.keras"\n\n[convert]\nmodes = ["float32"]\n\n{body}')


def mode_record() -> dict:
    tensor = {"name": "x", "shape": [1, 8, 8, 1], "dtype": "int8", "scale": 0.0039, "zero_point": -128}
    return {
        "key": "int8", "label": "int8", "scheme": "int8", "io": "int8", "file": "m_int8.tflite",
        "size_bytes": 11000, "conversion_seconds": 0.5, "ops": ["FULLY_CONNECTED"], "inputs": [tensor],
        "outputs": [tensor], "runs_in_litert": True, "problem": None, "size_ratio": 0.275,
        "top1_drop_points": 0.5,
        "evaluation": {"samples": 100, "top1": 0.97, "agreement": 0.99, "outputs": [
            {"output": 0, "relative_l2": 0.0068, "cosine": 0.9999, "max_abs_error": 0.05, "rmse": 0.002,
             "mae": 0.0005}]},
    }  # fmt: skip


def run_folder(box: Sandbox) -> str:
    """A run folder ``r/`` as edgeq run writes it, by hand: run.json and convert/report.json."""
    data = {"source": "test.npz", "format": "npz", "samples": 100, "value_range": [0.0, 1.0], "notes": []}
    convert = {
        "schema_version": 1, "kind": "edgeq.convert", "edgeq_version": "0.1.0",
        "source": {"path": "m.keras", "format": "keras", "sha256": "ab" * 32, "parameters": 10000},
        "size_baseline": {"kind": "float32_weights", "size_bytes": 40000},
        "preprocessing": {"scale": None, "mean": None, "std": None, "order": "x"},
        "calibration": data, "evaluation_data": data, "evaluation_kernels": "LiteRT BUILTIN_REF", "seed": 0,
        "reference": {"samples": 100, "top1": 0.975, "agreement": 1.0, "outputs": []},
        "modes": [mode_record()], "layer_errors": None, "mixed_precision": None, "qat": None,
        "environment": {"python": "3.11.7"},
    }  # fmt: skip
    record = {
        "schema_version": 1, "kind": "edgeq.run", "edgeq_version": "0.1.0",
        "config": {"model": {"path": "m.keras"}, "convert": {"modes": ["int8"]}},
        "stages": [{"name": "convert", "status": "ran", "seconds": 3.5, "inputs_sha256": "12" * 32}],
        "environment": {"python": "3.11.7"},
    }  # fmt: skip
    box.write("r/run.json", json.dumps(record))
    box.write("r/convert/report.json", json.dumps(convert))
    return "r"


def kotlin_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.kt"))


# ---------------------------------------------------------------------------------------------
# edgeq run: the user's files in and around the output folder


def test_run_keeps_a_file_the_user_wrote_in_the_output_folders_convert_subfolder(box):
    box.write("out/convert/important.txt", "the user's notes")
    config = run_config(box, '[output]\nfolder = "out"\n')
    for argv in (("run", config), ("run", config, "--force")):
        outcome = box.run(*argv)
        assert_refused(outcome, "out/convert", "important.txt", "edgeq did not write")
        assert (box.root / "out/convert/important.txt").read_text() == "the user's notes"


@pytest.mark.parametrize("model", ["missing", "garbage"])
def test_a_failing_run_does_not_create_its_output_folder(box, model):
    if model == "missing":  # refused while the configuration is read
        config = box.write("edgeq.toml", '[model]\npath = "missing.keras"\n[convert]\nmodes = ["float32"]\n'
                                         '[output]\nfolder = "fresh"\n')  # fmt: skip
        names: tuple[str, ...] = ("model.path", "missing.keras", "does not exist")
    else:  # the folder is made, then the convert stage fails on the model: it goes again
        config = run_config(box, '[output]\nfolder = "fresh"\n')
        names = ("m.keras", "not a .keras file")
    assert_refused(box.run("run", config), *names, outputs=("fresh",))


def test_run_output_folder_that_is_a_file_is_refused(box):
    box.write("taken", USER_FILE)
    config = run_config(box, '[output]\nfolder = "taken"\n')
    assert_refused(box.run("run", config), "[output] folder", "taken", "is not a folder")
    assert (box.root / "taken").read_bytes() == USER_FILE


NUL_FOLDER = '[output]\nfolder = "a\\u0000b"\n'  # TOML's escape: the value holds a NUL


def test_run_output_folder_holding_a_nul_is_refused(box):
    config = run_config(box, NUL_FOLDER)
    assert_refused(box.run("run", config), "NUL", r"'a\x00b'")


def test_run_output_folder_holding_a_nul_names_the_file_and_key(box):
    config = run_config(box, NUL_FOLDER)
    assert_refused(box.run("run", config), "edgeq.toml", "output.folder", "NUL")


def test_toml_nested_20000_deep_is_refused(box):
    config = run_config(box, '[output]\nfolder = "out"\n')
    box.write(
        config, "x = " + "[" * fuzzing.DEEP + "]" * fuzzing.DEEP + "\n" + (box.root / config).read_text()
    )
    assert_refused(box.run("run", config), "edgeq.toml", "nests more than 64 levels", outputs=("out",))


def test_toml_seed_minus_one_is_refused(box):
    config = run_config(box, '[data]\nseed = -1\n\n[output]\nfolder = "out"\n')
    assert_refused(box.run("run", config), "edgeq.toml: data.seed", "0 to 4294967295", "-1", outputs=("out",))


# ---------------------------------------------------------------------------------------------
# export mcu / export android: names, packages, labels, samples, numbers


def test_export_mcu_refuses_a_name_ending_in_a_newline(box, tiny_int8):
    model = box.copy(tiny_int8, "m.tflite")
    outcome = box.run("export", "mcu", model, "-o", "out", "--name", "abc\n")
    assert_refused(outcome, "--name", r"'abc\n'", "not a C identifier", outputs=("out",))


def test_export_android_refuses_a_package_ending_in_a_newline(box, tiny_int8):
    model, labels = box.copy(tiny_int8, "m.tflite"), box.write("labels.txt", LABELS)
    outcome = box.run(
        "export", "android", model, "--labels", labels, "-o", "out", "--package", "com.example\n"
    )
    assert_refused(outcome, "--package", r"'com.example\n'", "not a package name", outputs=("out",))


def test_export_android_name_opening_a_comment_leaves_no_comment_open_in_the_kotlin(box, tiny_int8):
    model, labels = box.copy(tiny_int8, "m.tflite"), box.write("labels.txt", LABELS)
    outcome = box.run("export", "android", model, "--labels", labels, "-o", "out", "--name", "nm /* open")
    if outcome.code != 0:  # refusing the name is fine too
        assert_refused(outcome, "--name", outputs=("out",))
        return
    assert_clean(outcome, written=("out",))
    sources = kotlin_files(box.root / "out")
    assert len(sources) == 2, outcome  # the classifier and its tensors
    assert any("nm" in source.read_text(encoding="utf-8") for source in sources)  # the name is used
    for source in sources:
        assert fuzzing.kotlin_problems(source.read_text(encoding="utf-8")) == [], source


@pytest.mark.parametrize(
    ("what", "content"),
    [
        ("empty", npy(np.zeros((0, 8, 8, 1), np.float32))),
        ("strings", npy(np.array([["a"] * 64] * 2))),
        ("nan", npy(np.where(np.arange(128).reshape(2, 8, 8, 1) == 9, np.nan, 0.5).astype(np.float32))),
    ],
)
def test_export_mcu_refuses_a_sample_file_without_usable_samples(box, tiny_int8, what, content):
    model, sample = box.copy(tiny_int8, "m.tflite"), box.write("sample.npy", content)
    expected = {
        "empty": ("contains no samples",),
        "strings": ("<U1", "not real numbers"),
        "nan": ("NaN", "first in sample 0"),
    }[what]
    outcome = box.run("export", "mcu", model, "-o", "out", "--sample", sample)
    assert_refused(outcome, "--sample sample.npy", *expected, outputs=("out",))


def test_export_mcu_refuses_an_arena_margin_of_2_to_the_70(box, tiny_int8):
    model = box.copy(tiny_int8, "m.tflite")
    outcome = box.run("export", "mcu", model, "-o", "out", "--arena-margin", str(2**70))
    line = assert_refused(outcome, "--arena-margin", str(2**70), "0 to 1,073,741,824", outputs=("out",))
    assert "TensorFlow Lite Micro" not in line and "TFLM" not in line


LABEL_FILES = {  # split on "\n" only each gives 3 lines, as tiny_int8 has 3 classes
    "vertical-tab": ("cat\x0bdog\nbird\nfish\n", "line 1", "U+000B"),
    "form-feed": ("cat\ndog\x0cx\nbird\n", "line 2", "U+000C"),
    "u2028": ("cat\ndog\u2028x\nbird\n", "line 2", "U+2028"),
}


def _export(box: Sandbox, tiny_int8: Path, command: str, labels: str) -> Outcome:
    model = box.copy(tiny_int8, "m.tflite")
    return box.run("export", command, model, "--labels", labels, "-o", "out")


@pytest.mark.parametrize("command", ["mcu", "android"])
@pytest.mark.parametrize("kind", list(LABEL_FILES))
def test_labels_with_a_separator_inside_a_line_are_refused_not_counted(box, tiny_int8, command, kind):
    text, line, char = LABEL_FILES[kind]
    outcome = _export(box, tiny_int8, command, box.write("labels.txt", text))
    error = assert_refused(outcome, "--labels", line, "control character", char, outputs=("out",))
    assert "labels but the model" not in error  # not read as an extra label


@pytest.mark.parametrize("command", ["mcu", "android"])
@pytest.mark.parametrize("text", ["cat\n\nbird\n", "cat\n \t \nbird\n"], ids=["empty", "spaces"])
def test_blank_labels_are_refused(box, tiny_int8, command, text):
    outcome = _export(box, tiny_int8, command, box.write("labels.txt", text))
    assert_refused(outcome, "--labels line 2 is blank", outputs=("out",))


def test_export_android_refuses_a_mean_beyond_float32(box, tiny_int8):
    model, labels = box.copy(tiny_int8, "m.tflite"), box.write("labels.txt", LABELS)
    outcome = box.run(
        "export", "android", model, "--labels", labels, "-o", "out", "--mean", "1e39", "--std", "1"
    )
    assert_refused(outcome, "--mean", "1e+39", "not a finite float32", outputs=("out",))


@pytest.mark.parametrize("command", ["convert", "mcu", "android"])
def test_an_output_folder_name_of_300_characters_is_refused(box, tiny_int8, keras_models, command):
    labels = box.write("labels.txt", LABELS)
    argv = {
        "convert": ("convert", box.copy(keras_models["dense"], "m.keras"), "--mode", "float32"),
        "mcu": ("export", "mcu", box.copy(tiny_int8, "m.tflite")),
        "android": ("export", "android", box.copy(tiny_int8, "m.tflite"), "--labels", labels),
    }[command]
    outcome = box.run(*argv, "-o", LONG)
    assert_refused(outcome, "a folder name is too long", "-o", outputs=(LONG,))


def test_export_mcu_refuses_a_name_of_300_characters(box, tiny_int8):
    model = box.copy(tiny_int8, "m.tflite")
    outcome = box.run("export", "mcu", model, "-o", "out", "--name", LONG)
    assert_refused(outcome, "--name is 300 characters long", "at most 63", outputs=("out",))


def test_export_android_name_of_300_characters_gives_short_file_names(box, tiny_int8):
    model, labels = box.copy(tiny_int8, "m.tflite"), box.write("labels.txt", LABELS)
    outcome = box.run("export", "android", model, "--labels", labels, "-o", "out", "--name", LONG)
    if outcome.code != 0:  # refusing the name is fine too
        assert_refused(outcome, "--name", outputs=("out",))
        return
    assert_clean(outcome, written=("out",))
    written = [p for p in (box.root / "out").rglob("*")]
    assert written and all(len(p.name.encode()) <= 255 for p in written), outcome
    assert all(LONG not in p.name for p in written)


@pytest.mark.parametrize("command", ["mcu", "android"])
def test_an_output_folder_in_proc_is_refused(box, tiny_int8, command):
    labels = box.write("labels.txt", LABELS)
    extra = ("--labels", labels) if command == "android" else ()
    model = box.copy(tiny_int8, "m.tflite")
    outcome = box.run("export", command, model, *extra, "-o", "/proc/edgeq-x")
    assert_refused(outcome, "cannot write output /proc/edgeq-x", outputs=("/proc/edgeq-x",))


# ---------------------------------------------------------------------------------------------
# Data files: calibration, evaluation and validation data


def test_convert_refuses_an_npz_member_that_is_not_npy(box, keras_models):
    calib = box.write("calib.npz", fuzzing.zip_bytes({"x": b"\x00garbage", "y": b"1"}))
    outcome = convert_calib(box, keras_models, "image", calib)
    assert_refused(outcome, "calib.npz", "'x'", "not a .npy array", outputs=("out",))


def test_convert_refuses_an_npy_whose_header_claims_7_tib(box, keras_models):
    header = {"descr": "<f4", "fortran_order": False, "shape": (7 * 2**40 // 256, 8, 8, 1)}
    with (box.root / "calib.npy").open("wb") as handle:  # the header alone: no data follows
        np.lib.format.write_array_header_1_0(handle, header)
    assert (box.root / "calib.npy").stat().st_size < 1024
    outcome = convert_calib(box, keras_models, "image", "calib.npy")
    assert_refused(outcome, "calib.npy", "7,168.0 GiB", "at most 4 GiB", outputs=("out",))


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        (30_000, "decompression bomb"),
        (5_000, "is 5000x5000 pixels: edgeq reads images of at most 16,777,216"),
    ],
    ids=["pillow-limit", "edgeq-limit"],
)
def test_convert_refuses_a_decompression_bomb_png_in_an_image_folder(box, keras_models, side, expected):
    box.write("images/cat/0.png", fuzzing.real_png(8, 8, seed=0))
    bomb = box.write("images/dog/bomb.png", fuzzing.png_bytes(side, side))  # IHDR claims side x side
    assert (box.root / bomb).stat().st_size < 4096
    outcome = convert_calib(box, keras_models, "image", "images")
    assert_refused(outcome, "images/dog/bomb.png", expected, outputs=("out",))


def test_convert_refuses_a_csv_header_wider_than_its_rows(box, keras_models):
    calib = box.write("calib.csv", "a,b,c,d,label\n1,2,3,4\n5,6,7,8\n")
    outcome = convert_calib(box, keras_models, "dense", calib)
    assert_refused(outcome, "calib.csv", "header of 5 columns but its first row has 4", outputs=("out",))


def test_nan_error_names_the_sample_of_the_file_not_of_the_drawn_subset(box, keras_models):
    x = np.random.default_rng(1).random((50, 8, 8, 1), dtype=np.float32)
    x[37, 3, 4, 0] = np.nan
    drawn = np.sort(np.random.default_rng(0).choice(50, size=40, replace=False))  # --seed 0's draw
    assert 37 in drawn and int(np.flatnonzero(drawn == 37)[0]) != 37  # its place in the subset differs
    calib = box.write("calib.npz", npz(x=x))
    outcome = convert_calib(box, keras_models, "image", calib, "--calib-samples", "40")
    assert_refused(outcome, "calib.npz", "1 NaN or infinite values", "first in sample 37 of the file",
                   outputs=("out",))  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(np.full(8, 1e20), "not class indices"), (np.full(8, 1 + 2j), "complex128")],
    ids=["1e20", "complex"],
)
def test_eval_labels_of_1e20_or_complex_are_one_line_and_no_warning(box, keras_models, labels, expected):
    model = box.copy(keras_models["dense"], "m.keras")
    data = box.write("eval.npz", npz(x=np.zeros((8, 4), np.float32), y=labels))
    outcome = box.run("convert", model, "--mode", "float32", "--eval", data, "-o", "out")
    assert_refused(outcome, "evaluation data eval.npz", "labels", expected, outputs=("out",))


def test_validate_refuses_nan_data_naming_the_sample(box, tiny_int8):
    x = np.full((6, 8, 8, 1), 0.5, np.float32)
    x[2, 0, 0, 0] = np.nan
    model, data = box.copy(tiny_int8, "m.tflite"), box.write("data.npy", npy(x))
    outcome = box.run("validate", model, "--data", data, "-n", "5", "--json", "v.json")
    assert_refused(outcome, "data.npy", "NaN", "first in sample 2", outputs=("v.json",))


# ---------------------------------------------------------------------------------------------
# Options: seeds, targets, JSON files


@pytest.mark.parametrize("command", ["convert", "bench", "validate"])
def test_seed_minus_one_is_refused(box, tiny_int8, keras_models, command):
    if command == "convert":
        calib = box.write("calib.npz", npz(x=np.zeros((4, 4), np.float32)))
        argv = ("convert", box.copy(keras_models["dense"], "m.keras"), "--calib", calib, "-o", "out")
    else:
        argv = (command, box.copy(tiny_int8, "m.tflite"), "--json", "out")
    expected = "whole number of at least 0" if command == "bench" else "whole number from 0 to 4294967295"
    assert_refused(box.run(*argv, "--seed", "-1"), "--seed", expected, "-1", outputs=("out",))


def test_bench_refuses_a_serial_target_whose_baud_is_not_a_number(box, tiny_int8):
    model = box.copy(tiny_int8, "m.tflite")
    outcome = box.run("bench", model, "--on", "serial:/dev/null@notabaud", "--json", "b.json")
    assert_refused(outcome, "serial:/dev/null@notabaud", "baud rate", outputs=("b.json",))


@pytest.mark.parametrize("where", ["folder", "missing-folder"])
def test_bench_json_that_is_a_folder_or_in_a_missing_folder_is_refused(box, tiny_int8, where):
    model = box.copy(tiny_int8, "m.tflite")
    if where == "folder":
        (box.root / "results").mkdir()
        outcome = box.run("bench", model, "--json", "results")
        assert_refused(outcome, "results is a folder")
        assert list((box.root / "results").iterdir()) == []
    else:
        outcome = box.run("bench", model, "--json", "nowhere/b.json")
        assert_refused(outcome, "nowhere/b.json", "does not exist", outputs=("nowhere",))


# ---------------------------------------------------------------------------------------------
# edgeq report: what it cannot read it leaves out, and says so


@pytest.mark.parametrize(
    ("file", "content", "problem"),
    [
        ("bench.json", "{not json", "not valid JSON"),
        ("inspect/m_int8.json", "{not json", "not valid JSON"),
        ("bench.json", fuzzing.deep_json(), "nests more than 64 levels deep"),
        ("bench.json", json.dumps({"schema_version": 1, "kind": "edgeq.bench", "results": "oops"}),
         "unexpected content"),
    ],
    ids=["bench-invalid-json", "inspect-invalid-json", "bench-nested-20000-deep", "bench-results-a-string"],
)  # fmt: skip
def test_report_writes_what_it_can_and_exits_2_naming_what_it_left_out(box, file, content, problem):
    folder = run_folder(box)
    box.write(f"{folder}/{file}", content)
    outcome = box.run("report", folder)
    assert outcome.code == 2, outcome
    assert outcome.errors == [
        "error: 1 file(s) of r could not be read and are left out of the report (listed above): "
        "rerun the command that writes them"
    ], outcome
    assert outcome.err.rstrip("\n").splitlines()[-1] == outcome.errors[0]
    said = [line for line in outcome.out.splitlines() if "could not read" in line]
    assert len(said) == 1 and f"r/{file}" in said[0] and problem in said[0], outcome
    assert_clean(outcome, written=("r/report.html", "r/report.md"))
    assert sorted(outcome.created) == ["r/report.html", "r/report.md"], outcome
    page = (box.root / "r/report.html").read_text(encoding="utf-8")
    assert "m_int8.tflite" in page  # what could be read is in it
    assert f"{file}: {problem}" in page or f"{file} {problem}" in page  # and what was left out, why


def test_write_file_atomic_leaves_no_staging_file_when_the_rename_fails(box, monkeypatch):
    from edgeq.errors import InputError
    from edgeq.outputs import write_file_atomic

    folder = run_folder(box)

    def no_rename(source, target):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", no_rename)
        outcome = box.run("report", folder)
        with pytest.raises(InputError, match="could not write"):
            write_file_atomic(box.root / "x.json", "{}")
    assert_refused(outcome, "could not write r/report.html", "No space left on device")
    assert sorted(os.listdir(box.root)) == ["important.txt", "r"]  # no .x.json.xxxx staging file
    assert sorted(os.listdir(box.root / "r")) == ["convert", "run.json"]  # no .report.html.xxxx
