"""``edgeq --help`` must be fast and must not import TensorFlow."""

import subprocess
import sys
import time
from importlib import metadata

import edgeq

PROBE = (
    "import sys; from edgeq.cli import run; code = run(['--help']); "
    "heavy = [m for m in ('tensorflow', 'keras', 'ai_edge_litert', 'numpy') if m in sys.modules]; "
    "print('HEAVY=' + ','.join(heavy)); sys.exit(code)"
)


def test_help_imports_no_tensorflow():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert "Commands:" in done.stdout and "convert" in done.stdout
    assert "HEAVY=\n" in done.stdout or done.stdout.rstrip().endswith("HEAVY=")


def test_help_takes_under_a_second():
    best = min(_timed([sys.executable, "-m", "edgeq", "--help"]) for _ in range(3))
    assert best < 1.0, f"edgeq --help took {best:.2f} s"


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - started


def test_public_api_names_are_the_function_and_results():
    assert callable(edgeq.convert) and callable(edgeq.inspect) and callable(edgeq.export_mcu)
    assert edgeq.InspectResult.__dataclass_params__.frozen and edgeq.ExportResult.__dataclass_params__.frozen
    assert edgeq.ConvertResult.__dataclass_params__.frozen
    assert edgeq.__version__ == metadata.version("edgeq")
