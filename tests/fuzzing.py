"""A seeded fuzz harness for the ``edgeq`` command line: a case generator and an in-process runner.

Each case is one ``edgeq.cli.run(argv)`` call in a fresh sandbox folder (the working directory
while it runs) holding the hostile files the case wrote there: corrupted models, malformed data,
poisonous TOML and JSON, odd names and option values. After the call the runner checks what a user
may rely on, whatever they hand edgeq:

- the exit code is one of 0, 2, 3, 4 (1 is "edgeq itself failed", 130 an interrupt);
- a failure prints exactly one line starting with ``error:`` on stderr;
- no traceback: none printed, and no exception escapes ``edgeq.cli.run``;
- nothing is created but under the output the case asked for (``-o``, ``--json FILE``, the
  ``[output] folder``, the report files), and no temporary file or staging folder is left in the
  temporary folder; a command that writes its output atomically leaves nothing when it fails;
- no file that existed before is deleted or modified, except inside an output folder edgeq wrote
  earlier that the case replaces (``--force``) or rewrites (``edgeq run``, ``edgeq report``);
- inputs that must be refused are (a package name ending in a newline), and written Kotlin has no
  unterminated comment and no file name holds a control character.

Cases are reproducible: case ``n`` of seed ``s`` is drawn from its own ``random.Random`` seeded
by ``(s, n)``, so ``tools/fuzz.py --seed s --only n`` replays it alone. Most cases fail fast in
validation; a share of "medium" cases (~2 s: the model runs in a TFLite Micro / LiteRT child
process) and of "slow" ones (~10 s: a real conversion) is set by the caller.

Used by ``tools/fuzz.py`` (the full run and its table) and ``tests/integration/test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import re
import shlex
import shutil
import signal
import stat
import struct
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OK_CODES = frozenset({0, 2, 3, 4})
TIMEOUTS_S = {"fast": 30, "medium": 60, "slow": 180}  # a case running longer is a finding (a hang)
DEEP = 20_000  # nesting depth of the deep JSON / TOML documents
TIERS = ("fast", "medium", "slow")

# ---------------------------------------------------------------------------------------------
# Files a case writes into its sandbox before it runs


@dataclass(frozen=True)
class Data:
    """A regular file with these bytes."""

    content: bytes


@dataclass(frozen=True)
class Folder:
    """An empty folder."""


@dataclass(frozen=True)
class Link:
    """A symbolic link to ``target`` (written as is: relative to the link's folder, or absolute)."""

    target: str


@dataclass(frozen=True)
class Copy:
    """A copy of a fixture file or folder."""

    source: Path


@dataclass(frozen=True)
class Fifo:
    """A named pipe (reading it would block: edgeq must look before it reads)."""


@dataclass(frozen=True)
class Sparse:
    """A sparse file of ``size`` bytes starting with ``head``."""

    size: int
    head: bytes = b""


Spec = Data | Folder | Link | Copy | Fifo | Sparse


def materialize(sandbox: Path, files: Sequence[tuple[str, Spec]]) -> None:
    """Write ``files`` (paths relative to ``sandbox``) in order; later entries may go inside earlier ones."""
    for relative, spec in files:
        path = sandbox / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(spec, Copy) and (path.is_symlink() or path.exists()):
            if isinstance(spec, Folder) and path.is_dir() and not path.is_symlink():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        if isinstance(spec, Data):
            path.write_bytes(spec.content)
        elif isinstance(spec, Folder):
            path.mkdir(parents=True, exist_ok=True)
        elif isinstance(spec, Link):
            os.symlink(spec.target, path)
        elif isinstance(spec, Copy):
            if spec.source.is_dir():
                shutil.copytree(spec.source, path, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copyfile(spec.source, path)
        elif isinstance(spec, Fifo):
            os.mkfifo(path)
        elif isinstance(spec, Sparse):
            with path.open("wb") as handle:
                handle.write(spec.head)
                handle.truncate(spec.size)


# ---------------------------------------------------------------------------------------------
# Hostile bytes


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4", fortran: bool = False, version: int = 1) -> bytes:
    """A .npy header claiming ``shape`` (no data follows unless the caller appends some)."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}".encode("latin-1")
    size_field = 2 if version == 1 else 4
    preamble = 6 + 2 + size_field
    padding = 64 - (preamble + len(text) + 1) % 64
    header = text + b" " * padding + b"\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header


def zip_bytes(members: dict[str, bytes], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def png_bytes(width: int, height: int, rows: bytes | None = None, colour: int = 0, depth: int = 8) -> bytes:
    """A PNG whose header says ``width`` x ``height``; ``rows`` (raw scanlines) default to black
    scanlines for every row, which compress to almost nothing even for a huge claimed size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour, 1)
    if rows is None:
        line = b"\x00" + bytes(width * channels * depth // 8)
        compressor = zlib.compressobj(9)
        body = b"".join(compressor.compress(line) for _ in range(min(height, 64))) + compressor.flush()
    else:
        body = zlib.compress(rows)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def real_png(width: int, height: int, seed: int, mode: str = "L") -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, 3)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode).save(buffer, "PNG")
    return buffer.getvalue()


def deep_json(depth: int = DEEP, kind: str = "list") -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


def flip_bits(data: bytes, rng: random.Random, flips: int) -> bytes:
    mutable = bytearray(data)
    for _ in range(flips):
        mutable[rng.randrange(len(mutable))] ^= 1 << rng.randrange(8)
    return bytes(mutable)


def tflite_is_valid(data: bytes) -> bool:
    """Whether edgeq's own reader accepts ``data`` (a valid model goes on to slower checks)."""
    from edgeq.errors import InputError
    from edgeq.tflite import read_tflite

    try:
        read_tflite(data)
    except InputError:
        return False
    except Exception:  # the reader itself failing is the run's finding, not the generator's
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Fixtures: small real models and data, built once


@dataclass(frozen=True)
class Fixtures:
    """Small real inputs, built once per session; cases copy them into their sandbox or name them."""

    root: Path
    dense_keras: Path  # Keras 3: 4 features -> 8 relu -> 3 softmax
    img_keras: Path  # Keras 3: 8x8x1 image (batch 1) -> conv -> dense 3 softmax
    dense_h5: Path  # tf_keras (Keras 2) .h5: 4 -> 3 softmax
    saved_model: Path  # SavedModel folder of the dense model
    img_int8: Path  # full-integer .tflite of the image model (int8 I/O), TFLiteConverter
    dense_float: Path  # float32 .tflite of the dense model
    dense_npz: Path  # x (32, 4) float32, y (32,) in 0..2
    dense_npy: Path
    dense_csv: Path  # header a,b,c,d,label
    split_npz: Path  # x_train/y_train/x_test/y_test of the dense data
    img_npz: Path  # x (16, 8, 8, 1), y
    images: Path  # image folder: two classes of two 8x8 PNGs
    labels: Path  # three labels
    run_toml: Path  # the edgeq.toml that wrote run_folder
    run_folder: Path  # an edgeq run output folder: run.json, convert/, inspect/, mcu/, bench.json
    android_folder: Path  # an edgeq export android output folder
    cache: dict[Path, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def convert_folder(self) -> Path:
        return self.run_folder / "convert"

    @property
    def mcu_folder(self) -> Path:
        return self.run_folder / "mcu"

    @property
    def dense_int8(self) -> Path:
        return self.run_folder / "convert" / "dense_int8.tflite"

    def read(self, path: Path) -> bytes:
        if path not in self.cache:
            self.cache[path] = path.read_bytes()
        return self.cache[path]

    def run_config(self, folder: str) -> str:
        """The fixture run's edgeq.toml with ``[output] folder`` replaced (its stages are then reused)."""
        text = self.run_toml.read_text(encoding="utf-8")
        return re.sub(r'(?m)^folder = ".*"$', f"folder = {toml_string(folder)}", text)


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _quiet_cli(argv: list[str]) -> None:
    """Run the CLI to build a fixture; raise if it fails."""
    from edgeq.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    if code != 0:
        raise RuntimeError(
            f"fixture command edgeq {' '.join(argv)} failed ({code}): {err.getvalue()[-2000:]}"
        )


def build_fixtures(root: Path) -> Fixtures:
    """Build every fixture under ``root`` (about 15 s: one real ``edgeq run`` of a tiny model)."""
    from edgeq.conversion.quiet import import_tensorflow, quiet

    tf = import_tensorflow()
    import keras

    root.mkdir(parents=True, exist_ok=True)
    models, data = root / "models", root / "data"
    models.mkdir(exist_ok=True)
    data.mkdir(exist_ok=True)
    keras.utils.set_random_seed(0)
    with quiet():
        dense = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        dense.save(models / "dense.keras")
        inputs = keras.Input(batch_shape=(1, 8, 8, 1), name="image")
        hidden = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
        outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(hidden))
        image = keras.Model(inputs, outputs)
        image.save(models / "img.keras")
        import tf_keras

        legacy = tf_keras.Sequential(
            [tf_keras.layers.InputLayer((4,)), tf_keras.layers.Dense(3, activation="softmax")]
        )
        legacy.save(models / "dense.h5")
        dense.export(str(models / "saved"), verbose=False)

        rng = np.random.default_rng(0)

        def representative() -> Iterator[list[np.ndarray]]:
            for _ in range(16):
                yield [rng.random((1, 8, 8, 1), dtype=np.float32)]

        converter = tf.lite.TFLiteConverter.from_keras_model(image)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        (models / "img_int8.tflite").write_bytes(converter.convert())
        (models / "dense_float.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(dense).convert())

    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    np.savez(data / "dense.npz", x=x, y=y)
    np.save(data / "dense.npy", x)
    rows = "\n".join(",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in zip(x, y, strict=True))
    (data / "dense.csv").write_text("a,b,c,d,label\n" + rows + "\n")
    np.savez(data / "split.npz", x_train=x[:24], y_train=y[:24], x_test=x[24:], y_test=y[24:])
    np.savez(data / "img.npz", x=rng.random((16, 8, 8, 1), dtype=np.float32), y=rng.integers(0, 3, size=16))
    for label in ("cat", "dog"):
        (data / "images" / label).mkdir(parents=True, exist_ok=True)
        for index in range(2):
            (data / "images" / label / f"{index}.png").write_bytes(real_png(8, 8, seed=index + len(label)))
    (root / "labels.txt").write_text("cat\ndog\nbird\n")

    run_folder = root / "run"
    run_toml = root / "edgeq.toml"
    run_toml.write_text(
        "[model]\n"
        f"path = {toml_string(str(models / 'dense.keras'))}\n\n"
        "[data]\n"
        f"calib = {toml_string(str(data / 'dense.npz'))}\n"
        f"eval = {toml_string(str(data / 'dense.npz'))}\n\n"
        '[convert]\nmodes = ["int8"]\n\n'
        '[export]\nmode = "int8"\ntemplate = "plain"\n\n'
        '[bench]\ntargets = ["host"]\nruns = 3\nwarmup = 1\n\n'
        f"[output]\nfolder = {toml_string(str(run_folder))}\n"
    )
    if not (run_folder / "report.html").is_file():
        shutil.rmtree(run_folder, ignore_errors=True)
        _quiet_cli(["run", str(run_toml)])
    android = root / "android"
    if not android.is_dir():
        _quiet_cli(["export", "android", str(models / "img_int8.tflite"), "--labels", str(root / "labels.txt"),
                    "-o", str(android)])  # fmt: skip
    return Fixtures(
        root=root,
        dense_keras=models / "dense.keras",
        img_keras=models / "img.keras",
        dense_h5=models / "dense.h5",
        saved_model=models / "saved",
        img_int8=models / "img_int8.tflite",
        dense_float=models / "dense_float.tflite",
        dense_npz=data / "dense.npz",
        dense_npy=data / "dense.npy",
        dense_csv=data / "dense.csv",
        split_npz=data / "split.npz",
        img_npz=data / "img.npz",
        images=data / "images",
        labels=root / "labels.txt",
        run_toml=run_toml,
        run_folder=run_folder,
        android_folder=android,
    )


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """One CLI call and the sandbox it runs in. Paths are relative to the sandbox (the working
    directory), and may climb out of it with ``..`` (the runner watches the folder around it)."""

    command: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, Spec], ...] = ()
    outputs: tuple[str, ...] = ()  # paths the case asks edgeq to write (anything under them may appear)
    replaceable: tuple[str, ...] = ()  # pre-existing edgeq-written paths the case may replace or rewrite
    atomic: tuple[str, ...] = ()  # outputs promised all-or-nothing: must not exist after a failure
    refuse: str | None = None  # why edgeq must refuse this input (exit code other than 0)
    checks: tuple[str, ...] = ()  # extra checks of what a successful run wrote: "kotlin"
    tier: str = "fast"
    label: str = ""  # what the generator made, e.g. "convert/data:npy-huge"
    number: int = -1
    seed: int = 0

    def command_line(self) -> str:
        return "edgeq " + " ".join(shlex.quote(arg) for arg in self.argv)

    def describe_files(self) -> str:
        parts = []
        for relative, spec in self.files:
            if isinstance(spec, Copy):
                parts.append(f"{relative}=copy of {spec.source.name}")
            elif isinstance(spec, Data):
                parts.append(f"{relative} ({len(spec.content)} B)")
            else:
                parts.append(f"{relative} ({type(spec).__name__.lower()})")
        return ", ".join(parts)


