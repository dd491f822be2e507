"""Reading user data into arrays, and checking it against a model input before conversion.

``read_dataset`` only parses a file or folder; ``prepare_dataset`` then applies preprocessing,
checks shape, dtype and finiteness against the model's input, and draws a seeded sample.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.errors import InputError, first_line

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".pgm", ".ppm"})
CSV_LABEL_COLUMNS = ("label", "y", "target", "class")


@dataclass(frozen=True)
class Preprocessing:
    """Applied to every sample, in this order: ``x * scale``, then ``(x - mean) / std``.

    ``mean`` and ``std`` hold one value for all channels or one value per channel.
    """

    scale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.scale is not None and not np.isfinite(self.scale):
            raise InputError(f"--scale must be a finite number, got {self.scale}")
        for option, values in (("--mean", self.mean), ("--std", self.std)):
            if values is not None and (not values or not all(np.isfinite(values))):
                raise InputError(f"{option} must be finite numbers, got {values}")
        if self.std is not None and any(value == 0 for value in self.std):
            raise InputError("--std must not contain 0: it divides the input")

    @property
    def is_identity(self) -> bool:
        return self.scale is None and self.mean is None and self.std is None

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` as float32 with the preprocessing applied."""
        out = x.astype(np.float32)
        channels = out.shape[-1] if out.ndim > 1 else 1
        if self.scale is not None:
            out *= np.float32(self.scale)
        for option, values in (("--mean", self.mean), ("--std", self.std)):
            if values is not None and len(values) not in (1, channels):
                raise InputError(
                    f"{option} has {len(values)} values but the input has {channels} channels: "
                    "give one value or one per channel"
                )
        if self.mean is not None:
            out -= np.asarray(self.mean, dtype=np.float32)
        if self.std is not None:
            out /= np.asarray(self.std, dtype=np.float32)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mean": list(self.mean) if self.mean is not None else None,
            "std": list(self.std) if self.std is not None else None,
            "order": "x * scale, then (x - mean) / std",
        }


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples ``x`` (first axis = sample) and optional integer class labels ``y``."""

    x: np.ndarray
    y: np.ndarray | None
    source: str
    format: str
    class_names: tuple[str, ...] | None = None
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "samples": len(self),
            "sample_shape": list(self.x.shape[1:]),
            "value_range": [float(self.x.min()), float(self.x.max())] if self.x.size else None,
            "labels": self.y is not None,
            "class_names": list(self.class_names) if self.class_names else None,
            "notes": list(self.notes),
        }


def _split_npz_selector(spec: str) -> tuple[Path, str | None]:
    """``data.npz:train`` selects the arrays ``x_train`` and ``y_train`` of ``data.npz``."""
    head, sep, tail = spec.rpartition(":")
    if sep and head.endswith(".npz") and tail.isidentifier():
        return Path(head), tail
    return Path(spec), None


def read_dataset(spec: str | Path, input_shape: tuple[int | None, ...], role: str) -> Dataset:
    """Read a data file or folder.

    ``input_shape`` is the model input's shape including the batch axis; image folders use it
    for size and channels. ``role`` ("calibration", "evaluation") appears in error messages.
    Raises InputError for anything unreadable.
    """
    path, split = _split_npz_selector(str(spec))
    if not path.exists():
        raise InputError(f"{role} data {path} does not exist: check the path")
    if path.is_dir():
        return _read_image_folder(path, input_shape, role)
    if not path.is_file():
        raise InputError(f"{role} data {path} is not a regular file (a pipe or device?): give a data file")
    if path.stat().st_size == 0:
        raise InputError(f"{role} data {path} is an empty file: give a file with samples in it")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, split, role)
    if suffix == ".npy":
        return _read_npy(path, role)
    if suffix == ".csv":
        return _read_csv(path, role)
    raise InputError(
        f"{role} data {path} has an unknown format {suffix!r}: "
        "use .npz (keys x, y), .npy, .csv or a folder of images"
    )


MAX_ARRAY_BYTES = 4 << 30  # one data array edgeq loads into memory: 4 GiB


def _check_npy_header(handle: Any, where: str) -> None:
    """Read a .npy header from ``handle`` and refuse arrays that are not plain numbers or that
    would need more than MAX_ARRAY_BYTES, before numpy allocates them."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise InputError(f"{where} is not a readable .npy array ({first_line(exc)})") from None
    if dtype.hasobject:
        raise InputError(f"{where} holds Python objects, not numbers: save a numeric array")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise InputError(
            f"{where} claims shape {tuple(shape)} of {dtype} ({size / 2**30:,.1f} GiB): edgeq loads at most "
            f"{MAX_ARRAY_BYTES >> 30} GiB of data; give fewer samples"
        )


