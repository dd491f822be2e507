"""``edgeq report`` on small hand-written run folders: what is missing is said, not fatal; a bad
folder is one line and exit 2; text from the JSON is escaped; the same folder gives the same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeq.cli import run
from edgeq.report.page import build_report


def _mode(key: str, size: int, top1: float, relative_l2: float, dtype: str) -> dict:
    tensor = {"name": "x", "shape": [1, 8, 8, 1], "dtype": dtype, "scale": 0.0039, "zero_point": -128}
    return {
        "key": key, "label": key, "scheme": key, "io": dtype, "file": f"m_{key}.tflite", "size_bytes": size,
        "conversion_seconds": 0.5, "ops": ["CONV_2D", "FULLY_CONNECTED"], "inputs": [tensor], "outputs": [tensor],
        "runs_in_litert": True, "problem": None, "size_ratio": round(size / 40000, 4),
        "top1_drop_points": round((0.975 - top1) * 100, 4),
        "evaluation": {"samples": 100, "top1": top1, "agreement": 0.99, "outputs": [
            {"output": 0, "relative_l2": relative_l2, "cosine": 0.9999, "max_abs_error": 0.05, "rmse": 0.002,
             "mae": 0.0005}]},
    }  # fmt: skip


def _convert_report(label: str = "int8") -> dict:
    int8 = _mode("int8", 11000, 0.97, 0.0068, "int8")
    int8["label"] = label
    data = {"source": "test.npz", "format": "npz", "samples": 100, "value_range": [0.0, 1.0], "notes": []}
    return {
        "schema_version": 1, "kind": "edgeq.convert", "edgeq_version": "0.1.0",
        "source": {"path": "m.keras", "format": "keras", "sha256": "ab" * 32, "parameters": 10000},
        "size_baseline": {"kind": "float32_weights", "size_bytes": 40000},
        "preprocessing": {"scale": 0.0625, "mean": None, "std": None, "order": "x * scale"},
        "calibration": data, "evaluation_data": data, "evaluation_kernels": "LiteRT BUILTIN_REF", "seed": 0,
        "reference": {"samples": 100, "top1": 0.975, "agreement": 1.0, "outputs": []},
        "modes": [int8, _mode("float16", 21000, 0.975, 0.0003, "float32")],
        "layer_errors": [
            {"rank": 1, "op_index": 1, "op": "FULLY_CONNECTED", "keras_layer": "logits", "normalized_rmse": 0.35,
             "rmse": 0.11, "max_abs_error": 0.19, "scale": 0.32},
            {"rank": 2, "op_index": 0, "op": "CONV_2D", "keras_layer": "conv1", "normalized_rmse": 0.22,
             "rmse": 0.002, "max_abs_error": 0.007, "scale": 0.006},
        ],
        "mixed_precision": None, "qat": None, "environment": {"python": "3.11.7", "numpy": "2.4.6"},
    }  # fmt: skip


RUN = {
    "schema_version": 1, "kind": "edgeq.run", "edgeq_version": "0.1.0",
    "config": {"model": {"path": "m.keras"}, "convert": {"modes": ["int8", "float16"]}},
    "stages": [{"name": "convert", "status": "ran", "seconds": 3.5, "inputs_sha256": "12" * 32},
               {"name": "inspect", "status": "reused", "seconds": 0.0, "inputs_sha256": "34" * 32}],
    "environment": {"python": "3.11.7", "numpy": "2.4.5"},
}  # fmt: skip


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A run folder with run.json and convert/report.json only: no inspect/, mcu/ or bench.json."""
    out = tmp_path / "out"
    (out / "convert").mkdir(parents=True)
    (out / "run.json").write_text(json.dumps(RUN))
    (out / "convert" / "report.json").write_text(json.dumps(_convert_report()))
    return out


