import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgeq.data import Dataset, Preprocessing, check_samples, prepare_dataset, read_dataset
from edgeq.errors import InputError

SHAPE = (None, 8, 8, 1)


def _prepare(path, role="calibration", **kwargs):
    return prepare_dataset(read_dataset(path, SHAPE, role), SHAPE, "float32", Preprocessing(), role, **kwargs)


def test_npz_with_x_and_y(tmp_path: Path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(5 * 64).reshape(5, 8, 8, 1), y=np.array([0, 1, 2, 1, 0]))
    data = _prepare(path)
    assert data.x.dtype == np.float32 and data.x.shape == (5, 8, 8, 1)
    assert data.y.tolist() == [0, 1, 2, 1, 0]


def test_npz_selector_reads_named_split_of_bundled_digits():
    digits = Path(__file__).resolve().parents[2] / "datasets" / "digits.npz"
    train = read_dataset(f"{digits}:train", SHAPE, "calibration")
    test = read_dataset(f"{digits}:test", SHAPE, "evaluation")
    assert (len(train), len(test)) == (1438, 359)
    assert int(train.x.max()) == 16 and set(np.unique(test.y)) == set(range(10))


def test_npz_without_x_names_the_keys_found(tmp_path: Path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 8, 8, 1)))
    with pytest.raises(InputError, match=r"no array 'x' \(found: images\)"):
        read_dataset(path, SHAPE, "calibration")


def test_missing_trailing_channel_is_added_and_noted(tmp_path: Path):
    path = tmp_path / "d.npy"
    np.save(path, np.ones((3, 8, 8), dtype=np.uint8))
    data = _prepare(path)
    assert data.x.shape == (3, 8, 8, 1)
    assert "added a trailing channel axis of size 1" in data.notes


def test_wrong_shape_names_both_shapes(tmp_path: Path):
    path = tmp_path / "d.npy"
    np.save(path, np.ones((3, 8, 8, 3), dtype=np.float32))
    with pytest.raises(InputError, match=r"shape \(8, 8, 3\) but the model input is \(None, 8, 8, 1\)"):
        _prepare(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused(tmp_path: Path, bad: float):
    x = np.zeros((4, 8, 8, 1), dtype=np.float32)
    x[2, 3, 3, 0] = bad
    path = tmp_path / "d.npy"
    np.save(path, x)
    with pytest.raises(InputError, match="1 NaN or infinite values \\(first in sample 2 of the file\\)"):
        _prepare(path)


def test_empty_file_and_empty_array(tmp_path: Path):
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(InputError, match="is an empty file"):
        read_dataset(tmp_path / "e.npz", SHAPE, "calibration")
    np.save(tmp_path / "z.npy", np.zeros((0, 8, 8, 1), dtype=np.float32))
    with pytest.raises(InputError, match="contains no samples"):
        _prepare(tmp_path / "z.npy")


def test_garbage_and_object_arrays_are_input_errors(tmp_path: Path):
    (tmp_path / "g.npz").write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        read_dataset(tmp_path / "g.npz", SHAPE, "calibration")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"holds Python objects, not numbers"):
        read_dataset(tmp_path / "o.npy", SHAPE, "calibration")
    (tmp_path / "d.txt").write_text("1,2")
    with pytest.raises(InputError, match=r"unknown format '\.txt'"):
        read_dataset(tmp_path / "d.txt", SHAPE, "calibration")


def test_sampling_is_seeded_and_without_replacement(tmp_path: Path):
    path = tmp_path / "d.npz"
    x = np.arange(100 * 64, dtype=np.float32).reshape(100, 8, 8, 1)
    np.savez(path, x=x, y=np.arange(100) % 10)
    first = _prepare(path, samples=20, seed=3)
    again = _prepare(path, samples=20, seed=3)
    other = _prepare(path, samples=20, seed=4)
    assert np.array_equal(first.x, again.x) and not np.array_equal(first.x, other.x)
    picked = first.x[:, 0, 0, 0] / 64
    assert len(set(picked.tolist())) == 20
    assert np.array_equal(first.y, picked.astype(int) % 10)
    assert "20 of 100 samples drawn without replacement, seed 3" in first.notes


def test_labels_one_hot_and_out_of_range(tmp_path: Path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 8, 8, 1)), y=np.eye(10)[[1, 5, 9]])
    data = _prepare(path, role="evaluation", num_classes=10)
    assert data.y.tolist() == [1, 5, 9]
    np.savez(path, x=np.zeros((3, 8, 8, 1)), y=np.array([1, 5, 12]))
    with pytest.raises(InputError, match="label 12 but the model has 10 classes"):
        _prepare(path, role="evaluation", num_classes=10)