def _read_npz(path: Path, split: str | None, role: str) -> Dataset:
    x_key, y_key = ("x", "y") if split is None else (f"x_{split}", f"y_{split}")
    try:
        with zipfile.ZipFile(path) as bundle:
            for member in bundle.infolist():
                if not member.filename.endswith(".npy") or member.is_dir():
                    raise InputError(
                        f"{role} data {path} holds {member.filename!r}, which is not a .npy array: "
                        "save the data with numpy.savez"
                    )
                if member.filename[: -len(".npy")] in (x_key, y_key):
                    with bundle.open(member) as handle:
                        _check_npy_header(handle, f"{role} data {path}:{member.filename}")
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(f"{role} data {path} is not a readable .npz file ({first_line(exc)})") from exc
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if x_key not in keys:
                found = ", ".join(keys) or "no arrays"
                raise InputError(
                    f"{role} data {path} has no array {x_key!r} (found: {found}): "
                    f"save the inputs as {x_key!r} and the labels as {y_key!r}"
                )
            x = archive[x_key]
            y = archive[y_key] if y_key in keys else None
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(f"{role} data {path} is not a readable .npz file ({first_line(exc)})") from exc
    source = str(path) if split is None else f"{path}:{split}"
    return Dataset(x=x, y=y, source=source, format="npz")


def _read_npy(path: Path, role: str) -> Dataset:
    try:
        with path.open("rb") as handle:
            _check_npy_header(handle, f"{role} data {path}")
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{role} data {path} is not a readable .npy file ({first_line(exc)})") from exc
    if not isinstance(x, np.ndarray):
        raise InputError(f"{role} data {path} holds no array: save one array with numpy.save")
    return Dataset(x=x, y=None, source=str(path), format="npy")


def _read_csv(path: Path, role: str) -> Dataset:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{role} data {path} is not a readable CSV file ({first_line(exc)})") from exc
    if not rows:
        raise InputError(f"{role} data {path} has no rows: give one sample per row")
    header: list[str] | None = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    label_column = None
    if header is not None:
        lowered = [name.lower() for name in header]
        label_column = next((lowered.index(n) for n in CSV_LABEL_COLUMNS if n in lowered), None)
    if not rows:
        raise InputError(f"{role} data {path} has a header but no rows: give one sample per row")
    width = len(rows[0])
    if header is not None and rows and len(header) != width:
        raise InputError(
            f"{role} data {path} has a header of {len(header)} columns but its first row has {width}: "
            "give one name per column"
        )
    values = np.empty((len(rows), width), dtype=np.float64)
    for row_number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise InputError(f"{role} data {path} line {row_number} has {len(row)} columns, expected {width}")
        try:
            values[row_number - (2 if header else 1)] = [float(cell) for cell in row]
        except ValueError as exc:
            raise InputError(
                f"{role} data {path} line {row_number} has a value that is not a number"
            ) from exc
    y = None
    if label_column is not None:
        y = values[:, label_column]
        values = np.delete(values, label_column, axis=1)
    return Dataset(x=values, y=y, source=str(path), format="csv")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


MAX_IMAGE_PIXELS = 1 << 24  # 16 M pixels: far above any model input, far below a decompression bomb


