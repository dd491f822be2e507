"""``edgeq run`` on the digits demo configuration: int8 and float16 models, the MCU bundle, host
and Cortex-M4 benchmarks and the report; a second run with nothing changed redoes nothing."""

from __future__ import annotations

import json

from edgeq.cli import run
from edgeq.outputs import MANIFEST
from tests.conftest import REPO, require_tool


def test_run_digits_demo_config_then_rerun_reuses_every_stage(demo_run, tmp_path, capsys):
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    demo = demo_run[1]
    text = (REPO / "edgeq.toml").read_text()
    for name in ("digits_cnn.keras", "calib.npz", "test.npz"):
        text = text.replace(f'"demo-out/{name}"', json.dumps(str(demo / name)))
    config = tmp_path / "edgeq.toml"
    config.write_text(text)
    out = tmp_path / "out"

    assert run(["run", str(config)]) == 0
    first = json.loads((out / "run.json").read_text())
    assert {s["name"]: s["status"] for s in first["stages"]} == {
        "convert": "ran", "inspect": "ran", "export": "ran", "bench": "ran", "report": "ran",
    }  # fmt: skip
    converted = json.loads((out / "convert" / "report.json").read_text())
    assert [m["key"] for m in converted["modes"]] == ["int8", "float16"]
    assert (out / "convert" / "digits_cnn_int8.tflite").is_file()
    assert (out / "convert" / "digits_cnn_float16.tflite").is_file()
    assert (out / "mcu" / "digits_cnn_int8_model_data.c").is_file()
    bench = json.loads((out / "bench.json").read_text())
    assert [(r["target"], r["ok"]) for r in bench["results"]] == [("host", True), ("cortex-m4", True)]
    assert (out / "inspect" / "digits_cnn_int8.json").is_file()
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert next(s for s in first["stages"] if s["name"] == "report")["outputs"] == [
        "report.html",
        "report.md",
    ]
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.suffix != ".html"}

    assert run(["run", str(config)]) == 0
    second = json.loads((out / "run.json").read_text())
    statuses = {s["name"]: s["status"] for s in second["stages"]}
    assert statuses == {"convert": "reused", "inspect": "reused", "export": "reused", "bench": "reused",
                        "report": "ran"}  # fmt: skip
    # run.json, report.md and the run folder's manifest (their sha256s) are rewritten by the report stage
    unchanged = [p for p in stamps if p.name not in ("run.json", "report.md") and p != out / MANIFEST]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in unchanged)  # nothing converted or built again
    assert "reused (inputs unchanged): convert, inspect, export, bench" in capsys.readouterr().out

    # a changed input is noticed: new evaluation data redoes convert and everything after it
    (tmp_path / "test.npz").write_bytes((demo / "test.npz").read_bytes())
    config.write_text(text.replace(json.dumps(str(demo / "test.npz")), json.dumps(str(tmp_path / "test.npz")))
                      .replace("runs = 100", "runs = 50"))  # fmt: skip
    assert run(["run", str(config)]) == 0
    third = {s["name"]: s["status"] for s in json.loads((out / "run.json").read_text())["stages"]}
    assert third["convert"] == "ran" and third["bench"] == "ran"


def test_a_failed_stage_leaves_run_json_true_to_what_is_on_disk(demo_run, tmp_path):
    """convert runs with new data, then bench fails: run.json must hold the new convert fingerprint,
    so that going back to the old data converts again instead of reusing the new files."""
    demo = demo_run[1]
    config = tmp_path / "edgeq.toml"
    body = (
        f"[model]\npath = {json.dumps(str(demo / 'digits_cnn.keras'))}\n"
        f"[data]\ncalib = {json.dumps(str(demo / 'calib.npz'))}\nscale = 0.0625\n"
        '[convert]\nmodes = ["int8"]\n[output]\nfolder = "out"\n'
    )
    config.write_text(body)
    assert run(["run", str(config)]) == 0
    before = json.loads((tmp_path / "out" / "run.json").read_text())["stages"][0]["inputs_sha256"]
    config.write_text(
        body.replace("scale = 0.0625", "scale = 0.125") + '[bench]\ntargets = ["serial:/dev/edgeq-none"]\n'
    )
    assert run(["run", str(config)]) == 4  # convert ran, then the board could not be opened
    recorded = json.loads((tmp_path / "out" / "run.json").read_text())["stages"]
    assert recorded[0]["name"] == "convert" and recorded[0]["status"] == "ran"
    assert recorded[0]["inputs_sha256"] != before
    config.write_text(body)
    assert run(["run", str(config)]) == 0
    statuses = {
        s["name"]: s["status"] for s in json.loads((tmp_path / "out" / "run.json").read_text())["stages"]
    }
    assert statuses["convert"] == "ran"  # not "reused": the files on disk were made with scale 0.125
