from pathlib import Path

import pytest

from edgeq.errors import InputError
from edgeq.outputs import atomic_output_dir


def test_failure_leaves_nothing_behind(tmp_path: Path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output_dir(target) as staging:
        (staging / "half.tflite").write_bytes(b"x")
        raise RuntimeError("converter died")
    assert list(tmp_path.iterdir()) == []


def test_success_renames_into_place(tmp_path: Path):
    with atomic_output_dir(tmp_path / "out") as staging:
        (staging / "a").write_text("1")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out" / "a").read_text() == "1"


def test_existing_output_needs_force_and_force_replaces_whole(tmp_path: Path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_text("old")
    with pytest.raises(InputError, match="already exists: pass --force"), atomic_output_dir(target):
        pass
    with atomic_output_dir(target, force=True) as staging:
        (staging / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_existing_file_is_not_replaced_even_with_force(tmp_path: Path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(InputError, match="is not a folder"), atomic_output_dir(tmp_path / "out", force=True):
        pass
