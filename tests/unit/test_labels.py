"""Labels files are read one way for every export: split on \\n only, no control characters."""

from __future__ import annotations

import pytest

from edgeq.errors import InputError
from edgeq.labels import read_labels


def test_a_labels_file_splits_on_newline_only_and_drops_cr_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes(b"yes\r\nno\r\nunknown word\n\n\n")
    assert read_labels(path, 3) == ["yes", "no", "unknown word"]


@pytest.mark.parametrize("separator", ["\v", "\f", "\u2028", "\u2029", "\x00", "\x85"])
def test_line_separators_other_than_newline_are_refused_not_counted_as_labels(tmp_path, separator):
    path = tmp_path / "labels.txt"
    path.write_text(f"cat{separator}dog\nbird\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"--labels line 1 holds the control character U\+"):
        read_labels(path, 2)


@pytest.mark.parametrize(
    ("text", "classes", "message"),
    [
        ("a\n\nc\n", 3, "line 2 is blank"),
        ("a\nb\n", 3, "has 2 labels but the model's output has 3 classes"),
        ("x" * 300 + "\nb\n", 2, "line 1 is 300 characters long"),
    ],
)
def test_bad_labels_files_are_one_line_naming_the_line(tmp_path, text, classes, message):
    path = tmp_path / "labels.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_labels(path, classes)


def test_labels_that_are_not_utf8_or_missing_name_the_file(tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(InputError, match="is not UTF-8 text"):
        read_labels(tmp_path / "latin1.txt", 1)
    with pytest.raises(InputError, match="does not exist"):
        read_labels(tmp_path / "missing.txt", 1)
