import os
import signal
from pathlib import Path

import pytest

from edgeq.errors import InputError
from edgeq.outputs import MANIFEST, atomic_output_dir, check_output_dir, write_file_atomic


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
    with atomic_output_dir(target) as staging:
        (staging / "old").write_text("old")
        (staging / "sub").mkdir()
        (staging / "sub" / "old.c").write_text("int x;")
    with pytest.raises(InputError, match="already exists: pass --force"), atomic_output_dir(target):
        pass
    with atomic_output_dir(target, force=True) as staging:
        (staging / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_force_refuses_a_folder_holding_files_edgeq_did_not_write_or_that_changed(tmp_path: Path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        (staging / "model.tflite").write_bytes(b"model")
        (staging / "main.cc").write_text("int main() {}")
    (target / "important.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds 1 file\(s\) edgeq did not write .*\(important.txt\)"):
        check_output_dir(target, force=True)
    (target / "important.txt").unlink()
    (target / "main.cc").write_text("int main() { return 1; }  // my edit")
    with pytest.raises(InputError, match=r"\(main.cc\)"), atomic_output_dir(target, force=True):
        pass
    assert (target / "main.cc").read_text().endswith("my edit")
    # a folder edgeq never wrote (no manifest) is refused too, an empty one is not
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.md").write_text("notes")
    with pytest.raises(InputError, match=r"notes\.md"):
        check_output_dir(tmp_path / "user", force=True)
    (tmp_path / "empty").mkdir()
    with atomic_output_dir(tmp_path / "empty", force=True) as staging:
        (staging / "a").write_text("1")
    assert (tmp_path / "empty" / "a").read_text() == "1"


def test_an_interruption_during_the_swap_puts_the_old_folder_back(tmp_path: Path, monkeypatch):
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        (staging / "old").write_text("old")
    real_replace = os.replace
    calls = []

    def interrupted(source, destination):
        calls.append(source)
        if len(calls) == 2:  # the old folder is set aside; the new one is not in place yet
            raise KeyboardInterrupt
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_output_dir(target, force=True) as staging:
        (staging / "new").write_text("new")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (target / "old").read_text() == "old" and not (target / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_final_rename_of_a_file_leaves_no_staging_file(tmp_path: Path, monkeypatch,
                                                                           signal_name):  # fmt: skip
    from edgeq.cli import Terminated, _terminate

    previous = signal.signal(signal.SIGTERM, _terminate)
    real_replace = os.replace

    def signalled(source, destination):
        os.kill(os.getpid(), getattr(signal, signal_name))  # delivered before the rename happens
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", signalled)
    try:
        with pytest.raises(KeyboardInterrupt if signal_name == "SIGINT" else Terminated):
            write_file_atomic(tmp_path / "report.json", '{"edgeq_version": "x"}')
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_write_file_atomic_replaces_only_files_edgeq_wrote(tmp_path: Path):
    mine = tmp_path / "bench.json"
    mine.write_text('{"results": []}')
    with pytest.raises(InputError, match="exists and edgeq did not write it"):
        write_file_atomic(mine, '{"edgeq_version": "1"}')
    assert mine.read_text() == '{"results": []}'
    write_file_atomic(tmp_path / "new.json", '{"edgeq_version": "1"}')
    write_file_atomic(tmp_path / "new.json", '{"edgeq_version": "2"}')  # its own file: replaced
    assert (tmp_path / "new.json").read_text() == '{"edgeq_version": "2"}'
    with pytest.raises(InputError, match="is a folder"):
        write_file_atomic(tmp_path, "{}")
    # in a folder with a manifest, a file it lists (unchanged) is edgeq's whatever its content
    with atomic_output_dir(tmp_path / "out") as staging:
        (staging / "notes.txt").write_text("edgeq's")
    write_file_atomic(tmp_path / "out" / "notes.txt", "again")
    write_file_atomic(tmp_path / "out" / "notes.txt", "and again")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "new.json", "out"]


def test_existing_file_is_not_replaced_even_with_force(tmp_path: Path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(InputError, match="is not a folder"), atomic_output_dir(tmp_path / "out", force=True):
        pass
