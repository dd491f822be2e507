from pathlib import Path

import numpy as np
import pytest

from edgeq.data import Preprocessing, prepare_dataset, read_dataset
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
    with pytest.raises(InputError, match="1 NaN or infinite values \\(first in sample 2\\)"):
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
    with pytest.raises(InputError, match=r"not a readable \.npy"):
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
