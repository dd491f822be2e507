"""Shared CLI options are declared once; ``--debug`` is the root's and shows the traceback."""

from __future__ import annotations

import ast
from pathlib import Path

import edgeq.cli
from edgeq.cli import run

CLI = Path(edgeq.cli.__file__).parent
SHARED = ("--force", "--json", "--verbose", "--debug")
# edgeq run's --force redoes stages instead of replacing a folder: a different option under the same name.
OWN_MEANING = {("run.py", "--force")}


def _declared_flags(path: Path) -> set[str]:
    flags = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Option":
            flags.update(a.value for a in node.args if isinstance(a, ast.Constant) and a.value in SHARED)
    return flags


def test_shared_options_are_declared_only_in_options_and_the_root():
    declared = {
        (path.name, flag)
        for path in CLI.glob("*.py")
        if path.name not in ("options.py", "__init__.py")
        for flag in _declared_flags(path)
    }
    assert declared <= OWN_MEANING, declared - OWN_MEANING
    assert _declared_flags(CLI / "__init__.py") == {"--debug"}


def test_an_error_is_one_line_without_debug(tmp_path, capsys):
    code = run(["inspect", str(tmp_path / "missing.tflite")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"error: model {tmp_path / 'missing.tflite'} does not exist: check the path"]


def test_root_debug_shows_the_traceback_and_the_same_error(tmp_path, capsys):
    code = run(["--debug", "inspect", str(tmp_path / "missing.tflite")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: model ")


def test_debug_after_the_command_says_where_it_goes(tmp_path, capsys):
    code = run(["inspect", str(tmp_path / "m.tflite"), "--debug"])
    err = capsys.readouterr().err
    assert code == 2
    assert "put it before the command (edgeq --debug inspect ...)" in err
    assert len(err.splitlines()) == 1


def test_debug_does_not_stick_between_runs(tmp_path, capsys):
    run(["--debug", "inspect", str(tmp_path / "missing.tflite")])
    capsys.readouterr()
    run(["inspect", str(tmp_path / "missing.tflite")])
    assert "Traceback" not in capsys.readouterr().err