def _read_image_folder(path: Path, input_shape: tuple[int | None, ...], role: str) -> Dataset:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow is a dependency
        raise InputError("reading image folders needs Pillow: pip install pillow") from exc
    if len(input_shape) != 4 or input_shape[3] not in (1, 3):
        raise InputError(
            f"{role} data {path} is an image folder but the model input {_shape_text(input_shape)} "
            "is not (batch, height, width, 1 or 3)"
        )
    height, width, channels = input_shape[1], input_shape[2], int(input_shape[3])  # type: ignore[arg-type]
    class_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups = [(d.name, d) for d in class_dirs] if class_dirs else [(None, path)]
    images: list[np.ndarray] = []
    labels: list[int] = []
    sizes: set[tuple[int, int]] = set()
    for label, (_, folder) in enumerate(groups):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if not file.is_file():
                raise InputError(f"{role} image {file} is not a regular file (a pipe or device?): remove it")
            try:
                with Image.open(file) as image:
                    if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
                        raise InputError(
                            f"{role} image {file} is {image.size[0]}x{image.size[1]} pixels: edgeq reads "
                            f"images of at most {MAX_IMAGE_PIXELS:,} pixels; resize it first"
                        )
                    image = image.convert("L" if channels == 1 else "RGB")
                    sizes.add(image.size)
                    if height is not None and width is not None and image.size != (width, height):
                        image = image.resize((width, height), Image.Resampling.BILINEAR)
                    array = np.asarray(image, dtype=np.uint8)
            except InputError:
                raise
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
                raise InputError(f"{role} image {file} cannot be read ({first_line(exc)})") from exc
            images.append(array.reshape(array.shape[0], array.shape[1], channels))
            labels.append(label)
    if not images:
        raise InputError(
            f"{role} data {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}): "
            "put images in one sub-folder per class"
        )
    if len({image.shape for image in images}) > 1:
        raise InputError(f"{role} images in {path} have different sizes and the model input has none")
    notes = ["read as " + ("grey" if channels == 1 else "RGB") + " uint8 pixels 0..255"]
    resized = sorted(size for size in sizes if size != (width, height))
    if resized and height is not None:
        shown = ", ".join(f"{w}x{h}" for w, h in resized[:3])
        notes.append(f"resized {shown} to {width}x{height} (bilinear)")
    class_names = tuple(name for name, _ in groups) if class_dirs else None
    return Dataset(
        x=np.stack(images),
        y=np.asarray(labels, dtype=np.int64) if class_dirs else None,
        source=str(path),
        format="images",
        class_names=class_names,
        notes=tuple(notes),
    )


def _check_real_numbers(x: np.ndarray, where: str) -> None:
    """InputError unless ``x`` holds at least one sample of real numbers (bools count)."""
    if x.ndim == 0 or x.shape[0] == 0 or x.size == 0:
        raise InputError(f"{where} contains no samples")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise InputError(f"{where} has values of type {x.dtype}, not real numbers")
    if np.iscomplexobj(x):
        raise InputError(f"{where} has complex values; the model takes real numbers")


def check_samples(x: np.ndarray, where: str) -> np.ndarray:
    """``x`` if it holds at least one sample of real, finite numbers; InputError naming the first
    bad sample otherwise (for inputs read without prepare_dataset: --sample, validate --data)."""
    _check_real_numbers(x, where)
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise InputError(
                f"{where} has NaN or infinite values "
                f"(first in sample {int(np.argmax(bad))}): clean the data first"
            )
    return x