class Gen:
    """What a case generator draws with: the case's random source, the fixtures, and the files it
    is putting into the sandbox."""

    def __init__(self, rng: random.Random, fx: Fixtures) -> None:
        self.rng = rng
        self.fx = fx
        self.files: list[tuple[str, Spec]] = []
        self._names = 0

    # random helpers
    def pick(self, items: Sequence[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def name(self, stem: str, suffix: str = "") -> str:
        self._names += 1
        return f"{stem}{self._names}{suffix}"

    def add(self, relative: str, spec: Spec) -> str:
        self.files.append((relative, spec))
        return relative

    # inputs
    def copy(self, source: Path, name: str | None = None) -> str:
        return self.add(name or self.name(source.stem, source.suffix), Copy(source))

    def user_file(self, relative: str = "important.txt") -> str:
        return self.add(relative, Data(b"the user's own file: edgeq must leave it alone\n"))


def _case(command: str, argv: Sequence[str], g: Gen, **fields: Any) -> Case:
    return Case(command=command, argv=tuple(argv), files=tuple(g.files), **fields)


# --- hostile values ----------------------------------------------------------------------------

BAD_INTS = ("0", "-1", "-2147483649", str(2**70), "1e3", "nan", "", " 7", "0x10", "\u0663")
BAD_FLOATS = ("nan", "inf", "-inf", "1e39", "-1e39", "1e400", "-0", "0", "1e-46", "", "x", "1,2")
WEIRD_TEXT = (
    "abc\n",
    "nm /* open",
    "close */ here",
    "x" * 320,
    "модель",
    "naïve-名前",
    "tab\there",
    "quote\"'`$(id)",
    "${'$'}{x}",
    "\u2028line",
    "back\\slash",
    "emoji🙂",
    " ",
    "-leading-dash",
    "a\x1b[31mred",
)
LONG = "n" * 300


def numbers_option(g: Gen) -> str:
    return g.pick(
        ["1e39", "nan", "inf", "", ",", "1,", "0", "0,0,0", "1,2,3", "127.5", "1e-46", "1_0", " 1 ", "0x1p3",
         "-0", "1e308,1e308", "\u0661"]
    )  # fmt: skip


# --- data files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataVariant:
    name: str
    make: Callable[[Gen, str], str]  # writes the file(s), returns the path to pass
    invalid: bool  # surely refused (else it may be read as valid data)


def _write(suffix: str, content: bytes) -> Callable[[Gen, str], str]:
    def make(g: Gen, kind: str) -> str:
        return g.add(g.name("data", suffix), Data(content))

    return make


def _arrays(suffix: str, build: Callable[[random.Random, str], dict[str, Any]]) -> Callable[[Gen, str], str]:
    def make(g: Gen, kind: str) -> str:
        arrays = build(g.rng, kind)
        content = npz_bytes(**arrays) if suffix == ".npz" else npy_bytes(arrays["x"])
        return g.add(g.name("data", suffix), Data(content))

    return make


def _shape(kind: str, count: int) -> tuple[int, ...]:
    return (count, 4) if kind == "dense" else (count, 8, 8, 1)


def _x(rng: random.Random, kind: str, count: int = 8) -> np.ndarray:
    return np.random.default_rng(rng.randrange(1 << 30)).normal(size=_shape(kind, count)).astype(np.float32)


def _with_y(y: Any) -> Callable[[random.Random, str], dict[str, Any]]:
    return lambda rng, kind: {"x": _x(rng, kind, len(y) if hasattr(y, "__len__") else 8), "y": y}


def _images(build: Callable[[Gen, str], None]) -> Callable[[Gen, str], str]:
    def make(g: Gen, kind: str) -> str:
        folder = g.add(g.name("images"), Folder())
        build(g, folder)
        return folder

    return make


def _image_files(files: dict[str, Callable[[Gen], Spec]]) -> Callable[[Gen, str], None]:
    def build(g: Gen, folder: str) -> None:
        for relative, spec in files.items():
            g.add(f"{folder}/{relative}", spec(g))

    return build


def _csv(text: str | bytes) -> Callable[[Gen, str], str]:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return _write(".csv", content)


def _special(build: Callable[[Gen], str]) -> Callable[[Gen, str], str]:
    return lambda g, kind: build(g)


HUGE_NPY = npy_header((7 * 2**40 // 4,)) + b"\0" * 64  # claims 7 TiB of float32


DATA_VARIANTS: tuple[DataVariant, ...] = (
    DataVariant("npz-member-not-npy", _write(".npz", zip_bytes({"x": b"\x00garbage", "y": b"1"})), True),
    DataVariant("npz-garbage-npy", _write(".npz", zip_bytes({"x.npy": b"\x93NUMPY garbage"})), True),
    DataVariant("npz-huge-npy", _write(".npz", zip_bytes({"x.npy": HUGE_NPY})), True),
    DataVariant("npz-nested-zip", _write(".npz", zip_bytes({"x.npy": zip_bytes({"x.npy": b"1"})})), True),
    DataVariant("npz-not-zip", _write(".npz", b"PK\x03\x04 this is not really a zip archive"), True),
    DataVariant("npz-truncated", lambda g, k: g.add(g.name("d", ".npz"), Data(g.fx.read(g.fx.dense_npz)[:300])), True),
    DataVariant("npz-no-arrays", _write(".npz", npz_bytes()), True),
    DataVariant("npz-empty-x", _arrays(".npz", lambda r, k: {"x": np.zeros(_shape(k, 0), np.float32)}), True),
    DataVariant("npz-zero-width", _arrays(".npz", lambda r, k: {"x": np.zeros((8, 0), np.float32)}), True),
    DataVariant("npz-scalar", _arrays(".npz", lambda r, k: {"x": np.float32(1)}), True),
    DataVariant("npz-1d", _arrays(".npz", lambda r, k: {"x": np.zeros(4, np.float32)}), True),
    DataVariant("npz-rank6", _arrays(".npz", lambda r, k: {"x": np.zeros((8, 4, 1, 1, 1, 1), np.float32)}), True),
    DataVariant("npz-strings", _arrays(".npz", lambda r, k: {"x": np.array([["a", "b", "c", "d"]] * 4)}), True),
    DataVariant("npz-bytes", _arrays(".npz", lambda r, k: {"x": np.array([[b"a", b"b", b"c", b"d"]] * 4)}), True),
    DataVariant("npz-structured", _arrays(".npz", lambda r, k: {"x": np.zeros(4, dtype=[("a", "<f4")])}), True),
    DataVariant("npz-nan", _arrays(".npz", lambda r, k: {"x": np.full(_shape(k, 4), np.nan, np.float32)}), True),
    DataVariant("npz-inf", _arrays(".npz", lambda r, k: {"x": np.full(_shape(k, 4), np.inf, np.float32)}), True),
    DataVariant("npz-float64-overflow", _arrays(".npz", lambda r, k: {"x": np.full(_shape(k, 4), 1e300)}), True),
    DataVariant("npz-complex", _arrays(".npz", lambda r, k: {"x": np.ones(_shape(k, 4), np.complex64)}), True),
    DataVariant("npz-bool", _arrays(".npz", lambda r, k: {"x": np.ones(_shape(k, 4), bool)}), False),
    DataVariant("npz-float16", _arrays(".npz", lambda r, k: {"x": np.ones(_shape(k, 4), np.float16)}), False),
    DataVariant("npz-y-strings", _arrays(".npz", _with_y(np.array(["a"] * 8))), True),
    DataVariant("npz-y-negative", _arrays(".npz", _with_y(np.full(8, -1))), True),
    DataVariant("npz-y-fraction", _arrays(".npz", _with_y(np.full(8, 0.5))), True),
    DataVariant("npz-y-nan", _arrays(".npz", _with_y(np.full(8, np.nan))), True),
    DataVariant("npz-y-1e20", _arrays(".npz", _with_y(np.full(8, 1e20))), True),
    DataVariant("npz-y-int-max", _arrays(".npz", _with_y(np.full(8, 2**63 - 1, np.int64))), True),
    DataVariant("npz-y-complex", _arrays(".npz", _with_y(np.full(8, 1 + 2j))), True),
    DataVariant("npz-y-3d", _arrays(".npz", _with_y(np.zeros((8, 2, 2)))), True),
    DataVariant("npz-y-short", _arrays(".npz", lambda r, k: {"x": _x(r, k, 8), "y": np.zeros(3, int)}), True),
    DataVariant("npz-y-onehot-wide", _arrays(".npz", _with_y(np.eye(8)[:, :7])), True),
    DataVariant("npz-y-bool", _arrays(".npz", _with_y(np.ones(8, bool))), False),
    DataVariant("npy-huge", _write(".npy", HUGE_NPY), True),
    DataVariant("npy-huge-v3", _write(".npy", npy_header((2**62,), version=3) + b"\0" * 64), True),
    DataVariant("npy-negative-shape", _write(".npy", npy_header((-1, 4)) + b"\0" * 64), True),
    DataVariant("npy-object", _write(".npy", npy_header((2, 4), descr="|O") + b"\0" * 64), True),
    DataVariant("npy-bad-descr", _write(".npy", npy_header((2, 4), descr="<q9") + b"\0" * 64), True),
    DataVariant("npy-truncated", lambda g, k: g.add(g.name("d", ".npy"), Data(g.fx.read(g.fx.dense_npy)[:150])), True),
    DataVariant("npy-header-only", _write(".npy", b"\x93NUMPY\x01\x00"), True),
    DataVariant("npy-fortran", _write(".npy", npy_header((8, 4), fortran=True) + bytes(128)), False),
    DataVariant("npy-unicode", _arrays(".npy", lambda r, k: {"x": np.array([["a", "b", "c", "d"]] * 4)}), True),
    DataVariant("csv-header-wider", _csv("a,b,c,d,label\n1,2,3,4\n5,6,7,8\n"), True),
    DataVariant("csv-header-narrower", _csv("a,label\n1,2,3,4,0\n5,6,7,8,1\n"), True),
    DataVariant("csv-header-only", _csv("a,b,c,d,label\n"), True),
    DataVariant("csv-ragged", _csv("1,2,3,4\n1,2\n"), True),
    DataVariant("csv-text", _csv("1,2,x,4\n"), True),
    DataVariant("csv-nul", _csv("1,2,3,4\n1,2,\x003,4\n"), True),
    DataVariant("csv-latin1", _csv(b"a,b,c,d,\xe9t\xe9\n1,2,3,4,0\n"), True),
    DataVariant("csv-1e400", _csv("1,2,3,1e400\n1,2,3,4\n"), True),
    DataVariant("csv-nan", _csv("nan,2,3,4\n"), True),
    DataVariant("csv-blank", _csv("\n\n , \n"), True),
    DataVariant("csv-label-only", _csv("label\n0\n1\n"), True),
    DataVariant("csv-two-labels", _csv("label,y,a,b\n0,1,2,3\n"), True),
    DataVariant("csv-long-line", _csv(",".join(["1"] * 100_000) + "\n"), True),
    DataVariant("csv-bom", _csv("\ufeffa,b,c,d,label\n1,2,3,4,0\n"), False),
    DataVariant("csv-quoted-newline", _csv('1,2,3,"4\n5"\n'), True),
    DataVariant("csv-label-huge", _csv("a,b,c,d,label\n1,2,3,4,1e20\n"), True),
    DataVariant("csv-label-complex", _csv("a,b,c,d,label\n1,2,3,4,1j\n"), True),
    DataVariant("png-bomb", _images(_image_files({"a/bomb.png": lambda g: Data(png_bytes(100_000, 100_000))})), True),
    DataVariant("png-wide-bomb", _images(_image_files({"a/bomb.png": lambda g: Data(png_bytes(2**31 - 1, 1))})), True),
    DataVariant("png-mid-bomb", _images(_image_files({"a/big.png": lambda g: Data(png_bytes(12_000, 12_000))})), True),
    DataVariant("png-zero-size", _images(_image_files({"a/z.png": lambda g: Data(png_bytes(0, 0))})), True),
    DataVariant("png-garbage", _images(_image_files({"a/g.png": lambda g: Data(b"\x89PNG\r\n\x1a\ngarbage")})), True),
    DataVariant("png-truncated", _images(_image_files({"a/t.png": lambda g: Data(real_png(8, 8, 1)[:40])})), True),
    DataVariant("png-16bit", _images(_image_files({"a/p.png": lambda g: Data(png_bytes(8, 8, rows=bytes(8 * 17), depth=16))})), False),
    DataVariant("images-empty", _images(lambda g, folder: None), True),
    DataVariant("images-empty-class", _images(_image_files({"a/readme.txt": lambda g: Data(b"no images")})), True),
    DataVariant("images-hidden", _images(_image_files({".a/x.png": lambda g: Data(real_png(8, 8, 2))})), False),
    DataVariant("images-link-loop", _images(_image_files({"a/x.png": lambda g: Data(real_png(8, 8, 3)), "a/loop": lambda g: Link("..")})), False),
    DataVariant("images-dangling", _images(_image_files({"a/x.png": lambda g: Link("nowhere.png")})), True),
    DataVariant("images-dir-named-png", _images(_image_files({"a/x.png": lambda g: Folder()})), True),
    DataVariant("images-fifo", _images(_image_files({"a/x.png": lambda g: Fifo()})), True),
    DataVariant("images-mixed-sizes", _images(_image_files({"a/x.png": lambda g: Data(real_png(8, 8, 4)), "a/y.png": lambda g: Data(real_png(40, 3, 5, "RGB"))})), False),
    DataVariant("missing", _special(lambda g: "no-such-data.npz"), True),
    DataVariant("empty-file", _write(".npz", b""), True),
    DataVariant("dir-named-npy", _special(lambda g: g.add(g.name("d", ".npy"), Folder())), True),
    DataVariant("dangling-link", _special(lambda g: g.add(g.name("d", ".npz"), Link("gone.npz"))), True),
    DataVariant("link-loop", _special(lambda g: (g.add("loop-a.npz", Link("loop-b.npz")), g.add("loop-b.npz", Link("loop-a.npz")))[0]), True),
    DataVariant("fifo", _special(lambda g: g.add(g.name("d", ".npz"), Fifo())), True),
    DataVariant("dev-zero", _special(lambda g: g.add(g.name("d", ".npy"), Link("/dev/zero"))), True),
    DataVariant("unknown-suffix", _write(".txt", b"1,2,3,4\n"), True),
    DataVariant("sparse-npy", _special(lambda g: g.add(g.name("d", ".npy"), Sparse(64 << 20, b"\x93NUMPY\x01\x00"))), True),
    DataVariant("selector-missing", _special(lambda g: g.copy(g.fx.dense_npz, "sel.npz") + ":train"), True),
    DataVariant("selector-dunder", _special(lambda g: g.copy(g.fx.dense_npz, "sel.npz") + ":__class__"), True),
    DataVariant("selector-ok", _special(lambda g: g.copy(g.fx.split_npz, "split.npz") + ":train"), False),
    DataVariant("uppercase-suffix", _special(lambda g: g.copy(g.fx.dense_npz, "DATA.NPZ")), False),
)  # fmt: skip
DATA_BY_NAME = {variant.name: variant for variant in DATA_VARIANTS}


def data_file(g: Gen, kind: str = "dense", invalid: bool | None = True) -> tuple[str, DataVariant]:
    """A hostile data file (``invalid``: only variants edgeq must refuse; None: any)."""
    choices = [v for v in DATA_VARIANTS if invalid is None or v.invalid == invalid]
    if kind == "dense":  # the dense model refuses any image folder before reading it: keep one
        choices = [
            v for v in choices if not v.name.startswith(("png-", "images-")) or v.name == "images-empty"
        ]
    variant = g.pick(choices)
    return variant.make(g, kind), variant


# --- model files ----------------------------------------------------------------------------------


def _keras_config(g: Gen) -> bytes:
    with zipfile.ZipFile(g.fx.dense_keras) as archive:
        return archive.read("config.json")


def _keras_members(g: Gen, **replace: bytes | None) -> bytes:
    members = {}
    with zipfile.ZipFile(g.fx.dense_keras) as archive:
        for name in archive.namelist():
            members[name] = archive.read(name)
    for name, content in replace.items():
        name = name.replace("__", ".")
        if content is None:
            members.pop(name, None)
        else:
            members[name] = content
    return zip_bytes(members)


def _lambda_config(g: Gen) -> bytes:
    config = json.loads(_keras_config(g))
    layers = config["config"]["layers"]
    layers[-1] = {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": {
        "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}},
        "registered_name": None}  # fmt: skip
    return json.dumps(config).encode()


def _unknown_class_config(g: Gen) -> bytes:
    config = json.loads(_keras_config(g))
    config["config"]["layers"][-1]["class_name"] = "NoSuchLayer"
    config["config"]["layers"][-1]["module"] = None
    return json.dumps(config).encode()


def _keras_variant(name: str) -> Callable[[Gen], str]:
    def make(g: Gen) -> str:
        fx = g.fx
        if name == "empty":
            return g.add("m.keras", Data(b""))
        if name == "truncated":
            data = fx.read(fx.dense_keras)
            return g.add("m.keras", Data(data[: g.rng.randrange(1, len(data))]))
        if name == "random":
            return g.add("m.keras", Data(g.rng.randbytes(g.rng.randrange(1, 4096))))
        if name == "flipped":
            return g.add("m.keras", Data(flip_bits(fx.read(fx.dense_keras), g.rng, g.rng.randint(1, 16))))
        if name == "wrong-members":
            return g.add("m.keras", Data(zip_bytes({"readme.txt": b"hello", "x.npy": b"1"})))
        if name == "config-garbage":
            return g.add("m.keras", Data(_keras_members(g, config__json=b"{not json")))
        if name == "config-deep":
            return g.add("m.keras", Data(_keras_members(g, config__json=deep_json(kind="dict").encode())))
        if name == "config-list":
            return g.add("m.keras", Data(_keras_members(g, config__json=b"[1, 2, 3]")))
        if name == "config-lambda":
            return g.add("m.keras", Data(_keras_members(g, config__json=_lambda_config(g))))
        if name == "config-unknown-class":
            return g.add("m.keras", Data(_keras_members(g, config__json=_unknown_class_config(g))))
        if name == "no-weights":
            return g.add("m.keras", Data(_keras_members(g, model__weights__h5=None)))
        if name == "weights-garbage":
            return g.add(
                "m.keras", Data(_keras_members(g, model__weights__h5=b"\x89HDF\r\n\x1a\n" + bytes(64)))
            )
        if name == "no-config":
            return g.add("m.keras", Data(_keras_members(g, config__json=None)))
        if name == "h5-as-keras":
            return g.add("m.keras", Copy(fx.dense_h5))
        if name == "keras-as-h5":
            return g.add("m.h5", Copy(fx.dense_keras))
        if name == "h5-truncated":
            data = fx.read(fx.dense_h5)
            return g.add("m.h5", Data(data[: g.rng.randrange(8, len(data))]))
        if name == "h5-signature-only":
            return g.add("m.h5", Data(b"\x89HDF\r\n\x1a\n" + g.rng.randbytes(g.rng.randrange(0, 2048))))
        if name == "h5-flipped":
            return g.add("m.hdf5", Data(flip_bits(fx.read(fx.dense_h5), g.rng, g.rng.randint(1, 12))))
        if name == "saved-garbage-pb":
            g.add("sm/saved_model.pb", Data(g.rng.randbytes(200)))
            return "sm"
        if name == "saved-pb-folder":
            g.add("sm/saved_model.pb", Folder())
            return "sm"
        if name == "saved-no-variables":
            g.add("sm", Copy(fx.saved_model))
            g.add("sm/variables/variables.index", Data(b"garbage"))
            return "sm"
        if name == "folder-no-pb":
            return g.add("m.keras", Folder())
        if name == "dangling":
            return g.add("m.keras", Link("gone.keras"))
        if name == "loop":
            g.add("a.keras", Link("b.keras"))
            return g.add("b.keras", Link("a.keras"))
        if name == "fifo":
            return g.add("m.keras", Fifo())
        if name == "no-suffix":
            return g.add("model", Copy(fx.dense_keras))
        if name == "tflite-given":
            return g.add("m.tflite", Copy(fx.img_int8))
        if name == "missing":
            return "missing.keras"
        if name == "sparse":
            return g.add("m.keras", Sparse(64 << 20, b"PK\x03\x04"))
        raise AssertionError(name)

    return make


KERAS_VARIANTS = (
    "empty", "truncated", "random", "flipped", "wrong-members", "config-garbage", "config-deep",
    "config-list", "config-lambda", "config-unknown-class", "no-weights", "weights-garbage", "no-config",
    "h5-as-keras", "keras-as-h5", "h5-truncated", "h5-signature-only", "h5-flipped", "saved-garbage-pb",
    "saved-pb-folder", "saved-no-variables", "folder-no-pb", "dangling", "loop", "fifo", "no-suffix",
    "tflite-given", "missing", "sparse",
)  # fmt: skip


def hostile_keras(g: Gen) -> tuple[str, str]:
    name = g.pick(KERAS_VARIANTS)
    return _keras_variant(name)(g), name


def valid_keras(g: Gen, kind: str | None = None) -> tuple[str, str]:
    """A loadable model (copied, or linked, into the sandbox): dense.keras, img.keras, dense.h5, SavedModel."""
    fx = g.fx
    choice = kind or g.pick(["dense", "dense", "img", "h5", "saved"])
    source = {"dense": fx.dense_keras, "img": fx.img_keras, "h5": fx.dense_h5, "saved": fx.saved_model}[
        choice
    ]
    how = g.pick(["copy", "copy", "absolute", "link", "odd-name"])
    if how == "absolute":
        return str(source), choice
    if how == "link":
        return g.add(g.name("link", source.suffix), Link(str(source))), choice
    if how == "odd-name":
        stem = g.pick(["m\nx", "мод ель", "a'b\"c", "-dash", "x" * 200, "1.2.3", "..", "$HOME"])
        return g.add(stem + source.suffix, Copy(source)), choice
    return g.copy(source), choice


def data_for(kind: str, fx: Fixtures) -> Path:
    return fx.img_npz if kind == "img" else fx.dense_npz


# --- .tflite files ---------------------------------------------------------------------------------


def _tflite_variant(g: Gen, original: bytes) -> tuple[bytes, str]:
    kind = g.pick(["truncate", "flip", "flip", "random-tail", "offset", "zero-tail", "identifier", "append"])
    data = bytearray(original)
    if kind == "truncate":
        data = data[: g.rng.randrange(0, len(data))]
    elif kind == "flip":
        data = bytearray(flip_bits(original, g.rng, g.rng.randint(1, 8)))
    elif kind == "random-tail":
        data = data[:8] + bytearray(g.rng.randbytes(g.rng.randrange(8, 4096)))
    elif kind == "offset":
        position = g.rng.randrange(0, len(data) - 4) & ~3
        struct.pack_into("<I", data, position, g.pick([len(data), len(data) + 4, 0x7FFFFFFF, 0xFFFFFFF0, 0]))
    elif kind == "zero-tail":
        cut = g.rng.randrange(16, len(data))
        data = data[:cut] + bytearray(len(data) - cut)
    elif kind == "identifier":
        data[4:8] = b"TFL2"
    else:
        data += g.rng.randbytes(g.rng.randrange(1, 100))
    return bytes(data), kind


def tflite_file(g: Gen, want: str, source: Path | None = None) -> tuple[str, str]:
    """A .tflite argument: ``want`` "invalid" (surely refused by the reader, fast), "valid" (a
    fixture, or a mutated file the reader still accepts) or "any"."""
    fx = g.fx
    source = source or g.pick([fx.img_int8, fx.img_int8, fx.dense_float, fx.dense_int8])
    original = fx.read(source)
    if want == "valid":
        if g.chance(0.5):
            for _ in range(30):
                data, kind = _tflite_variant(g, original)
                if kind in ("flip", "offset", "append") and tflite_is_valid(data):
                    return g.add(g.name("mut", ".tflite"), Data(data)), f"valid-{kind}"
        return (g.copy(source) if g.chance(0.7) else str(source)), "fixture"
    special = g.pick(["variant"] * 6 + ["empty", "folder", "dangling", "keras", "sparse", "missing", "fifo"])
    if special == "empty":
        return g.add("m.tflite", Data(b"")), special
    if special == "folder":
        return g.add("m.tflite", Folder()), special
    if special == "dangling":
        return g.add("m.tflite", Link("gone.tflite")), special
    if special == "keras":
        return g.add("m.tflite", Copy(fx.dense_keras)), special
    if special == "sparse":
        return g.add("m.tflite", Sparse(64 << 20, original[:8])), special
    if special == "missing":
        return "missing.tflite", special
    if special == "fifo":
        return g.add("m.tflite", Fifo()), special
    for _ in range(50):
        data, kind = _tflite_variant(g, original)
        if want == "any" or not tflite_is_valid(data):
            return g.add(g.name("bad", ".tflite"), Data(data)), kind
    return g.add("m.tflite", Data(original[:7])), "truncate"


# --- output folders ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    argv: tuple[str, ...]  # "-o PATH" and maybe "--force"
    outputs: tuple[str, ...]
    replaceable: tuple[str, ...] = ()
    atomic: tuple[str, ...] = ()
    kind: str = ""
    fails: bool = False  # edgeq must refuse it before doing any work


def output_folder(g: Gen, edgeq_folder: Path | None = None, allow: Sequence[str] | None = None) -> Output:
    """``-o`` for a command that writes a folder atomically: a fresh one, or a hostile one.
    ``edgeq_folder``: a fixture folder of this command's own output, for the --force variant."""
    kinds = list(allow) if allow is not None else [
        "fresh", "fresh", "fresh", "missing-parent", "existing-file", "user-folder", "user-folder-force",
        "through-file", "proc", "dev-null", "long-name", "dangling-link", "dangling-link-force",
        "link-to-user-folder-force", "unicode", "newline", "empty", "edgeq-folder-force", "parent-dots",
    ]  # fmt: skip
    if edgeq_folder is None and "edgeq-folder-force" in kinds:
        kinds.remove("edgeq-folder-force")
    kind = g.pick(kinds)
    if kind == "fresh":
        name = g.pick(["out", "out-dir", "o"])
        return Output(("-o", name), (name,), atomic=(name,), kind=kind)
    if kind == "missing-parent":
        return Output(("-o", "no/such/out"), ("no",), kind=kind, fails=True)
    if kind == "existing-file":
        g.user_file()
        return Output(("-o", "important.txt"), (), kind=kind, fails=True)
    if kind in ("user-folder", "user-folder-force"):
        g.user_file("o/important.txt")
        force = kind.endswith("force")
        return Output(("-o", "o", *(["--force"] if force else [])), ("o",), kind=kind, fails=not force)
    if kind == "through-file":
        g.user_file()
        return Output(("-o", "important.txt/out"), (), kind=kind)
    if kind == "proc":
        return Output(("-o", g.pick(["/proc/edgeq-fuzz", "/proc/self/edgeq-fuzz"])), (), kind=kind)
    if kind == "dev-null":
        return Output(("-o", "/dev/null/out"), (), kind=kind)
    if kind == "long-name":
        return Output(("-o", LONG), (LONG,), atomic=(LONG,), kind=kind)
    if kind in ("dangling-link", "dangling-link-force"):
        g.add("o", Link("gone"))
        return Output(
            ("-o", "o", *(["--force"] if kind.endswith("force") else [])), (), kind=kind, fails=True
        )
    if kind == "link-to-user-folder-force":
        g.user_file("u/important.txt")
        g.add("o", Link("u"))
        return Output(("-o", "o", "--force"), ("o",), kind=kind)
    if kind == "unicode":
        return Output(("-o", "выход ü"), ("выход ü",), atomic=("выход ü",), kind=kind)
    if kind == "newline":
        return Output(("-o", "out\nx"), ("out\nx",), atomic=("out\nx",), kind=kind)
    if kind == "empty":
        g.user_file()
        return Output(("-o", ""), (), kind=kind, fails=True)
    if kind == "parent-dots":
        return Output(("-o", "../sibling-out"), ("../sibling-out",), atomic=("../sibling-out",), kind=kind)
    if kind == "dot-force":
        g.user_file()
        return Output(("-o", ".", "--force"), (".",), kind=kind)
    if kind == "input-folder-force":  # the caller puts its model into in/
        g.user_file("in/important.txt")
        return Output(("-o", "in", "--force"), ("in",), kind=kind)
    assert edgeq_folder is not None
    g.add("prev", Copy(edgeq_folder))
    return Output(("-o", "prev", "--force"), ("prev",), replaceable=("prev",), kind=kind)


def _out_fields(out: Output) -> dict[str, Any]:
    return {"outputs": out.outputs, "replaceable": out.replaceable, "atomic": out.atomic}


# --- labels ---------------------------------------------------------------------------------------

LABEL_TEXTS: tuple[tuple[str, bytes], ...] = (
    ("vertical-tab", b"cat\x0bdog\nbird\n"),
    ("form-feed", b"cat\ndog\x0cx\nbird\n"),
    ("u2028", "cat\ndog\u2028x\nbird\n".encode()),
    ("nel", "cat\ndog\x85x\nbird\n".encode()),
    ("file-separator", b"cat\x1cdog\nbird\n"),
    ("numbers", b"1e20\n(1+2j)\nnan\n"),
    ("blank-middle", b"cat\n\nbird\n"),
    ("blank-only", b"\n\n\n"),
    ("spaces-only", b"cat\n   \nbird\n"),
    ("crlf", b"cat\r\ndog\r\nbird\r\n"),
    ("cr-only", b"cat\rdog\rbird\r"),
    ("bom", b"\xef\xbb\xbfcat\ndog\nbird\n"),
    ("latin1", b"caf\xe9\ndog\nbird\n"),
    ("nul", b"cat\x00\ndog\nbird\n"),
    ("quotes", b'"cat"\n\\dog\\\n*/ bird /*\n'),
    ("kotlin-template", b"${System.exit(1)}\n$dog\nbird\n"),
    ("comment-open", b"cat /*\ndog\nbird\n"),
    ("long", b"x" * 100_000 + b"\ndog\nbird\n"),
    ("duplicates", b"cat\ncat\ncat\n"),
    ("unicode", "кот\n犬\n🐦\n".encode()),
    ("too-many", b"a\nb\nc\nd\n"),
    ("too-few", b"a\nb\n"),
    ("empty", b""),
    ("trailing-blank", b"cat\ndog\nbird\n\n\n"),
    ("escape", b"\x1b[31mred\ndog\nbird\n"),
)


def labels_file(g: Gen) -> tuple[str, str]:
    kind = g.pick([name for name, _ in LABEL_TEXTS] + ["folder", "missing", "fixture"])
    if kind == "folder":
        return g.add("labels.txt", Folder()), kind
    if kind == "missing":
        return "missing-labels.txt", kind
    if kind == "fixture":
        return g.copy(g.fx.labels, "labels.txt"), kind
    return g.add("labels.txt", Data(dict(LABEL_TEXTS)[kind])), kind


# --- JSON and TOML documents ---------------------------------------------------------------------

_PLACEHOLDER = "@@EDGEQ-FUZZ-DEEP@@"


def hostile_values(g: Gen) -> Any:
    return g.pick(
        [None, "", "x" * 10_000, -1, 0, 10**30, -(10**30), 1e308, -1e308, float("nan"), float("inf"), True,
         [], {}, [1, "a", None], {"a": 1}, "../../important.txt", "\u2028", "<script>alert(1)</script>",
         _PLACEHOLDER, "NaN", 3.5, [[[]]], {"kind": None}]
    )  # fmt: skip


def _slots(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in a JSON document, the root included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _slots(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _slots(value, (*path, index))


def mutate_json(g: Gen, text: str) -> tuple[str, str]:
    """``text`` (a JSON document edgeq wrote) with one hostile change; returns (new text, what changed)."""
    document = json.loads(text)
    slots = list(_slots(document))[1:] or [((), document)]
    path, _ = g.pick(slots)
    operation = g.pick(["swap", "swap", "swap", "swap", "delete", "grow"])
    where = "/".join(map(str, path)) or "(root)"
    if not path:
        document, what = hostile_values(g), f"root <- {operation}"
    else:
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if operation == "delete":
            del parent[key]
            what = f"deleted {where}"
        elif operation == "grow" and isinstance(parent[key], list):
            parent[key] = parent[key] * 200
            what = f"{where} x200"
        else:
            value = hostile_values(g)
            parent[key] = value
            shown = "deep" if value == _PLACEHOLDER else repr(value)[:30]
            what = f"{where} <- {shown}"
    out = json.dumps(document, indent=1, allow_nan=True)
    return out.replace(json.dumps(_PLACEHOLDER), deep_json(DEEP // 2)), what


def broken_json(g: Gen, text: str) -> tuple[bytes, str]:
    kind = g.pick(["deep-list", "deep-dict", "invalid", "truncated", "nan", "not-utf8", "empty", "list",
                   "string", "huge-number", "duplicate-keys", "bom", "mutated", "mutated", "mutated",
                   "mutated"])  # fmt: skip
    if kind == "deep-list":
        return deep_json(DEEP).encode(), kind
    if kind == "deep-dict":
        return deep_json(DEEP, "dict").encode(), kind
    if kind == "invalid":
        return b'{"schema_version": 1, "kind": ', kind
    if kind == "truncated":
        return text.encode()[: g.rng.randrange(1, max(2, len(text)))], kind
    if kind == "nan":
        return re.sub(r": (-?\d+(\.\d+)?)", ": NaN", text, count=3).encode(), kind
    if kind == "not-utf8":
        return b"\xff\xfe" + text.encode("utf-16-le"), kind
    if kind == "empty":
        return b"", kind
    if kind == "list":
        return b"[1, 2, 3]", kind
    if kind == "string":
        return b'"edgeq"', kind
    if kind == "huge-number":
        return re.sub(r": (\d+)", ": 1" + "0" * 5000, text, count=1).encode(), kind
    if kind == "duplicate-keys":
        return text.replace('"kind"', '"kind": null, "kind"', 1).encode(), kind
    if kind == "bom":
        return b"\xef\xbb\xbf" + text.encode(), kind
    mutated, what = mutate_json(g, text)
    return mutated.encode(), f"mutated {what}"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_text(config: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, body in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in body.items())
        lines.append("")
    return "\n".join(lines)


def base_config(g: Gen, model: str, calib: str | None, folder: str = "out") -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {"model": {"path": model}, "data": {}}
    if calib is not None:
        config["data"]["calib"] = calib
    config["convert"] = {"modes": g.pick([["int8"], ["int8", "float16"], ["float16"]])}
    if g.chance(0.5):
        config["export"] = {"mode": config["convert"]["modes"][0], "template": "plain"}
    if g.chance(0.5):
        config["bench"] = {"targets": ["host"], "runs": 2, "warmup": 0}
    config["output"] = {"folder": folder}
    return config


# (section, key) -> hostile values for the keys of edgeq.toml
TOML_VALUES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("model", "path"): (1, [], "", "m\x00.keras", ".", "/proc/self/mem"),
    ("data", "calib"): (True, "", "c\x00.npz", "/dev/null"),
    ("data", "eval"): ("", "e\x00.npz", 5),
    ("data", "scale"): (float("nan"), float("inf"), 1e39, "0.5", True, 0.0, -0.0),
    ("data", "mean"): ([], [float("nan")], [1, 2, 3], [[1]], "x", 1e39, [True]),
    ("data", "std"): (0, [0], [1e-46], -1, [float("inf")], [[]]),
    ("data", "calib_samples"): (0, -1, 2**63 - 1, 1.5, "5"),
    ("data", "eval_samples"): (0, -5, 2**63 - 1),
    ("data", "seed"): (-1, 2**63 - 1, -(2**63), 1.5, "0"),
    ("convert", "modes"): ([], [""], ["INT8"], ["int8", "int8"], "int8", [1], ["all"]),
    ("convert", "io"): ("", "int16", 8, "FLOAT"),
    ("convert", "layer_report"): ("yes", 1, [True]),
    ("convert", "max_drop"): (float("nan"), -1, float("inf"), "1"),
    ("export", "mode"): ("float32", "", 1, "int8_mixed"),
    ("export", "template"): ("", "C", "../plain", 3),
    ("export", "labels"): ("missing.txt", ".", "l\x00.txt", ""),
    ("bench", "targets"): ([], ["nope"], ["host", 1], "host", ["serial:"], ["ssh://a@b:0"], [""]),
    ("bench", "modes"): (["float32"], [], ["nope"]),
    ("bench", "clock"): (0, -1, "1e3MHz", "", float("nan"), float("inf"), True, "99GHz"),
    ("bench", "runs"): (0, -1, 1.5),
    ("bench", "warmup"): (-1, "2"),
    ("bench", "remote_python"): ("", "python3; rm -rf /", 3),
    ("bench", "ssh_config"): ("missing", "", "."),
    ("bench", "benchmark_model"): ("missing", "."),
    ("bench", "flash_cmd"): (["false"], 3),
    ("bench", "device_timeout"): ("x", True),
    ("output", "folder"): (1, [], {"a": 1}),
}


def config_mutation(g: Gen, config: dict[str, dict[str, Any]]) -> str:
    """One hostile change to ``config``, in place; returns what it did."""
    kind = g.pick(["value", "value", "value", "value", "unknown-key", "unknown-section", "missing-path",
                   "not-a-table", "datetime"])  # fmt: skip
    if kind == "value":
        (section, key), values = g.pick(list(TOML_VALUES.items()))
        value = g.pick(values)
        config.setdefault(section, {})[key] = value
        return f"{section}.{key} = {value!r}"[:80]
    if kind == "unknown-key":
        config["convert"]["mdoes"] = ["int8"]
        return kind
    if kind == "unknown-section":
        config["extra"] = {"a": 1}
        return kind
    if kind == "missing-path":
        del config["model"]["path"]
        return kind
    if kind == "not-a-table":
        config["data"] = {"calib": {"path": "x"}}
        return kind
    config["data"]["seed"] = 7  # replaced by a TOML datetime below
    return kind


def toml_document(g: Gen, config: dict[str, dict[str, Any]]) -> tuple[bytes, str]:
    """The TOML text of ``config``, or a structurally hostile document."""
    kind = g.pick(["plain"] * 8 + ["deep-array", "deep-table", "deep-header", "invalid", "not-utf8", "bom",
                                   "empty", "nul", "duplicate", "huge-int", "comment-flood"])  # fmt: skip
    text = toml_text(config)
    if kind == "plain":
        return text.encode(), kind
    if kind == "deep-array":
        return (text + "\n[convert]\n" if "[convert]" not in text else text).replace(
            "[convert]\n", "[convert]\nlayer_report = " + "[" * DEEP + "]" * DEEP + "\n", 1
        ).encode(), kind
    if kind == "deep-table":
        return text.replace(
            "[output]\n", "[output]\nx = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n"
        ).encode(), kind
    if kind == "deep-header":
        return (text + "\n[" + ".".join(["a"] * DEEP) + "]\nb = 1\n").encode(), kind
    if kind == "invalid":
        return (text + "\n[model\npath = \n").encode(), kind
    if kind == "not-utf8":
        return text.encode("utf-16"), kind
    if kind == "bom":
        return b"\xef\xbb\xbf" + text.encode(), kind
    if kind == "empty":
        return b"", kind
    if kind == "nul":
        return text.replace("[model]\n", "[model]\n\x00\n").encode(), kind
    if kind == "duplicate":
        return (text + "\n[model]\npath = 'again'\n").encode(), kind
    if kind == "huge-int":
        return text.replace("[data]\n", "[data]\nseed = 1" + "0" * 5000 + "\n", 1).encode(), kind
    return (("# " + "x" * 200 + "\n") * 5000 + text).encode(), kind


def _encode(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


# ---------------------------------------------------------------------------------------------
# Case generators, one per command and cost tier

STOPPER = ("--eval", "missing-eval.npz")  # refused after the model and calibration data are read


def gen_cli(g: Gen) -> Case:
    argv = g.pick([
        [], ["--help"], ["--version"], ["nosuch"], ["convert"], ["convert", "--help"], ["export"],
        ["export", "nosuch"], ["export", "mcu"], ["convert", "m.keras", "--nosuch", "-o", "x"],
        ["inspect", "a.tflite", "b.tflite"], ["convert", "m.keras", "-o", "x", "--debug"], ["--debug"],
        ["bench", "--runs", "abc", "x.tflite"], ["report", "--open"], ["run", "a.toml", "b.toml"],
        ["validate", "-n"], ["qat", "m.keras", "-o", "x"], ["--json"], ["-"], ["--", "convert"],
        ["convert", "m.keras", "-o", "x", "--mode"], ["inspect", "--json=1", "x.tflite"],
    ])  # fmt: skip
    return _case(argv[0] if argv and not argv[0].startswith("-") else "cli", argv, g, label="cli")


def _convert_model_and_calib(g: Gen) -> tuple[str, str, str]:
    model, kind = valid_keras(g)
    data_kind = "img" if kind == "img" else "dense"
    calib = (
        g.copy(data_for(data_kind, g.fx), "calib.npz") if g.chance(0.8) else str(data_for(data_kind, g.fx))
    )
    return model, calib, data_kind


CUSTOM_OBJECTS = {
    "syntax-error": b"def broken(:\n",
    "raises": b"raise ValueError('the user file fails')\n",
    "system-exit": b"import sys\nsys.exit(3)\n",
    "not-a-dict": b"custom_objects = 5\n",
    "dict-of-junk": b"custom_objects = {'Dense': 1, 3: 'x'}\n",
    "empty": b"",
    "recursion": b"def f():\n    return f()\nf()\n",
    "import-missing": b"import edgeq_no_such_module\n",
}


def custom_objects(g: Gen) -> tuple[list[str], str]:
    kind = g.pick([*CUSTOM_OBJECTS, "missing", "folder", "not-py"])
    if kind == "missing":
        return ["--custom-objects", "nope.py"], kind
    if kind == "folder":
        return ["--custom-objects", g.add("objs.py", Folder())], kind
    if kind == "not-py":
        return ["--custom-objects", g.add("objs.txt", Data(b"x = 1\n"))], kind
    return ["--custom-objects", g.add(g.name("objs", ".py"), Data(CUSTOM_OBJECTS[kind]))], kind


def convert_option(g: Gen) -> tuple[list[str], str]:
    """One hostile option (or small group) of edgeq convert, and its name."""
    kind = g.pick(["mode", "io", "calib-samples", "eval-samples", "seed", "scale", "mean", "std", "mean-std",
                   "max-drop", "max-trials", "layer-report", "custom-objects", "flags", "block", "extra"])  # fmt: skip
    if kind == "mode":
        value = g.pick(["", ",", "int8,,float16", "INT8", "int3", "all,int8", "float32,float32", " int8",
                        "int8;float16", "\uff41\uff4c\uff4c", "int8," * 50, "int16x8,int8_mixed", "int4_mixed",
                        "dynamic-int8", "dynamic_int4", "int4,int4,INT4"])  # fmt: skip
        return ["--mode", value], f"--mode {value!r}"[:40]
    if kind == "block":
        value = g.pick(["0", "-32", "48", "1e3", "abc", str(2**70), "32", "128"])
        mode = g.pick(["dynamic-int4", "int4", "int8", "all", "dynamic-int2"])
        return ["--block", value, "--mode", mode], f"--block {value[:12]} --mode {mode}"
    if kind == "io":
        value = g.pick(["", "int8", "float16", "FLOAT", "auto,float", "uint8"])
        return ["--io", value, "--mode", g.pick(["int8", "float16", "all"])], f"--io {value!r}"
    if kind == "calib-samples":
        value = g.pick(BAD_INTS)
        return ["--calib-samples", value], f"--calib-samples {value[:12]}"
    if kind == "eval-samples":
        value = g.pick(["0", "-1", "-5"])
        return [
            "--eval-samples",
            value,
            "--eval",
            g.copy(g.fx.dense_npz, "ev.npz"),
        ], f"--eval-samples {value}"
    if kind == "seed":
        value = g.pick(["-1", str(-(2**63) - 1), str(2**70), "abc"])
        return ["--seed", value, "--calib-samples", "5"], f"--seed {value[:12]}"
    if kind == "scale":
        value = g.pick(BAD_FLOATS)
        return ["--scale", value], f"--scale {value}"
    if kind in ("mean", "std"):
        value = numbers_option(g)
        return [f"--{kind}", value], f"--{kind} {value!r}"
    if kind == "mean-std":
        mean, std = numbers_option(g), numbers_option(g)
        return ["--mean", mean, "--std", std], f"--mean {mean!r} --std {std!r}"
    if kind == "max-drop":
        value = g.pick(["nan", "inf", "-1", "1e400", "0", "-0"])
        extra = g.pick([[], ["--mode", "float16"], ["--eval", g.copy(g.fx.dense_npz, "ev.npz")]])
        return ["--max-drop", value, *extra], f"--max-drop {value}"
    if kind == "max-trials":
        value = g.pick(["0", "1", "-3", str(2**70)])
        return ["--max-drop", "1", "--max-trials", value], f"--max-trials {value[:12]}"
    if kind == "layer-report":
        return ["--layer-report", "--mode", g.pick(["float16", "dynamic", "float32", "int16x8"])], kind
    if kind == "custom-objects":
        argv, what = custom_objects(g)
        return argv, f"--custom-objects {what}"
    if kind == "flags":
        flags = g.pick([["--json"], ["--verbose"], ["--unsafe"], ["--per-channel-dense"], ["--dynamic-batch"],
                        ["--json", "--verbose"]])  # fmt: skip
        return flags, " ".join(flags)
    return g.pick([["extra-positional"], ["--calib"], ["--mode", "int8", "--mode", "float16"]]), kind


def gen_convert_options(g: Gen) -> Case:
    model, calib, _ = _convert_model_and_calib(g)
    option, what = convert_option(g)
    out = output_folder(g, allow=["fresh"])
    argv = ["convert", model, "--calib", calib, *out.argv, *option]
    if "--eval" not in option:
        argv += STOPPER
    return _case("convert", argv, g, label=f"convert/option:{what}", **_out_fields(out))


def gen_convert_model(g: Gen) -> Case:
    model, what = hostile_keras(g)
    out = output_folder(g, allow=["fresh"])
    extra = ["--unsafe"] if g.chance(0.2) else []
    argv = ["convert", model, "--calib", g.copy(g.fx.dense_npz, "calib.npz"), *out.argv, *extra, *STOPPER]
    return _case("convert", argv, g, label=f"convert/model:{what}", **_out_fields(out))


def gen_convert_data(g: Gen) -> Case:
    model, _, kind = _convert_model_and_calib(g)
    out = output_folder(g, allow=["fresh"])
    role = g.pick(["calib", "calib", "eval", "eval-float32"])
    if role == "calib":
        data, variant = data_file(g, kind, invalid=None)
        argv = ["convert", model, "--calib", data, *out.argv, *STOPPER]
    else:
        data, variant = data_file(g, kind, invalid=True)
        calib = (
            ["--calib", g.copy(data_for(kind, g.fx), "calib.npz")]
            if role == "eval"
            else ["--mode", "float32"]
        )
        argv = ["convert", model, *calib, "--eval", data, *out.argv]
    return _case("convert", argv, g, label=f"convert/{role}:{variant.name}", **_out_fields(out))


def gen_convert_output(g: Gen) -> Case:
    model, calib, _ = _convert_model_and_calib(g)
    out = output_folder(g, edgeq_folder=g.fx.convert_folder)
    argv = ["convert", model, "--calib", calib, *out.argv, *STOPPER]
    return _case("convert", argv, g, label=f"convert/output:{out.kind}", **_out_fields(out))


MAYBE_VALID_DATA = ("npz-bool", "npz-float16", "npz-y-bool", "csv-bom", "selector-ok", "uppercase-suffix",
                    "npy-fortran")  # fmt: skip
MAYBE_VALID_IMAGES = ("images-hidden", "images-mixed-sizes", "png-16bit", "images-link-loop")


def gen_convert_real(g: Gen) -> Case:
    """A conversion that runs (slow): hostile outputs, maybe-valid data and odd options."""
    kind = g.pick(["dense", "dense", "img", "h5", "saved"])
    model, _ = valid_keras(g, kind)
    data_kind = "img" if kind == "img" else "dense"
    calib = g.copy(data_for(data_kind, g.fx), "calib.npz")
    mode = g.pick(["int8", "float32", "float16,int8", "dynamic", "int16x8"])
    twist = g.pick(["output", "output", "output", "data", "option"])
    out = (
        output_folder(g, edgeq_folder=g.fx.convert_folder)
        if twist == "output"
        else output_folder(g, allow=["fresh"])
    )
    extra: list[str] = []
    label = f"convert/real:{out.kind}"
    if twist == "data":
        names = MAYBE_VALID_IMAGES if data_kind == "img" else MAYBE_VALID_DATA
        variant = DATA_BY_NAME[g.pick(names)]
        calib = variant.make(g, data_kind)
        label = f"convert/real-data:{variant.name}"
    elif twist == "option":
        extra = g.pick([
            ["--seed", str(2**70), "--calib-samples", "5"], ["--eval-samples", str(2**70), "--eval", calib],
            ["--mean", "1e38", "--std", "1e-38"], ["--json"], ["--layer-report", "--mode", "int8"],
            ["--scale", "1e-46"], ["--max-drop", "0", "--max-trials", "2", "--eval", calib, "--mode", "int8"],
            ["--custom-objects", g.add("objs.py", Data(b"custom_objects = {}\n"))], ["--calib-samples", "1"],
        ])  # fmt: skip
        label = "convert/real-option:" + " ".join(a for a in extra if a.startswith("--"))
    argv = ["convert", model, "--calib", calib, "--mode", mode, *out.argv, *extra]
    return _case("convert", argv, g, label=label, tier="slow", checks=_json_check(argv), **_out_fields(out))


def gen_qat(g: Gen) -> Case:
    what = g.pick(["model", "train", "option", "option", "saved", "output"])
    model, kind = valid_keras(g, g.pick(["dense", "img", "h5"]))
    data_kind = "img" if kind == "img" else "dense"
    train = g.copy(data_for(data_kind, g.fx), "train.npz")
    options: list[str] = []
    out = output_folder(g, allow=["fresh"])
    label = f"qat/{what}"
    if what == "model":
        model, name = hostile_keras(g)
        label += f":{name}"
    elif what == "train":
        train, variant = data_file(g, data_kind, invalid=None)
        label += f":{variant.name}"
    elif what == "saved":
        model = g.copy(g.fx.saved_model, "sm")
    elif what == "output":
        out = output_folder(g, edgeq_folder=g.fx.convert_folder)
        label += f":{out.kind}"
    else:
        option = g.pick(["--epochs", "--batch-size", "--lr", "--io", "--calib-samples", "--eval-samples",
                         "--seed", "--scale", "--mean", "--std", "--custom-objects"])  # fmt: skip
        if option in ("--epochs", "--batch-size", "--calib-samples"):
            options = [option, g.pick(BAD_INTS)]
        elif option == "--eval-samples":
            options = [option, g.pick(["0", "-1"]), "--eval", g.copy(data_for(data_kind, g.fx), "ev.npz")]
        elif option == "--seed":
            options = [option, g.pick(["-1", str(2**70)]), "--calib-samples", "3"]
        elif option in ("--lr", "--scale"):
            options = [option, g.pick(BAD_FLOATS)]
        elif option == "--io":
            options = [option, g.pick(["", "int16", "FLOAT", "float16"])]
        elif option == "--custom-objects":
            options, _ = custom_objects(g)
        else:
            options = [option, numbers_option(g)]
        label += f":{' '.join(options)[:40]}"
    argv = ["qat", model, "--train", train, *out.argv, *options]
    if "--eval" not in options:
        argv += STOPPER
    return _case("qat", argv, g, label=label, **_out_fields(out))


def gen_qat_real(g: Gen) -> Case:
    model, _ = valid_keras(g, g.pick(["dense", "h5"]))
    out = output_folder(g, edgeq_folder=g.fx.convert_folder, allow=["fresh", "user-folder-force", "newline",
                                                                  "through-file", "edgeq-folder-force"])  # fmt: skip
    options = g.pick(
        [[], ["--batch-size", str(2**40)], ["--lr", "1e30"], ["--calib-samples", "1"], ["--json"]]
    )
    argv = [
        "qat",
        model,
        "--train",
        g.copy(g.fx.dense_npz, "train.npz"),
        "--epochs",
        "1",
        *out.argv,
        *options,
    ]
    return _case(
        "qat",
        argv,
        g,
        label=f"qat/real:{out.kind} {' '.join(options)}",
        tier="slow",
        checks=_json_check(argv),
        **_out_fields(out),
    )


def gen_inspect(g: Gen, want: str = "invalid") -> Case:
    model, what = tflite_file(g, want)
    argv = ["inspect", model, *(["--json"] if g.chance(0.4) else [])]
    tier = "fast" if want == "invalid" else "medium"
    return _case("inspect", argv, g, label=f"inspect/{want}:{what}", tier=tier, checks=_json_check(argv))


def _json_check(argv: Sequence[str]) -> tuple[str, ...]:
    """Printing JSON (--json of inspect, convert, qat; --print-json of bench, validate): stdout must be it."""
    printing = "--print-json" in argv or (
        "--json" in argv and argv[0] in ("inspect", "convert", "qat", "demo")
    )
    return ("json-stdout",) if printing else ()


def gen_inspect_valid(g: Gen) -> Case:
    return gen_inspect(g, "valid")


WELL_FORMED_LABELS = (
    "fixture",
    "crlf",
    "cr-only",
    "trailing-blank",
    "numbers",
    "duplicates",
    "unicode",
    "bom",
)


def gen_mcu(g: Gen) -> Case:
    """export mcu that fails before TFLite Micro runs: bad model, template, core, name, labels, output."""
    what = g.pick(["model", "model", "template", "core", "name", "labels", "output"])
    model, _ = tflite_file(g, "valid")
    options: list[str] = []
    out = output_folder(g, allow=["fresh"])
    label = f"mcu/{what}"
    if what == "model":
        model, name = tflite_file(g, "invalid")
        label += f":{name}"
        options = g.pick([[], ["--template", "c"], ["--name", "x"], ["--labels", g.copy(g.fx.labels)]])
    elif what == "template":
        options = ["--template", g.pick(["", "C", "Arduino", "esp_idf", "../plain", "plain ", "zephyr,c"])]
    elif what == "core":
        options = g.pick(
            [
                ["--core", "cortex-m4"],
                ["--core", "cortex-m4", "--template", "arduino"],
                ["--template", "c", "--core", g.pick(["", "cortex-m99", "CORTEX-M4", "m4", "host"])],
            ]
        )
    elif what == "name":
        value = g.pick(["", "1abc", "int", "main", "__x", "_X", "a-b", "nm /* open", "модель", "a b", "NULL"])
        options = ["--name", value]
    elif what == "labels":
        labels, kind = labels_file(g)
        if kind in WELL_FORMED_LABELS:  # a wrong count instead: refused before TFLite Micro runs
            labels = g.add("labels.txt", Data(b"just one\n"))
        options = ["--labels", labels]
        label += f":{kind}"
    else:
        out = output_folder(g, edgeq_folder=g.fx.mcu_folder)
        label += f":{out.kind}"
        if not out.fails:
            model, _ = tflite_file(g, "invalid")
    argv = ["export", "mcu", model, *out.argv, *options]
    return _case("export mcu", argv, g, label=label, **_out_fields(out))


def gen_mcu_medium(g: Gen) -> Case:
    """export mcu that runs TFLite Micro (a child process, ~2 s)."""
    what = g.pick(["name", "labels", "arena", "sample", "template", "output", "output"])
    model, how = tflite_file(g, "valid", source=g.pick([g.fx.img_int8, g.fx.dense_int8, g.fx.dense_float]))
    options: list[str] = []
    out = output_folder(g, allow=["fresh"])
    label = f"mcu-run/{what}"
    refuse = None
    if what == "name":
        value = g.pick(["abc\n", LONG, "x" * 250, "Model_" + "é", "ok_name"])
        options = ["--name", value]
        if value == "abc\n":
            refuse = "--name 'abc\\n' is not a C identifier"
        label += f":{value[:12]!r}"
    elif what == "labels":
        kind = g.pick(["vertical-tab", "u2028", "nel", "crlf", "cr-only", "quotes", "numbers", "comment-open",
                       "escape", "bom", "unicode", "trailing-blank", "duplicates", "long"])  # fmt: skip
        options = ["--labels", g.add("labels.txt", Data(dict(LABEL_TEXTS)[kind]))]
        label += f":{kind}"
    elif what == "arena":
        value = g.pick(["-1", "0", str(2**70), str(2**31), str(2**63), "1e3"])
        options = ["--arena-margin", value]
        label += f":{value[:12]}"
    elif what == "sample":
        data, variant = data_file(g, "img" if "img" in model else "dense", invalid=None)
        options = ["--sample", data]
        label += f":{variant.name}"
    elif what == "template":
        template = g.pick(["arduino", "esp-idf", "zephyr", "tflm-cmake", "c"])
        options = ["--template", template]
        if template == "c" and g.chance(0.5):
            options += ["--core", g.pick(["cortex-m0", "cortex-m4", "cortex-m55", "portable"])]
        label += f":{' '.join(options)}"
    else:
        out = output_folder(
            g,
            edgeq_folder=g.fx.mcu_folder,
            allow=[
                "through-file",
                "proc",
                "dev-null",
                "newline",
                "unicode",
                "user-folder-force",
                "long-name",
                "link-to-user-folder-force",
                "edgeq-folder-force",
                "parent-dots",
                "dot-force",
                "input-folder-force",
            ],
        )
        label += f":{out.kind}"
        if out.kind == "input-folder-force":
            model = g.add("in/model.tflite", Copy(g.fx.img_int8))
    argv = ["export", "mcu", model, *out.argv, *options]
    return _case(
        "export mcu", argv, g, label=label + f" ({how})", refuse=refuse, tier="medium", **_out_fields(out)
    )


def gen_android(g: Gen) -> Case:
    """export android (no child process: fast even when it succeeds)."""
    what = g.pick(
        ["model", "labels", "labels", "numbers", "name", "text", "package", "input", "output", "output"]
    )
    model, how = tflite_file(g, "valid", source=g.pick([g.fx.img_int8, g.fx.dense_float, g.fx.dense_int8]))
    labels = g.copy(g.fx.labels, "labels.txt")
    options: list[str] = []
    out = output_folder(g, allow=["fresh"])
    refuse = None
    label = f"android/{what}"
    if what == "model":
        model, how = tflite_file(g, "invalid")
    elif what == "labels":
        labels, kind = labels_file(g)
        label += f":{kind}"
    elif what == "numbers":
        options = g.pick([["--mean", numbers_option(g)], ["--std", numbers_option(g)],
                          ["--mean", numbers_option(g), "--std", numbers_option(g)],
                          ["--mean", "1e39", "--std", "1"], ["--mean", "0", "--std", "1e-46"]])  # fmt: skip
        label += f":{' '.join(options)}"
    elif what in ("name", "text"):
        option = "--name" if what == "name" else g.pick(["--version", "--author", "--description"])
        value = g.pick(WEIRD_TEXT)
        options = [option, value]
        label += f":{option} {value[:12]!r}"
    elif what == "package":
        value = g.pick(
            [
                "com.example\n",
                "com.example.class",
                "Com.Example",
                "com..x",
                ".com",
                "com.exämple",
                "com.example." + "x" * 300,
                "com.example.-x",
                "",
                "a",
                "com/example",
                "com.example\t",
            ]
        )
        options = ["--package", value]
        if value.endswith("\n") or value.endswith("\t"):
            refuse = f"--package {value!r} is not a package name"
        label += f":{value[:16]!r}"
    elif what == "input":
        options = ["--input", g.pick(["image", "features", "", "IMAGE", "audio"])]
        label += f":{options[1]}"
    else:
        out = output_folder(
            g,
            edgeq_folder=g.fx.android_folder,
            allow=[
                "missing-parent",
                "existing-file",
                "user-folder",
                "user-folder-force",
                "through-file",
                "proc",
                "dev-null",
                "long-name",
                "dangling-link",
                "dangling-link-force",
                "link-to-user-folder-force",
                "unicode",
                "newline",
                "empty",
                "edgeq-folder-force",
                "parent-dots",
                "dot-force",
                "input-folder-force",
            ],
        )
        label += f":{out.kind}"
        if out.kind == "input-folder-force":
            model = g.add("in/model.tflite", Copy(g.fx.img_int8))
    if "dense_float" in model and what not in ("input", "numbers"):
        options += ["--input", "features"]
    argv = ["export", "android", model, "--labels", labels, *out.argv, *options]
    return _case("export android", argv, g, label=label + f" ({how})", refuse=refuse, checks=("kotlin",),
                 **_out_fields(out))  # fmt: skip


def gen_validate(g: Gen) -> Case:
    what = g.pick(["model", "engine", "samples", "seed", "data", "json"])
    model, how = tflite_file(g, "valid", source=g.fx.img_int8)
    options: list[str] = []
    outputs: tuple[str, ...] = ()
    label = f"validate/{what}"
    if what == "model":
        model, how = tflite_file(g, "invalid")
        label += f":{how}"
    elif what == "engine":
        options = ["--engine", g.pick(["", "C", "tflm", "c,c"])]
    elif what == "samples":
        value = g.pick(["0", "-1", "100001", str(2**70), "abc"])
        options = ["-n", value]
        label += f":{value[:12]}"
    elif what == "seed":
        options = ["--seed", g.pick(["-1", str(-(2**63) - 1)]), "-n", "1"]
        label += f":{options[1][:12]}"
    elif what == "data":
        data, variant = data_file(g, "img", invalid=True)
        options = ["--data", data, "-n", "1"]
        label += f":{variant.name}"
    else:
        model, how = tflite_file(g, "invalid")
        target, outputs = json_target(g)
        options = ["--json", target]
        label += f":{target[:16]!r}"
    if g.chance(0.2):
        options.append("--print-json")
    argv = ["validate", model, *options]
    return _case("validate", argv, g, label=label, outputs=outputs, checks=_json_check(argv))


def gen_validate_real(g: Gen) -> Case:
    model = g.copy(g.fx.img_int8)
    target, outputs = json_target(g)
    options = g.pick([["--json", target], ["--json", target, "--print-json"], ["--seed", str(2**70)],
                      ["--data", g.copy(g.fx.img_npz, "x.npz")], ["--data", DATA_BY_NAME[g.pick(MAYBE_VALID_IMAGES)].make(g, "img")]])  # fmt: skip
    if "--json" not in options:
        outputs = ()
    argv = ["validate", model, "-n", g.pick(["1", "3"]), *options]
    return _case(
        "validate",
        argv,
        g,
        label=f"validate/real:{' '.join(options)[:40]!r}",
        tier="slow",
        outputs=outputs,
        checks=_json_check(argv),
    )


def json_target(g: Gen) -> tuple[str, tuple[str, ...]]:
    """A ``--json FILE`` value and the outputs it allows."""
    kind = g.pick(["fresh", "user-file", "folder", "missing-parent", "proc", "empty", "long", "dangling-link",
                   "through-file", "dev-null"])  # fmt: skip
    if kind == "fresh":
        return "result.json", ("result.json",)
    if kind == "user-file":
        g.add("result.json", Data(b"{}\n"))
        return "result.json", ("result.json",)
    if kind == "folder":
        g.user_file("d/important.txt")
        return "d", ("d",)
    if kind == "missing-parent":
        return "no/such/r.json", ()
    if kind == "proc":
        return "/proc/edgeq-fuzz.json", ()
    if kind == "empty":
        return "", ()
    if kind == "long":
        return LONG + ".json", (LONG + ".json",)
    if kind == "dangling-link":
        g.add("r.json", Link("gone/r.json"))
        return "r.json", ("r.json",)
    if kind == "through-file":
        g.user_file()
        return "important.txt/r.json", ()
    return "/dev/null", ()


BAD_TARGETS = ("", ",", "host,,", "cortex-m99", "HOST", "ssh://", "ssh://u@h:99999", "ssh://u@h:0",
               "ssh://u@-oProxyCommand=x", "serial:", "serial:@9600", "serial:/dev/x@notabaud", "serial:/dev/x@\u00b2",
               "adb:", "adb:-x", "adb:a b", "rpi9", "\uff48\uff4f\uff53\uff54", "host;cortex-m4", "cortex-m4 ", "ssh://a@b:65536")  # fmt: skip


def _safe_target(target: str) -> bool:
    """Never let a case reach a real phone, board or adb server."""
    from edgeq.bench.adb import parse_adb_target
    from edgeq.errors import InputError

    for part in target.split(","):
        part = part.strip()
        if part.startswith("adb") or part == "adb":
            try:
                parse_adb_target(part)
            except InputError:
                continue
            return False
    return True


def gen_bench(g: Gen) -> Case:
    what = g.pick(["target", "target", "option", "option", "models", "json", "device"])
    fx = g.fx
    models = [tflite_file(g, "valid", source=g.pick([fx.img_int8, fx.dense_float, fx.dense_int8]))[0]]
    options: list[str] = ["--runs", "2", "--warmup", "0"]
    outputs: tuple[str, ...] = ()
    label = f"bench/{what}"
    on = "host"
    if what == "target":
        on = g.pick(BAD_TARGETS)
        label += f":{on!r}"
    elif what == "option":
        option, values = g.pick([
            ("--clock", ("0", "-5MHz", "1e3MHz", "nanHz", "99GHz", "", "1kHz", "10GHz", "120 MHz", "\u0661\u0662\u0660MHz")),
            ("--runs", BAD_INTS), ("--warmup", ("-1", "abc", str(2**70))), ("--threads", ("0", "-1", "x")),
            ("--seed", ("-1", str(2**70))), ("--flash", ("0", "-1", "1TB", "1.5MB", "", "1MiB", "x")),
            ("--ram", ("0", "1GB", "256kb", "abc")), ("--device-timeout", ("0", "-1", "nan", "inf", "1e400")),
            ("--ssh-config", ("missing", ".")), ("--benchmark-model", ("missing",)),
        ])  # fmt: skip
        value = g.pick(values)
        options += [option, value]
        if option in ("--warmup", "--seed", "--runs") and value == str(2**70):
            models.append(tflite_file(g, "invalid")[0])  # never time 2**70 runs: an unreadable model ends it
        label += f":{option} {value[:12]!r}"
    elif what == "models":
        models = [tflite_file(g, g.pick(["invalid", "valid"]))[0] for _ in range(g.rng.randint(1, 3))]
        models.append(tflite_file(g, "invalid")[0])
        g.rng.shuffle(models)
    elif what == "json":
        target, outputs = json_target(g)
        options += ["--json", target]
        label += f":{target[:16]!r}"
    else:
        on = g.pick(
            [
                "ssh://nobody@127.0.0.1:1",
                "ssh://127.0.0.1:1",
                "serial:/nonexistent/tty@115200",
                "serial:/nonexistent/tty@0",
                "serial:/nonexistent@99999999999999999999",
                "host,ssh://x@127.0.0.1:1",
            ]
        )
        if on.startswith("ssh") and g.chance(0.5):
            options += ["--ssh-config", g.add("ssh_config", Data(g.pick([b"Host *\n  Port notaport\n", b"\x00\xff",
                                                                           b"Include /nonexistent/*\n"])))]  # fmt: skip
        if g.chance(0.3):
            options += ["--device-timeout", g.pick(["0.001", "1e-9", "5"])]
        label += f":{on}"
    if not _safe_target(on):
        on = "host"
    if g.chance(0.2):
        options.append("--print-json")
    argv = ["bench", *models, "--on", on, *options]
    return _case("bench", argv, g, label=label, outputs=outputs, checks=_json_check(argv))


def gen_bench_real(g: Gen) -> Case:
    target = g.pick(["cortex-m0", "cortex-m4", "cortex-m55", "lm3s6965"])
    options = g.pick([[], ["--flash", "1"], ["--ram", "1"], ["--clock", "1kHz"], ["--clock", "10GHz"],
                      ["--flash", str(2**70)]])  # fmt: skip
    json_value, outputs = json_target(g)
    argv = ["bench", g.copy(g.fx.img_int8), "--on", target, *options, "--json", json_value]
    return _case(
        "bench", argv, g, label=f"bench/real:{target} {' '.join(options)}", tier="slow", outputs=outputs
    )


def _run_stopper(g: Gen) -> str:
    """Calibration data that exists but is refused: the run stops at its convert stage, before converting."""
    return DATA_BY_NAME[g.pick(["npz-nan", "npz-strings", "csv-ragged", "npz-empty-x"])].make(g, "dense")


def gen_run_toml(g: Gen) -> Case:
    """edgeq run on a hostile edgeq.toml (stops before any conversion)."""
    what = g.pick(["config", "config", "config", "document", "model", "data", "folder", "folder", "file"])
    model = g.copy(g.fx.dense_keras, "m.keras")
    config = base_config(g, model, _run_stopper(g))
    label = f"run/{what}"
    outputs: tuple[str, ...] = ("out",)
    file_name = "edgeq.toml"
    if what == "config":
        label += ":" + config_mutation(g, config)
    elif what == "model":
        config["model"]["path"], name = hostile_keras(g)
        label += f":{name}"
    elif what == "data":
        config["data"]["calib"], variant = data_file(g, "dense", invalid=True)
        label += f":{variant.name}"
    elif what == "folder":
        kind = g.pick(["file", "empty", "dot", "proc", "nul", "user-folder", "parent", "long", "through-file",
                       "dangling-link", "edgeq-run"])  # fmt: skip
        folder = {"file": "important.txt", "empty": "", "dot": ".", "proc": "/proc/edgeq-fuzz", "nul": "o\x00ut",
                  "user-folder": "o", "parent": "../up", "long": LONG, "through-file": "important.txt/out",
                  "dangling-link": "o", "edgeq-run": "r"}[kind]  # fmt: skip
        if kind in ("file", "through-file", "dot", "empty"):
            g.user_file()
        if kind == "user-folder":
            g.user_file("o/important.txt")
        if kind == "dangling-link":
            g.add("o", Link("gone"))
        if kind == "edgeq-run":
            g.add("r", Copy(g.fx.run_folder))
        config["output"]["folder"] = folder
        outputs = (folder,) if kind not in ("file", "through-file", "proc", "nul") else ()
        if kind in ("dot", "empty"):
            outputs = (".",)
        label += f":{kind}"
    elif what == "file":
        file_name = g.pick(["missing.toml", "folder.toml", "edgeq.toml", "cfg"])
        if file_name == "folder.toml":
            g.add(file_name, Folder())
    document, structure = toml_document(g, config)
    if "datetime" in label:
        document = document.replace(b"seed = 7", b"seed = 1979-05-27T07:32:00Z")
    if file_name != "missing.toml" and file_name != "folder.toml":
        g.add(file_name, Data(_encode(document)))
    if structure != "plain":
        label += f" [{structure}]"
    argv = ["run", *([file_name] if file_name != "edgeq.toml" or g.chance(0.5) else [])]
    replaceable = ("r",) if outputs == ("r",) else ()
    return _case("run", argv, g, label=label, outputs=outputs, replaceable=replaceable)


MANIFEST = ".edgeq-manifest.json"


def sign(g: Gen, root: str, source: Path) -> bool:
    """Record the files the case wrote under ``root`` (a copy of the edgeq folder ``source``) in
    the copy's manifests, as if edgeq had written them: the hostile content then gets past the check
    that a folder holds only edgeq's files, to the code that reads it. False if nothing was signed."""
    manifests: dict[str, dict[str, Any]] = {}
    for relative, spec in g.files:
        if not relative.startswith(root + "/") or not isinstance(spec, Data):
            continue
        inside = relative[len(root) + 1 :]
        parts = inside.split("/")
        for depth in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:depth])
            manifest = source / folder / MANIFEST
            if manifest.is_file():
                break
        else:
            continue
        if folder not in manifests:
            try:
                manifests[folder] = json.loads(manifest.read_text(encoding="utf-8"))
            except ValueError:
                continue
        files = manifests[folder].get("files")
        if isinstance(files, dict):
            key = "/".join(parts[depth:])
            files[key] = hashlib.sha256(spec.content).hexdigest()
    for folder, document in manifests.items():
        path = "/".join(p for p in (root, folder, MANIFEST) if p)
        g.add(path, Data((json.dumps(document, indent=1, sort_keys=True) + "\n").encode()))
    return bool(manifests)


RUN_FILES = ("run.json", "convert/report.json", "bench.json", "inspect/dense_int8.json")


def gen_run_rerun(g: Gen) -> Case:
    """edgeq run again on a copy of a finished run: every stage is reused, then hostile files are read."""
    g.add("r", Copy(g.fx.run_folder))
    g.add("edgeq.toml", Data(g.fx.run_config("r").encode()))
    what = g.pick(["json", "json", "json", "json", "report-folder", "report-link", "run-json-folder", "plain",
                   "mode-file"])  # fmt: skip
    label = f"run-again/{what}"
    if what == "json":
        name = g.pick(RUN_FILES)
        content, kind = broken_json(g, (g.fx.run_folder / name).read_text())
        g.add(f"r/{name}", Data(content))
        label += f":{name} {kind}"
    elif what == "report-folder":
        g.add("r/report.html", Folder())
        g.add("r/report.html/keep.txt", Data(b"user"))
    elif what == "report-link":
        g.user_file()
        g.add("r/report.md", Link("../important.txt"))
    elif what == "run-json-folder":
        g.add("r/run.json", Folder())
        g.add("r/run.json/x", Data(b"{}"))
    elif what == "mode-file":
        report = json.loads((g.fx.convert_folder / "report.json").read_text())
        report["modes"][0]["file"] = g.pick(
            ["../../important.txt", "", "/etc/hostname", "../run.json", "x" * 300]
        )
        g.user_file()
        g.add("r/convert/report.json", Data(json.dumps(report).encode()))
        label += f":{report['modes'][0]['file'][:20]!r}"
    if g.chance(0.6) and sign(g, "r", g.fx.run_folder):
        label += " (signed)"
    argv = ["run", *(["edgeq.toml"] if g.chance(0.5) else [])]
    return _case("run", argv, g, label=label, outputs=("r",), replaceable=("r",))


def gen_run_real(g: Gen) -> Case:
    """A run that converts (slow) into a hostile output folder, or with --force over a user's folder."""
    kind = g.pick(["user-folder", "user-folder-force", "dot", "edgeq-run-force", "unicode"])
    config = base_config(g, g.copy(g.fx.dense_keras, "m.keras"), g.copy(g.fx.dense_npz, "calib.npz"))
    config["convert"]["modes"] = ["int8"]
    config.pop("bench", None)
    folder = {
        "user-folder": "o",
        "user-folder-force": "o",
        "dot": ".",
        "edgeq-run-force": "r",
        "unicode": "вы ход",
    }[kind]
    if kind.startswith("user-folder"):
        g.user_file("o/important.txt")
    if kind == "dot":
        g.user_file()
    if kind == "edgeq-run-force":
        g.add("r", Copy(g.fx.run_folder))
    config["output"]["folder"] = folder
    g.add("edgeq.toml", Data(toml_text(config).encode()))
    argv = ["run", *(["--force"] if kind.endswith("force") else [])]
    replaceable = ("r",) if kind == "edgeq-run-force" else ()
    return _case(
        "run", argv, g, label=f"run/real:{kind}", outputs=(folder,), replaceable=replaceable, tier="slow"
    )


def gen_report(g: Gen) -> Case:
    what = g.pick(["json", "json", "json", "json", "json", "folder-arg", "structure", "convert-folder"])
    label = f"report/{what}"
    folder = "r"
    source = g.fx.run_folder
    if what == "convert-folder":
        source = g.fx.convert_folder
    g.add("r", Copy(source))
    if what in ("json", "convert-folder"):
        names = ["report.json"] if what == "convert-folder" else [*RUN_FILES, "mcu/report.json"]
        name = g.pick(names)
        reference = source / name
        text = (
            reference.read_text()
            if reference.is_file()
            else json.dumps({"template": "c", "name": "x", "ops": ["A"]})
        )
        content, kind = broken_json(g, text)
        g.add(f"r/{name}", Data(content))
        label += f":{name} {kind}"
    elif what == "folder-arg":
        kind = g.pick(
            ["missing", "file", "empty-folder", "dot", "empty", "dangling", "link", "trailing-slash"]
        )
        folder = {"missing": "nope", "file": "r/run.json", "empty-folder": "e", "dot": ".", "empty": "",
                  "dangling": "l", "link": "l", "trailing-slash": "r/"}[kind]  # fmt: skip
        if kind == "empty-folder":
            g.add("e", Folder())
        if kind == "dangling":
            g.add("l", Link("gone"))
        if kind == "link":
            g.add("l", Link("r"))
        label += f":{kind}"
    else:
        kind = g.pick(["report-html-folder", "report-md-link", "mcu-dangling", "mcu-loop", "mcu-fifo",
                       "inspect-folder-json", "inspect-not-utf8", "no-run-json", "no-convert", "bench-folder",
                       "inspect-many", "convert-report-folder"])  # fmt: skip
        if kind == "report-html-folder":
            g.add("r/report.html", Folder())
            g.add("r/report.html/keep.txt", Data(b"user"))
        elif kind == "report-md-link":
            g.user_file()
            g.add("r/report.md", Link("../important.txt"))
        elif kind == "mcu-dangling":
            g.add("r/mcu/gone.h", Link("nowhere.h"))
        elif kind == "mcu-loop":
            g.add("r/mcu/loop", Link("."))
        elif kind == "mcu-fifo":
            g.add("r/mcu/pipe", Fifo())
        elif kind == "inspect-folder-json":
            g.add("r/inspect/dir.json", Folder())
        elif kind == "inspect-not-utf8":
            g.add("r/inspect/latin.json", Data(b'{"kind": "\xe9"}'))
        elif kind == "no-run-json":
            g.add("r/run.json", Data(b""))
        elif kind == "no-convert":
            g.add("r/convert/report.json", Data(b"{}"))
        elif kind == "bench-folder":
            g.add("r/bench.json", Folder())
        elif kind == "inspect-many":
            text = (g.fx.run_folder / "inspect" / "dense_int8.json").read_text()
            for index in range(40):
                g.add(f"r/inspect/copy{index}.json", Data(text.encode()))
        else:
            g.add("r/convert/report.json", Folder())
        label += f":{kind}"
    if g.chance(0.6) and sign(g, "r", source):
        label += " (signed)"
    outputs = ("r/report.html", "r/report.md")
    if folder not in ("r", "r/"):
        outputs = tuple(f"{folder}/report.{ext}" for ext in ("html", "md")) if folder else ()
    argv = ["report", folder, *(["--open"] if g.chance(0.05) else [])]
    manifest = (f"{folder.rstrip('/')}/.edgeq-manifest.json",) if folder else ()
    return _case("report", argv, g, label=label, outputs=outputs, replaceable=outputs + manifest)


DEMO_DATA = {
    "x-only": lambda r: {"x_train": np.zeros((4, 8, 8, 1), np.float32)},
    "flat": lambda r: {"x_train": np.zeros(4), "y_train": np.zeros(4), "x_test": np.zeros(4), "y_test": np.zeros(4)},
    "strings": lambda r: {"x_train": np.array(["a"] * 4), "y_train": np.zeros(4), "x_test": np.zeros(4),
                          "y_test": np.zeros(4)},
    "no-test": lambda r: {"x_train": np.zeros((4, 8, 8)), "y_train": np.array([0, 1, 2, 30])},
    "labels-strings": lambda r: {"x_train": np.zeros((4, 8, 8)), "y_train": np.array(["a", "b", "c", "d"]),
                                 "x_test": np.zeros((2, 8, 8)), "y_test": np.zeros(2)},
}  # fmt: skip


def gen_demo(g: Gen) -> Case:
    what = g.pick(["epochs", "output", "data", "data", "data"])
    options: list[str] = []
    out = Output(("-o", "demo"), ("demo",), atomic=("demo",), kind="fresh")
    label = f"demo/{what}"
    if what == "epochs":
        options = ["--epochs", g.pick(["0", "-1", str(-(2**70)), "x"])]
        label += f":{options[1][:12]}"
    elif what == "output":
        out = output_folder(
            g, allow=["existing-file", "user-folder", "missing-parent", "dangling-link", "empty"]
        )
        label += f":{out.kind}"
    else:
        if g.chance(0.5):
            kind = g.pick(list(DEMO_DATA))
            data = g.add(g.name("digits", ".npz"), Data(npz_bytes(**DEMO_DATA[kind](g.rng))))
        else:
            data, variant = data_file(g, "img", invalid=True)
            kind = variant.name
        options = ["--data", data, "--epochs", "1", *(["--seed", "-1"] if g.chance(0.2) else [])]
        label += f":{kind}"
    argv = ["demo", *out.argv, *options]
    return _case("demo", argv, g, label=label, **_out_fields(out))


GENERATORS: dict[str, tuple[tuple[int, Callable[[Gen], Case]], ...]] = {
    "fast": (
        (2, gen_cli), (8, gen_convert_options), (7, gen_convert_model), (10, gen_convert_data),
        (4, gen_convert_output), (6, gen_qat), (6, gen_inspect), (8, gen_mcu), (12, gen_android),
        (5, gen_validate), (10, gen_bench), (11, gen_run_toml), (6, gen_run_rerun), (11, gen_report),
        (4, gen_demo),
    ),
    "medium": ((3, gen_inspect_valid), (7, gen_mcu_medium)),
    "slow": ((7, gen_convert_real), (1, gen_qat_real), (2, gen_validate_real), (1, gen_bench_real),
             (2, gen_run_real)),
}  # fmt: skip


def tier_of(number: int, shares: tuple[float, float]) -> str:
    """Spread the slow and medium cases evenly: case ``number`` is slow when the running count of
    slow cases steps up at it (so any prefix of cases holds its share), likewise medium."""
    slow, medium = shares

    def steps(share: float) -> bool:
        return int((number + 1) * share) > int(number * share)

    if steps(slow):
        return "slow"
    if steps(medium):
        return "medium"
    return "fast"


def generate_case(number: int, seed: int, fx: Fixtures, shares: tuple[float, float] = (0.03, 0.1)) -> Case:
    rng = random.Random(f"edgeq-fuzz:{seed}:{number}")
    tier = tier_of(number, shares)
    weights, functions = zip(*GENERATORS[tier], strict=True)
    generator = rng.choices(functions, weights=weights)[0]
    g = Gen(rng, fx)
    case = generator(g)
    return _replace(case, number=number, seed=seed, tier=tier)


def _replace(case: Case, **changes: Any) -> Case:
    from dataclasses import replace

    return replace(case, **changes)


def generate_cases(
    count: int, seed: int, fx: Fixtures, shares: tuple[float, float] = (0.03, 0.1)
) -> list[Case]:
    """Cases ``0 .. count-1`` of ``seed``; ``shares`` = (slow, medium) fractions of them."""
    return [generate_case(number, seed, fx, shares) for number in range(count)]


# ---------------------------------------------------------------------------------------------
# Running a case and checking what it did

CATEGORIES = (
    "traceback",  # an exception escaped edgeq.cli.run, or "Traceback" was printed
    "timeout",
    "exit code",  # not 0, 2, 3 or 4
    "error lines",  # a failure without exactly one "error:" line on stderr
    "leftover",  # a new file outside the requested output, or in the temporary folder
    "output on failure",  # an all-or-nothing output left behind by a failed command
    "deleted",  # a file that existed before is gone
    "modified",  # a file that existed before changed
    "accepted",  # an input edgeq must refuse was accepted
    "bad output",  # what a successful run wrote is broken (unterminated Kotlin comment, ...)
)
COLUMNS = {  # summary column -> categories counted in it
    "tracebacks": ("traceback", "timeout"),
    "bad exit": ("exit code",),
    "error lines": ("error lines",),
    "leftovers": ("leftover", "output on failure"),
    "deleted/modified": ("deleted", "modified"),
    "other": ("accepted", "bad output"),
}


@dataclass
class Outcome:
    case: Case
    code: int | None
    seconds: float
    stdout: str
    stderr: str
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems)


class CaseTimeout(BaseException):
    """Raised in the main thread when a case runs past its time."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _captured_descriptors(folder: Path) -> Iterator[dict[str, str]]:
    """Point file descriptors 1 and 2 at files for the block (child processes and C++ logs write
    there); the dict gets their text afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    texts: dict[str, str] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with (folder / "fd1").open("w+b") as out, (folder / "fd2").open("w+b") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield texts
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            for name, handle in (("out", out), ("err", err)):
                handle.seek(0)
                texts[name] = handle.read().decode("utf-8", "replace")


Entry = tuple[Any, ...]


def snapshot(root: Path, hashes: bool = True) -> dict[str, Entry]:
    """Every path under ``root`` (relative, "/"-separated): kind, content hash and mtime."""
    entries: dict[str, Entry] = {}
    if not root.exists():
        return entries
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir",)
            elif stat.S_ISREG(info.st_mode):
                digest = _digest(path, info.st_size) if hashes else ""
                entries[relative] = ("file", info.st_size, info.st_mtime_ns, digest)
            else:
                entries[relative] = ("other", stat.S_IFMT(info.st_mode))
    return entries


def _digest(path: str, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= 8 << 20:
            digest.update(handle.read())
        else:  # a big sparse fixture: its ends and size are enough to notice a rewrite
            digest.update(handle.read(1 << 20))
            handle.seek(size - (1 << 20))
            digest.update(handle.read())
    return digest.hexdigest()


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(
        prefix == "." or path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes
    )


def _in_case(paths: Sequence[str], folder: Path | None = None) -> tuple[str, ...]:
    """Sandbox-relative paths as paths relative to the case folder around the sandbox ("s"); with
    ``folder`` (the case folder, before the run) symbolic links in them are followed too."""
    out = []
    for path in paths:
        if not path or os.path.isabs(path):
            continue
        normal = os.path.normpath(os.path.join("s", path)).replace(os.sep, "/")
        out.append(normal)
        if folder is not None:
            real = os.path.relpath(os.path.realpath(folder / normal), os.path.realpath(folder))
            if not real.startswith(".."):
                out.append(real.replace(os.sep, "/"))
    return tuple(dict.fromkeys(out))


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def kotlin_problems(text: str) -> list[str]:
    """An unterminated (or nested-open) block comment and non-finite Float literals in Kotlin source."""
    problems = []
    depth, index, length = 0, 0, len(text)
    while index < length:
        pair = text[index : index + 2]
        if depth:
            if pair == "/*":
                depth, index = depth + 1, index + 2
            elif pair == "*/":
                depth, index = depth - 1, index + 2
            else:
                index += 1
        elif pair == "//":
            end = text.find("\n", index)
            index = length if end < 0 else end
        elif pair == "/*":
            depth, index = 1, index + 2
        elif text.startswith('"""', index):
            end = text.find('"""', index + 3)
            index = length if end < 0 else end + 3
        elif text[index] in "\"'":
            quote, index = text[index], index + 1
            while index < length and text[index] not in (quote, "\n"):
                index += 2 if text[index] == "\\" else 1
            index += 1
        else:
            index += 1
    if depth:
        problems.append(f"a /* comment is never closed ({depth} open at the end of the file)")
    literal = re.search(r"\b(?:inf|nan|-inf|Infinity|NaN)f\b", text)
    if literal:
        problems.append(f"a non-finite Float literal {literal.group(0)!r}")
    return problems


def _traceback_summary(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame of edgeq's own code."""
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0][:200] if message else ''}".rstrip(": ")
    frames = traceback.extract_tb(exc.__traceback__)
    own = [
        f
        for f in frames
        if f"{os.sep}edgeq{os.sep}" in f.filename and "edgeq/cli/__init__.py" not in f.filename
    ]
    if own:
        frame = own[-1]
        where = (
            os.path.relpath(frame.filename, REPO) if frame.filename.startswith(str(REPO)) else frame.filename
        )
        text += f" [at {where}:{frame.lineno} in {frame.name}]"
    return text


def _printed_traceback(text: str) -> str:
    """The last line of the last traceback printed in ``text``."""
    block = text[text.rindex("Traceback") :].splitlines()
    lines = [line for line in block[1:] if line and not line.startswith((" ", "\t"))]
    return lines[0][:240] if lines else block[0][:240]


def run_case(case: Case, fx: Fixtures, work: Path, keep: bool = False) -> Outcome:
    """Run ``case`` in a fresh sandbox under ``work`` and check it (see the module docstring).
    Must run inside ``fuzz_environment(work)``."""
    from edgeq.cli import run

    folder = work / "cases" / f"{case.number:05d}"
    if folder.exists() or folder.is_symlink():
        shutil.rmtree(folder)
    sandbox = folder / "s"
    sandbox.mkdir(parents=True)
    materialize(sandbox, case.files)
    before = snapshot(folder)
    outputs, replaceable = _in_case(case.outputs, folder), _in_case(case.replaceable, folder)
    fixtures_before = snapshot(fx.root, hashes=False)
    temp = Path(tempfile.gettempdir())
    temp_before = set(os.listdir(temp))
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped: str | None = None
    timed_out: str | None = None
    cwd = os.getcwd()
    started = time.perf_counter()
    with _captured_descriptors(work / "capture") as descriptors:
        try:
            os.chdir(sandbox)
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
                _time_limit(TIMEOUTS_S[case.tier]),
            ):
                code = run(list(case.argv))
        except CaseTimeout as exc:
            timed_out = str(exc)
        except BaseException as exc:  # SystemExit and all: whatever escapes is a finding
            escaped = _traceback_summary(exc)
        finally:
            os.chdir(cwd)
    seconds = time.perf_counter() - started
    stdout = out.getvalue() + descriptors.get("out", "")
    stderr = err.getvalue() + descriptors.get("err", "")
    outcome = Outcome(case, code, seconds, stdout, stderr)
    problems = outcome.problems

    if escaped is not None:
        problems.append(("traceback", f"exception escaped edgeq.cli.run: {escaped}"))
    if timed_out is not None:
        problems.append(("timeout", timed_out))
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if "Traceback" in text:
            problems.append(("traceback", f"printed on {name}: {_printed_traceback(text)}"))
    error_lines = [line for line in err.getvalue().splitlines() + descriptors.get("err", "").splitlines()
                   if line.startswith("error:")]  # fmt: skip
    if code is not None and code not in OK_CODES:
        shown = error_lines[0] if error_lines else (stderr.strip().splitlines() or ["(no output)"])[-1]
        where = _debug_location(case, work) if case.tier != "slow" else ""
        problems.append(("exit code", f"exit code {code}: {shown[:200]}{where}"))
    if code is not None and code != 0 and len(error_lines) != 1:
        shown = (
            "; ".join(line[:100] for line in error_lines[:3])
            or (stderr.strip().splitlines() or ["nothing"])[-1][:160]
        )
        problems.append(("error lines", f"exit {code} with {len(error_lines)} 'error:' lines: {shown}"))
    if case.refuse is not None and code == 0:
        problems.append(("accepted", f"exit 0 but {case.refuse}"))

    after = snapshot(folder)
    created = sorted(set(after) - set(before))
    leftovers = [p for p in created if not _under(p, outputs)]
    if leftovers:
        problems.append(("leftover", "new outside the requested output: " + _paths(leftovers)))
    failed = code != 0 or escaped is not None or timed_out is not None
    # edgeq convert writes the modes that converted, and exits 2 when some failed: not a leftover
    if failed and "wrote " not in stdout:
        left = [p for p in _in_case(case.atomic) if p in after and p not in before]
        if left:
            problems.append(("output on failure", "the command failed but left its output " + _paths(left)))
    deleted = [p for p in before if p not in after and not _under(p, replaceable)]
    if deleted:
        problems.append(("deleted", _paths(_tops(deleted))))
    modified = [p for p in before if p in after and before[p] != after[p] and before[p][0] != "dir"
                and not _under(p, replaceable)]  # fmt: skip
    if modified:
        problems.append(("modified", _paths(modified)))
    fixtures_after = snapshot(fx.root, hashes=False)
    if fixtures_after != fixtures_before:
        changed = sorted(p for p in set(fixtures_after) | set(fixtures_before)
                         if fixtures_after.get(p) != fixtures_before.get(p))  # fmt: skip
        problems.append(("modified", "a shared fixture changed: " + _paths(changed)))
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):  # a case given --json /dev/null, as root
        problems.append(("modified", "/dev/null is no longer a character device"))
    temp_new = sorted(set(os.listdir(temp)) - temp_before)
    if temp_new:
        problems.append(("leftover", f"left in the temporary folder: {', '.join(map(repr, temp_new[:5]))}"))
        for name in temp_new:
            path = temp / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
    if code == 0:
        problems.extend(_output_problems(case, folder, created))
        if "json-stdout" in case.checks:
            try:
                json.loads(stdout)
            except ValueError as exc:
                problems.append(("bad output", f"stdout is not one JSON document ({exc}): {stdout[:80]!r}"))
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return outcome


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _debug_location(case: Case, work: Path) -> str:
    """Where edgeq failed, from a rerun of ``case`` with EDGEQ_DEBUG=1 (which prints the traceback):
    `` [at edgeq/FILE.py:LINE in FUNCTION]``, or "" when there is none."""
    from edgeq.cli import run

    folder = work / "debug"
    shutil.rmtree(folder, ignore_errors=True)
    sandbox = folder / "s"
    sandbox.mkdir(parents=True)
    materialize(sandbox, case.files)
    temp = Path(tempfile.gettempdir())
    temp_before = set(os.listdir(temp))
    err = io.StringIO()
    cwd = os.getcwd()
    os.environ["EDGEQ_DEBUG"] = "1"
    try:
        with _captured_descriptors(work / "capture"):
            os.chdir(sandbox)
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(err),
                _time_limit(TIMEOUTS_S[case.tier]),
            ):
                run(list(case.argv))
    except BaseException:  # the normal run already recorded what escapes
        return ""
    finally:
        os.chdir(cwd)
        os.environ.pop("EDGEQ_DEBUG", None)
        shutil.rmtree(folder, ignore_errors=True)
        for name in set(os.listdir(temp)) - temp_before:
            path = temp / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
    frames = [m for m in _FRAME.finditer(err.getvalue()) if f"{os.sep}edgeq{os.sep}" in m.group(1)
              and not m.group(1).endswith(os.path.join("edgeq", "cli", "__init__.py"))]  # fmt: skip
    if not frames:
        return ""
    path, line, function = frames[-1].groups()
    where = os.path.relpath(path, REPO) if path.startswith(str(REPO)) else path
    return f" [at {where}:{line} in {function}]"


def _output_problems(case: Case, folder: Path, created: Sequence[str]) -> list[tuple[str, str]]:
    problems = []
    outputs = _in_case(case.outputs)
    for path in created:
        root = next((o for o in outputs if _under(path, (o,))), None)
        inside = path[len(root) + 1 :] if root and root != "s" else path
        if inside and _CONTROL.search(inside):
            problems.append(("bad output", f"wrote a file name with a control character: {inside!r}"))
            break
    if "kotlin" in case.checks:
        for path in created:
            if path.endswith(".kt") and (folder / path).is_file():
                for problem in kotlin_problems((folder / path).read_text(encoding="utf-8", errors="replace")):
                    problems.append(("bad output", f"{path.split('/')[-1]}: {problem}"))
                    break
    return problems


def _tops(paths: Sequence[str]) -> list[str]:
    """Drop paths inside another listed path."""
    chosen = sorted(paths)
    return [p for p in chosen if not any(p != q and p.startswith(q + "/") for q in chosen)]


def _paths(paths: Sequence[str]) -> str:
    shown = [
        repr(p[2:] if p.startswith("s/") else ("(sandbox)" if p == "s" else "../" + p)) for p in paths[:4]
    ]
    return ", ".join(shown) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")


@contextlib.contextmanager
def fuzz_environment(work: Path) -> Iterator[Path]:
    """A temporary folder of the run's own (``TMPDIR`` and ``tempfile.tempdir``, inherited by child
    processes) so leftovers can be seen; no debug tracebacks; a browser that does nothing."""
    temp = work / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    saved_env = {name: os.environ.get(name) for name in ("TMPDIR", "EDGEQ_DEBUG", "BROWSER")}
    saved_tempdir = tempfile.tempdir
    os.environ["TMPDIR"] = str(temp)
    os.environ.pop("EDGEQ_DEBUG", None)
    os.environ["BROWSER"] = "true"
    tempfile.tempdir = str(temp)
    try:
        yield temp
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def warm_up(fx: Fixtures, work: Path) -> None:
    """Import and use once what the commands load lazily (TensorFlow, matplotlib, the probe), so
    first-use caches are not taken for a case's leftovers."""
    import edgeq.cli
    import edgeq.report.page
    from edgeq.conversion.quiet import import_tensorflow

    import_tensorflow()
    assert edgeq.report.page.build_report is not None

    folder = work / "warm-up"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(fx.run_folder, folder / "r", symlinks=True)
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            edgeq.cli.run(["report", "r"])
            edgeq.cli.run(["bench", str(fx.img_int8), "--runs", "1", "--warmup", "0"])
    finally:
        os.chdir(cwd)
    shutil.rmtree(folder, ignore_errors=True)


def run_cases(
    cases: Sequence[Case], fx: Fixtures, work: Path, keep: bool = False,
    progress: Callable[[Outcome, int], None] | None = None,
) -> list[Outcome]:  # fmt: skip
    outcomes = []
    for index, case in enumerate(cases):
        outcome = run_case(case, fx, work, keep=keep)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome, index)
    return outcomes


# ---------------------------------------------------------------------------------------------
# Reporting


def _histogram(codes: Sequence[int | None]) -> str:
    counts = Counter("exc" if code is None else str(code) for code in codes)
    return " ".join(f"{code}:{count}" for code, count in sorted(counts.items(), key=lambda item: item[0]))


def summary_table(outcomes: Sequence[Outcome]) -> str:
    """Per command: cases, exit-code histogram and the number of cases with each kind of problem."""
    commands = sorted({o.case.command for o in outcomes})
    header = ["command", "cases", "exit codes", *COLUMNS, "failing", "seconds"]
    rows = []
    for command in [*commands, "all"]:
        chosen = [o for o in outcomes if command in ("all", o.case.command)]
        row = [command, str(len(chosen)), _histogram([o.code for o in chosen])]
        for categories in COLUMNS.values():
            row.append(str(sum(any(c in categories for c, _ in o.problems) for o in chosen)))
        row.append(str(sum(o.failed for o in chosen)))
        row.append(f"{sum(o.seconds for o in chosen):.1f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe_failure(outcome: Outcome) -> str:
    case = outcome.case
    lines = [f"#{case.number} [{case.command}] {case.tier} {case.label}  (exit {outcome.code}, {outcome.seconds:.1f} s)",
             f"    $ {case.command_line()}"]  # fmt: skip
    if case.files:
        lines.append(f"    files: {case.describe_files()[:300]}")
    lines.extend(f"    {category}: {detail}" for category, detail in outcome.problems)
    return "\n".join(lines)


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """One case and what it did, as JSON (tools/fuzz.py --log)."""
    case = outcome.case
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error:")]
    return {
        "number": case.number, "command": case.command, "tier": case.tier, "label": case.label,
        "argv": list(case.argv), "files": case.describe_files(), "code": outcome.code,
        "seconds": round(outcome.seconds, 3), "error": errors[0] if errors else None,
        "problems": [list(problem) for problem in outcome.problems],
    }  # fmt: skip


def failure_list(outcomes: Sequence[Outcome]) -> str:
    failed = [o for o in outcomes if o.failed]
    return "\n".join(describe_failure(o) for o in failed)


def cause_key(outcome: Outcome, category: str, detail: str) -> str:
    """What makes two problems one cause: the command, the category, the exception type and edgeq's
    frame for a crash, else the message without paths, numbers and quoted values."""
    crash = re.search(r"(?:escaped edgeq.cli.run: |printed on \w+: |internal error in edgeq \()(\w+)", detail)
    where = re.search(r"\[at ([^\]]+) in (\w+)\]", detail)
    if crash:
        text = crash.group(1) + (f" at {where.group(1)} in {where.group(2)}" if where else "")
    else:
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", detail)
        text = re.sub(r"(?<![\w*])/[\w.\-][^\s,;:)']*", "<path>", text)
        text = re.sub(r"\d+", "N", text)[:110]
    return f"{outcome.case.command} | {category} | {text}"


def grouped_causes(outcomes: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        seen = set()
        for category, detail in outcome.problems:
            key = cause_key(outcome, category, detail)
            if key not in seen:
                groups.setdefault(key, []).append(outcome)
                seen.add(key)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def causes_text(outcomes: Sequence[Outcome]) -> str:
    lines = []
    for key, members in grouped_causes(outcomes):
        example = members[0]
        detail = next(d for c, d in example.problems if cause_key(example, c, d) == key)
        numbers = ", ".join(f"#{m.case.number}" for m in members[:8]) + (" ..." if len(members) > 8 else "")
        lines.append(f"{len(members):4d}x {key}\n       e.g. {example.case.command_line()[:220]}\n"
                     f"       {detail[:260]}\n       cases: {numbers}")  # fmt: skip
    return "\n".join(lines)