def test_preprocessing_scale_then_mean_std_per_channel():
    pre = Preprocessing(scale=0.5, mean=(1.0, 2.0), std=(2.0, 4.0))
    x = np.array([[[4.0, 8.0]]])
    assert pre.apply(x).tolist() == [[[0.5, 0.5]]]
    with pytest.raises(InputError, match="has 2 values but the input has 3 channels"):
        pre.apply(np.zeros((1, 1, 3)))
    with pytest.raises(InputError, match="--std must not contain 0"):
        Preprocessing(std=(0.0,))


def test_csv_with_header_label_column_and_flat_rows(tmp_path: Path):
    rows = ["label," + ",".join(f"p{i}" for i in range(64))]
    rows += [f"{k}," + ",".join(str(k) for _ in range(64)) for k in range(4)]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    data = _prepare(path)
    assert data.x.shape == (4, 8, 8, 1) and data.y.tolist() == [0, 1, 2, 3]
    assert float(data.x[3].min()) == 3.0
    assert any("reshaped rows of 64 values" in note for note in data.notes)


def test_csv_without_header_and_ragged_rows(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,3\n4,5\n")
    with pytest.raises(InputError, match="line 2 has 2 columns, expected 3"):
        read_dataset(path, (None, 3), "calibration")
    path.write_text("1,2,3\n4,5,6\n")
    data = read_dataset(path, (None, 3), "calibration")
    assert data.y is None and data.x.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_image_folder_classes_grey_and_resize(tmp_path: Path):
    from PIL import Image

    for label, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(3):
            pixels = np.full((16, 16, 3), 40 * label + i, dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    data = read_dataset(tmp_path, SHAPE, "calibration")
    assert data.x.shape == (6, 8, 8, 1) and data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.class_names == ("cat", "dog")
    assert "resized 16x16 to 8x8 (bilinear)" in data.notes
    assert int(data.x[4].min()) == 41


def test_image_folder_with_a_broken_image(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match=r"x\.png cannot be read"):
        read_dataset(tmp_path, SHAPE, "calibration")


def _huge_header(handle):
    np.lib.format.write_array_header_1_0(
        handle, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 2)}
    )


def test_an_npy_header_claiming_terabytes_is_refused_before_numpy_allocates(tmp_path):
    with (tmp_path / "big.npy").open("wb") as handle:
        _huge_header(handle)
    with pytest.raises(InputError, match=r"claims shape \(1099511627776, 2\) of float32 \(8,192.0 GiB\)"):
        read_dataset(tmp_path / "big.npy", (None, 2), "calibration")
    buffer = io.BytesIO()
    _huge_header(buffer)
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as bundle:
        bundle.writestr("x.npy", buffer.getvalue())
    with pytest.raises(InputError, match=r"big.npz:x.npy claims shape"):
        read_dataset(tmp_path / "big.npz", (None, 2), "calibration")


def test_an_npz_member_that_is_not_an_npy_array_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as bundle:
        bundle.writestr("notes.txt", "hello")
    with pytest.raises(InputError, match=r"holds 'notes.txt', which is not a .npy array"):
        read_dataset(tmp_path / "odd.npz", (None, 2), "calibration")


def test_a_decompression_bomb_image_is_refused_by_its_header(tmp_path):
    from PIL import Image

    folder = tmp_path / "images" / "cat"
    folder.mkdir(parents=True)
    Image.new("L", (5000, 5000)).save(folder / "bomb.png")  # 25 M pixels, a few KB compressed
    with pytest.raises(InputError, match=r"bomb.png is 5000x5000 pixels: edgeq reads images of at most"):
        read_dataset(tmp_path / "images", (None, 8, 8, 1), "calibration")


def test_a_csv_header_wider_than_its_rows_is_one_line(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c,label\n1,2\n3,4\n")
    with pytest.raises(InputError, match="has a header of 4 columns but its first row has 2"):
        read_dataset(tmp_path / "d.csv", (None, 2), "calibration")


@pytest.mark.parametrize("labels", [np.array([1e20, 0.0]), np.array([1 + 2j, 0j])])
def test_huge_or_complex_labels_are_refused_without_numpy_warnings(labels, recwarn):
    dataset = Dataset(x=np.zeros((2, 2), np.float32), y=labels, source="d.npz", format="npz")
    with pytest.raises(InputError, match="labels"):
        prepare_dataset(dataset, (None, 2), "float32", Preprocessing(), "evaluation")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_the_nan_error_names_the_sample_of_the_file_not_of_the_drawn_subset():
    x = np.zeros((50, 2), np.float32)
    x[37, 1] = np.nan
    dataset = Dataset(x=x, y=None, source="d.npy", format="npy")
    with pytest.raises(InputError, match="first in sample 37 of the file"):
        prepare_dataset(dataset, (None, 2), "float32", Preprocessing(), "calibration", samples=40, seed=3)


def test_check_samples_refuses_empty_string_and_nan_samples():
    for x, message in ((np.zeros((0, 2)), "no samples"), (np.array([["a"]]), "not real numbers"),
                       (np.array([[0.0], [np.inf]]), "first in sample 1")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            check_samples(x, "--sample s.npy")
