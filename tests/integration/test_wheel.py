"""edgeq as a user installs it: the sdist and the wheel built without the network (``python -m
build --no-isolation``: the sdist, then the wheel from the sdist), holding every template, the
plugin source and the bundled data; the wheel installed with ``--no-deps`` into a fresh folder and
run from a folder outside the checkout (``export mcu``, ``bench --on cortex-m4``, ``demo``, ``run``
and ``report``), its dependencies taken from this environment."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from edgeq.version import __version__
from tests.conftest import GOLDEN, REPO, require_tool

# edgeq only from the wheel: the checkout's editable-install hook (a meta path finder that a .pth
# file adds) is dropped first, so a module or data file missing from the wheel fails here instead
# of being found in the checkout.
WHEEL_ONLY = (
    "import sys; sys.meta_path[:] = "
    "[f for f in sys.meta_path if not getattr(f, '__module__', '').startswith('__editable__')]; "
)
RUN_EDGEQ = "import runpy; runpy.run_module('edgeq', run_name='__main__', alter_sys=True)"  # python -m edgeq


def _files(root: Path) -> list[Path]:
    """The files under ``root`` a build takes, relative to it (no bytecode)."""
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built from the checkout as ``python -m build`` does, without the network."""
    if importlib.util.find_spec("build") is None:
        pytest.fail("the 'build' package is missing: pip install -e '.[dev]' (make setup) installs it")
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (sdist,) = out.glob("edgeq-*.tar.gz")
    (wheel,) = out.glob("edgeq-*-py3-none-any.whl")
    assert (sdist.name, wheel.name) == (
        f"edgeq-{__version__}.tar.gz",
        f"edgeq-{__version__}-py3-none-any.whl",
    )
    return sdist, wheel


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed with ``pip install --no-deps --target`` into a fresh folder."""
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
               "--disable-pip-version-check", "--target", str(target), str(dists[1])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return target


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A working folder outside the checkout, holding a copy of the small int8 model."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    (tmp_path / "tiny_int8.tflite").write_bytes((GOLDEN / "tiny_int8.tflite").read_bytes())
    return tmp_path


def _python(installed: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    """This environment's Python (its dependencies) with ``argv`` in ``cwd``, the wheel's edgeq first
    on the path; wide lines, so that printed paths are not wrapped."""
    environment = {**os.environ, "PYTHONPATH": str(installed), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )


def _edgeq(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m edgeq ARGS`` with edgeq only from the wheel."""
    return _python(installed, cwd, "-c", WHEEL_ONLY + RUN_EDGEQ, *args)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


def test_the_wheel_holds_every_module_template_the_plugin_source_and_the_data(dists):
    with zipfile.ZipFile(dists[1]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"edgeq-{__version__}.dist-info/METADATA").decode()
        entry_points = wheel.read(f"edgeq-{__version__}.dist-info/entry_points.txt").decode()
    expected = {f"edgeq/{p.as_posix()}" for p in _files(REPO / "edgeq")}
    templates = {f"edgeq/firmware_templates/{p.as_posix()}" for p in _files(REPO / "firmware_templates")}
    assert sum(name.endswith(".j2") for name in templates) >= 40
    assert "edgeq/bench/native/edgeq_count.c" in expected  # the QEMU plugin's source
    if (REPO / "edgeq" / "report" / "templates").is_dir():
        assert any(name.startswith("edgeq/report/templates/") for name in expected)
    datasets = {f"edgeq/datasets/{p.as_posix()}" for p in _files(REPO / "datasets") if p.suffix == ".py"}
    data = {"edgeq/datasets/MANIFEST.json", "edgeq/datasets/digits.npz"}
    missing = (expected | templates | datasets | data) - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert "edgeq/datasets/hard_case_densenet.keras" not in names  # only the tests use it
    assert f"edgeq-{__version__}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "edgeq = edgeq.cli:main" in entry_points


def test_the_sdist_holds_the_sources_templates_data_license_and_tests(dists):
    with tarfile.open(dists[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"LICENSE", "README.md", "pyproject.toml", "MANIFEST.in", "Makefile", "edgeq.toml"}
    for folder in ("edgeq", "firmware_templates", "datasets", "tests"):
        expected |= {f"{folder}/{p.as_posix()}" for p in _files(REPO / folder)}
    missing = expected - names
    assert not missing, f"not in the sdist: {sorted(missing)}"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_installed_wheel_runs_outside_the_checkout(installed, outside):
    modules = "edgeq", "edgeq.cli", "edgeq.bench", "edgeq.datasets", "edgeq.firmware_templates"
    probe = f"import importlib; print(*(importlib.import_module(m).__file__ for m in {modules}))"
    for path in _ok(_python(installed, outside, "-c", WHEEL_ONLY + probe)).split():
        assert Path(path).is_relative_to(installed), path
    assert __version__ in _ok(_python(installed, outside, str(installed / "bin" / "edgeq"), "--version"))

    exports = {
        "zephyr": ("CMakeLists.txt", "prj.conf", "src/main.cpp", "src/tiny_int8_model_data.c"),  # TFLM
        "c": ("tiny_int8.c", "tiny_int8.h", "edgeq_kernels.c", "edgeq_kernels.h", "report.json"),  # engine
    }
    for template, files in exports.items():
        _ok(_edgeq(installed, outside, "export", "mcu", "tiny_int8.tflite", "-t", template, "-o", template))
        for name in files:
            assert (outside / template / name).is_file(), f"{template}: {name}"


def test_the_installed_wheel_trains_the_demo_on_its_bundled_data_then_runs_and_reports(installed, outside):
    done = _edgeq(installed, outside, "demo", "--epochs", "1", "-o", "demo")
    _ok(done)
    assert f"training the digits CNN on {installed / 'edgeq' / 'datasets' / 'digits.npz'}" in done.stderr
    assert (outside / "demo" / "digits_cnn_int8.tflite").is_file()
    (outside / "edgeq.toml").write_text(
        '[model]\npath = "demo/digits_cnn.keras"\n\n'
        '[data]\ncalib = "demo/calib.npz"\neval = "demo/test.npz"\nscale = 0.0625\n\n'
        '[convert]\nmodes = ["int8"]\n\n[output]\nfolder = "out"\n'
    )
    _ok(_edgeq(installed, outside, "run", "edgeq.toml"))
    (outside / "out" / "report.html").unlink()
    printed = _ok(_edgeq(installed, outside, "report", "out"))
    assert "wrote out/report.html" in printed
    page = (outside / "out" / "report.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "digits_cnn_int8" in page
    assert (outside / "out" / "report.md").is_file()


def test_the_installed_wheel_benchmarks_on_an_emulated_cortex_m4(installed, outside):
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    _ok(_edgeq(installed, outside, "bench", "tiny_int8.tflite", "--on", "cortex-m4", "--json", "bench.json"))
    results = json.loads((outside / "bench.json").read_text())["results"]
    assert [(r["target"], r["ok"]) for r in results] == [("cortex-m4", True)]