def test_folder_without_bench_json_renders_and_says_not_benchmarked(folder, capsys):
    assert run(["report", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "report.html" in printed and "not in the report: bench.json, inspect/, mcu/" in printed
    page = (folder / "report.html").read_text()
    markdown = (folder / "report.md").read_text()
    for text in (page, markdown):
        assert "Not benchmarked" in text and "No firmware bundle" in text and "No operator table" in text
        assert "not benchmarked" in text  # the summary card and the header
    assert page.count('<img src="data:image/svg+xml;base64,') == 3  # accuracy, fidelity, layers
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "| int8 | m_int8.tflite | 10.7 | 0.275 | int8 | 97.00 | +0.50 |" in markdown
    assert "numpy" in markdown and "2.4.5" in markdown and "2.4.6" in markdown  # both versions shown


def test_every_figure_names_its_kind_and_estimates_say_so(folder):
    report = build_report(folder)
    assert report.footnotes and all(
        note.kind in ("measured", "counted", "estimated") for note in report.footnotes
    )
    assert all(note.how for note in report.footnotes)
    bench = {
        "schema_version": 1, "kind": "edgeq.bench", "environment": {},
        "results": [{"model": "convert/m_int8.tflite", "target": "cortex-m4", "ok": True, "runtime": "engine",
                     "figures": {"latency_ms": {"value": 41.0, "unit": "ms", "kind": "estimated",
                                                "how": "cycles at 120 MHz"}}}],
    }  # fmt: skip
    (folder / "bench.json").write_text(json.dumps(bench))
    report = build_report(folder)
    estimates = [note for note in report.footnotes if note.kind == "estimated"]
    assert [note.how for note in estimates] == ["estimate: cycles at 120 MHz"]
    assert report.cards[2].label == "Fastest target" and report.cards[2].value.text == "~41.0 ms"
    assert 'title="estimated: estimate: cycles at 120 MHz"' in report.to_html()


def test_text_from_the_json_is_escaped(folder):
    (folder / "convert" / "report.json").write_text(
        json.dumps(_convert_report('<script>alert("x")</script>'))
    )
    page = build_report(folder).to_html()
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;" in build_report(folder).to_markdown()


def test_same_folder_gives_the_same_bytes(folder):
    first = build_report(folder)
    second = build_report(folder)
    assert first.to_html() == second.to_html() and first.to_markdown() == second.to_markdown()


def test_unreadable_optional_file_is_left_out_of_the_written_report_and_fails_the_command(folder, capsys):
    (folder / "bench.json").write_text("{not json")
    assert run(["report", str(folder)]) == 2  # the page is written without it; the exit code says so
    said = capsys.readouterr()
    assert "could not read" in said.out
    assert [line for line in said.err.splitlines() if line.startswith("error:")] == [
        f"error: 1 file(s) of {folder} could not be read and are left out of the report (listed above): "
        "rerun the command that writes them"
    ]
    assert "bench.json: not valid JSON (line 1" in (folder / "report.html").read_text()


def test_a_firmware_report_whose_ops_are_not_a_list_is_named_not_a_crash(folder, capsys):
    """Found by tools/fuzz.py --seed 3 (case 978): ``"ops": -1e28`` ended in an internal error."""
    (folder / "mcu").mkdir()
    (folder / "mcu" / "report.json").write_text('{"template": "c", "ops": -10000000000000000000000000000}')
    assert run(["report", str(folder)]) == 2
    said = capsys.readouterr()
    assert "its ops are not a list; rerun edgeq run to rewrite it" in said.out + said.err
    assert "internal error" not in said.err and (folder / "report.html").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda out: out.rename(out.with_name("gone")), "no such folder; pass the output folder of edgeq run"),
        (lambda out: (out / "run.json").unlink(), "run.json: missing; not an edgeq run folder?"),
        (lambda out: (out / "convert" / "report.json").write_text("[1,"), "report.json: not valid JSON (line 1"),
        (lambda out: (out / "run.json").write_text('{"kind": "edgeq.bench", "schema_version": 1}'),
         "run.json: not an edgeq.run file (kind 'edgeq.bench')"),
        (lambda out: (out / "run.json").write_text('{"kind": "edgeq.run", "schema_version": 9}'),
         "schema_version 9; this edgeq reads up to 1: upgrade"),
    ],
)  # fmt: skip
def test_bad_folder_is_one_line_and_exit_2(folder, capsys, change, message):
    change(folder)
    assert run(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_help_imports_neither_matplotlib_nor_jinja():
    probe = (
        "import sys; from edgeq.cli import run; run(['--help']); run(['report', '--help']); "
        "print([m for m in ('matplotlib', 'jinja2', 'numpy') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "report" in done.stdout and done.stdout.rstrip().endswith("[]")