def prepare_dataset(
    dataset: Dataset,
    input_shape: tuple[int | None, ...],
    input_dtype: str,
    preprocessing: Preprocessing,
    role: str,
    samples: int | None = None,
    seed: int = 0,
    num_classes: int | None = None,
) -> Dataset:
    """Check ``dataset`` against a model input and return it preprocessed and sampled.

    Checks: at least one sample, numeric values, the sample shape equals the input's (a missing
    trailing channel axis of size 1 is added; flat CSV rows are reshaped when sizes agree), no NaN
    or inf after preprocessing, labels that are class indices (one-hot labels are turned into
    indices). ``samples`` draws that many without replacement, seeded by ``seed``.
    Raises InputError naming the problem.
    """
    x, notes = dataset.x, list(dataset.notes)
    where = f"{role} data {dataset.source}"
    _check_real_numbers(x, where)
    x, shape_note = _fit_shape(x, input_shape, where)
    if shape_note:
        notes.append(shape_note)
    y = _check_labels(dataset.y, len(x), where, num_classes)
    drawn: np.ndarray | None = None  # which samples of the file were kept, to name them in errors
    if samples is not None:
        if samples <= 0:
            raise InputError(f"the number of {role} samples must be at least 1, got {samples}")
        if samples < len(x):
            index = np.sort(np.random.default_rng(seed).choice(len(x), size=samples, replace=False))
            drawn = index
            x = x[index]
            y = y[index] if y is not None else None
            notes.append(f"{samples} of {len(dataset.x)} samples drawn without replacement, seed {seed}")
    if input_dtype.startswith("float"):
        with np.errstate(all="ignore"):
            x = preprocessing.apply(x)
        bad = ~np.isfinite(x)
        if bad.any():
            sample = int(np.argwhere(bad)[0][0])
            sample = int(drawn[sample]) if drawn is not None else sample
            raise InputError(
                f"{where} has {int(bad.sum())} NaN or infinite values "
                f"(first in sample {sample} of the file): "
                "clean the data before calibrating or evaluating"
            )
    else:
        if not preprocessing.is_identity:
            raise InputError(
                f"the model input is {input_dtype}; --scale, --mean and --std need a float input"
            )
        if not np.issubdtype(x.dtype, np.integer):
            raise InputError(f"{where} has {x.dtype} values but the model input is {input_dtype}")
        x = x.astype(input_dtype)
    return Dataset(
        x=x,
        y=y,
        source=dataset.source,
        format=dataset.format,
        class_names=dataset.class_names,
        notes=tuple(notes),
    )


def _fit_shape(
    x: np.ndarray, input_shape: tuple[int | None, ...], where: str
) -> tuple[np.ndarray, str | None]:
    expected = input_shape[1:]
    if _shape_matches(x.shape[1:], expected):
        return x, None
    if expected and expected[-1] == 1 and _shape_matches(x.shape[1:], expected[:-1]):
        return x[..., np.newaxis], "added a trailing channel axis of size 1"
    if x.ndim == 2 and all(d is not None for d in expected):
        size = int(np.prod(expected))  # type: ignore[arg-type]
        if x.shape[1] == size:
            return x.reshape(
                (x.shape[0], *expected)
            ), f"reshaped rows of {size} values to {_shape_text(expected)}"
    raise InputError(
        f"{where} has samples of shape {_shape_text(x.shape[1:])} but the model input is "
        f"{_shape_text(input_shape)}: give data whose first axis is the sample and the rest "
        "matches the input"
    )


def _shape_matches(actual: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


MAX_CLASSES = 1 << 24  # class indices edgeq accepts: beyond any classifier's output


def _check_labels(y: np.ndarray | None, count: int, where: str, num_classes: int | None) -> np.ndarray | None:
    if y is None:
        return None
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != count:
        raise InputError(f"{where} has {count} samples but labels of shape {_shape_text(y.shape)}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_) or np.iscomplexobj(y):
        raise InputError(f"{where} has labels of type {y.dtype}: give class indices 0..N-1")
    with np.errstate(all="ignore"):
        bad = not np.all(np.isfinite(y)) or not np.all(y == np.round(y))
        bad = bad or (len(y) > 0 and (y.min() < 0 or y.max() >= MAX_CLASSES))
    if bad:
        raise InputError(f"{where} has labels that are not class indices 0..N-1 (N at most {MAX_CLASSES:,})")
    labels = y.astype(np.int64)
    if num_classes is not None and len(labels) and labels.max() >= num_classes:
        raise InputError(f"{where} has label {int(labels.max())} but the model has {num_classes} classes")
    return labels


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return (
        "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
    )
