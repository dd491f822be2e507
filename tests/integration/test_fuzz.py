"""Seeded fuzzing of the whole command line (tests/fuzzing.py): hundreds of hostile inputs, each
run in-process in its own sandbox, none of which may crash edgeq, end it with an unexpected exit
code or a second error line, leave files behind or touch a file the user had.

The full run is ``.venv/bin/python tools/fuzz.py --cases 1000 --seed 0``; this test runs the first
300 cases of seed 0 with fewer slow ones (about 80 s on two cores), and reports every
failing case, with its command line, in one assertion message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import fuzzing
import pytest

CASES = 300  # the floor; tools/fuzz.py runs 1,000+
SEED = 0
SHARES = (0.01, 0.05)  # slow (real conversions, ~10 s), medium (TFLite Micro runs, ~2 s)


@pytest.fixture(scope="module")
def fuzz_setup(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("fuzz")
    with fuzzing.fuzz_environment(work):
        fixtures = fuzzing.build_fixtures(work / "fixtures")
        fuzzing.warm_up(fixtures, work)
        yield work, fixtures


def test_hostile_inputs_are_refused_cleanly(fuzz_setup):
    work, fixtures = fuzz_setup
    cases = fuzzing.generate_cases(CASES, SEED, fixtures, SHARES)
    assert len({case.command for case in cases}) >= 10  # every command is exercised
    outcomes = fuzzing.run_cases(cases, fixtures, work)
    print(fuzzing.summary_table(outcomes))
    failed = [outcome for outcome in outcomes if outcome.failed]
    assert not failed, (
        f"{len(failed)} of {len(outcomes)} fuzz cases failed (replay one with "
        f".venv/bin/python tools/fuzz.py --seed {SEED} --slow {SHARES[0]} --medium {SHARES[1]} --only N):\n\n"
        + fuzzing.failure_list(outcomes)
        + "\n\nby cause:\n"
        + fuzzing.causes_text(failed)
    )


def _fake_command(behaviour: str):
    """A stand-in for edgeq.cli.run that misbehaves in one way the harness must notice."""

    def run(argv: list[str]) -> int:
        if behaviour == "raises":
            raise ValueError("boom")
        if behaviour == "exit-1":
            print("error: something", file=sys.stderr)
            return 1
        if behaviour == "no-error-line":
            return 2
        if behaviour == "two-error-lines":
            print("error: one\nerror: two", file=sys.stderr)
            return 2
        if behaviour == "child-traceback":
            subprocess.run([sys.executable, "-c", "raise SystemExit('Traceback (most recent call last):')"])
            return 0
        if behaviour == "stray-file":
            Path("stray.txt").write_text("x")
            return 0
        if behaviour == "deletes":
            Path("important.txt").unlink()
            return 0
        if behaviour == "modifies":
            Path("important.txt").write_text("changed")
            return 0
        if behaviour == "temp-file":
            tempfile.mkstemp(prefix=".edgeq-left-")
            return 0
        if behaviour == "partial-output":
            Path("out").mkdir()
            print("error: failed half way", file=sys.stderr)
            return 2
        if behaviour == "kotlin":
            Path("out").mkdir()
            Path("out/A.kt").write_text("/* model nm /* open */\nclass A\n")
            return 0
        if behaviour == "mixed-json":
            print("· progress\n{}")
            return 0
        if behaviour == "control-name":
            Path("out").mkdir()
            Path("out/a\nb.h").write_text("")
            return 0
        return 0  # "accepts"

    return run


@pytest.mark.parametrize(
    ("behaviour", "category"),
    [
        ("raises", "traceback"),
        ("exit-1", "exit code"),
        ("no-error-line", "error lines"),
        ("two-error-lines", "error lines"),
        ("child-traceback", "traceback"),
        ("stray-file", "leftover"),
        ("deletes", "deleted"),
        ("modifies", "modified"),
        ("temp-file", "leftover"),
        ("partial-output", "output on failure"),
        ("kotlin", "bad output"),
        ("control-name", "bad output"),
        ("mixed-json", "bad output"),
        ("accepts", "accepted"),
    ],
)
def test_the_harness_catches_each_kind_of_failure(fuzz_setup, monkeypatch, behaviour, category):
    """The checks can fail: each misbehaviour of a fake command is reported under its category."""
    import edgeq.cli

    work, fixtures = fuzz_setup
    monkeypatch.setattr(edgeq.cli, "run", _fake_command(behaviour))
    case = fuzzing.Case(
        command="fake", argv=("fake",), files=(("important.txt", fuzzing.Data(b"mine")),), outputs=("out",),
        atomic=("out",), refuse="the fake input must be refused", checks=("kotlin", "json-stdout"), number=99_999,
    )  # fmt: skip
    cwd = os.getcwd()
    outcome = fuzzing.run_case(case, fixtures, work)
    assert category in [found for found, _ in outcome.problems], outcome.problems
    assert os.getcwd() == cwd
