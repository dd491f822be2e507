"""Issue 18's rules on the real commands: edgeq never deletes what it did not write, one run per
folder at a time, and anything unexpected is one line and exit 70, never a traceback."""

from __future__ import annotations

import json

from edgeq.cli import run
from edgeq.outputs import MANIFEST, folder_lock


def _config(tmp_path, demo, output="out"):
    config = tmp_path / "edgeq.toml"
    config.write_text(
        f"[model]\npath = {json.dumps(str(demo / 'digits_cnn.keras'))}\n"
        f"[data]\ncalib = {json.dumps(str(demo / 'calib.npz'))}\nscale = 0.0625\ncalib_samples = 20\n"
        f'[convert]\nmodes = ["int8"]\n[output]\nfolder = {json.dumps(output)}\n'
    )
    return config


def _errors(text):
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_edgeq_run_never_deletes_a_file_it_did_not_write(demo_run, tmp_path, capsys):
    config = _config(tmp_path, demo_run[1])
    assert run(["run", str(config)]) == 0
    out = tmp_path / "out"
    mine = out / "convert" / "important.txt"
    mine.write_text("the user's notes")
    capsys.readouterr()
    for argv in (["run", str(config)], ["run", str(config), "--force"]):
        assert run(argv) == 2
        said = capsys.readouterr()
        assert _errors(said.err) == [
            f"error: output {out / 'convert'} holds 1 file(s) edgeq did not write there or that changed since "
            "(important.txt): --force replaces only edgeq's own files; move them away or choose another -o"
        ]
        assert "Traceback" not in said.err + said.out
        assert mine.read_text() == "the user's notes"
    mine.unlink()
    (out / "report.md").unlink()
    (out / "report.md").write_text("my own report")  # a top-level file edgeq writes, now the user's
    assert run(["run", str(config)]) == 2
    assert "report.md exists and edgeq did not write it" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "my own report"
    (out / "report.md").unlink()
    assert run(["run", str(config)]) == 0  # only edgeq's own files left: it goes on


def test_a_run_into_a_users_folder_keeps_their_files_and_a_failed_run_leaves_no_folder(demo_run, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("keep me")
    config = _config(tmp_path, demo_run[1], output=str(project))
    assert run(["run", str(config)]) == 0
    assert (project / "notes.txt").read_text() == "keep me"
    assert "notes.txt" not in json.loads((project / MANIFEST).read_text())["files"]
    # a run that fails before writing anything does not leave the folder it would have created
    broken = _config(tmp_path, demo_run[1], output="fresh")
    broken.write_text(broken.read_text().replace("digits_cnn.keras", "missing.keras"))
    assert run(["run", str(broken)]) == 2
    assert not (tmp_path / "fresh").exists()


def test_a_second_edgeq_run_on_the_same_folder_is_refused_while_the_first_holds_it(
    demo_run, tmp_path, capsys
):
    config = _config(tmp_path, demo_run[1])
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, "another edgeq run"):  # what a first `edgeq run` holds while it works
        assert run(["run", str(config)]) == 2
        assert _errors(capsys.readouterr().err) == [
            f"error: another edgeq run is already writing {out}: wait for it to finish, or choose another folder"
        ]
        assert list(out.iterdir()) == []  # it wrote nothing (that a run goes on after: the next test)


def test_an_unexpected_exception_is_one_line_and_exit_70(monkeypatch, tmp_path, capsys):
    import edgeq.inspection

    def broken(_model):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(edgeq.inspection, "inspect", broken)
    (tmp_path / "m.tflite").write_bytes(b"x")
    assert run(["inspect", str(tmp_path / "m.tflite")]) == 70
    said = capsys.readouterr()
    assert said.err.splitlines() == [
        "error: internal error in edgeq (ZeroDivisionError: division by zero); this is a bug: "
        "rerun with edgeq --debug ... for the traceback and report it"
    ]
    assert run(["--debug", "inspect", str(tmp_path / "m.tflite")]) == 70
    assert "Traceback" in capsys.readouterr().err  # --debug shows it


def test_two_edgeq_runs_at_once_on_one_folder_the_second_is_refused_and_nothing_interleaves(
    demo_run, tmp_path
):
    import subprocess
    import sys
    import time

    config = _config(tmp_path, demo_run[1])
    first = subprocess.Popen([sys.executable, "-m", "edgeq", "run", str(config)], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out" / MANIFEST).exists():  # the first run holds the lock from here on
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended early"
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-m", "edgeq", "run", str(config)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert _errors(second.stderr) == [
            f"error: another edgeq run is already writing {tmp_path / 'out'}: wait for it to finish, "
            "or choose another folder"
        ]
    finally:
        _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert [s["status"] for s in record["stages"]] == ["ran", "ran", "ran"]  # the first run's alone
