"""Issue 17 items 13-17 end to end: ``edgeq run`` says the bench stage failed in part, a device
that cannot be reached is a failed row next to the host's, ``edgeq report`` reads an ``edgeq
convert`` folder, the Cortex-M fit check and the RAM column agree."""

from __future__ import annotations

import json
import socket

from edgeq.cli import run
from tests.conftest import REPO, require_tool

TINY = REPO / "tests" / "golden" / "tiny_int8.tflite"


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_ssh_board_is_a_failed_row_and_the_host_row_is_kept(tmp_path, capfd):
    require_tool("ssh")
    target = f"ssh://edgeq@127.0.0.1:{_closed_port()}"
    out = tmp_path / "bench.json"
    argv = ["bench", str(TINY), "--on", f"host,{target}", "--runs", "5", "--warmup", "1", "--json", str(out)]
    assert run(argv) == 4  # the DeviceError's exit code, as before, but now with the table
    rows = json.loads(out.read_text())["results"]
    assert [(r["target"], r["ok"]) for r in rows] == [("host", True), (target, False)]
    assert rows[1]["error"].startswith(f"cannot connect to {target}")
    assert rows[1]["details"] == {"exit_code": 4}
    printed = capfd.readouterr()
    assert "host" in printed.out and "failed" in printed.out
    first = f"error: 1 of 2 benchmarks failed; first: tiny_int8.tflite on {target}: cannot connect"
    assert first in printed.err


def test_edgeq_run_exits_non_zero_and_says_the_bench_stage_failed_in_part(demo_run, tmp_path, capfd):
    require_tool("ssh")
    demo = demo_run[1]
    target = f"ssh://edgeq@127.0.0.1:{_closed_port()}"
    config = tmp_path / "edgeq.toml"
    config.write_text(
        f"[model]\npath = {json.dumps(str(demo / 'digits_cnn.keras'))}\n"
        f"[data]\ncalib = {json.dumps(str(demo / 'calib.npz'))}\nscale = 0.0625\n"
        '[convert]\nmodes = ["int8"]\n[output]\nfolder = "out"\n'
        f'[bench]\ntargets = ["host", "{target}"]\nruns = 5\nwarmup = 1\n'
    )
    for attempt in ("ran", "reused"):  # a reused bench stage still says its rows failed
        assert run(["run", str(config)]) == 4
        printed = capfd.readouterr()
        assert "bench failed in part" in printed.err
        (error,) = [line for line in printed.err.splitlines() if line.startswith("error:")]
        assert error.startswith(
            f"error: the bench stage failed in part: 1 of 2 benchmarks failed; first: digits_cnn_int8.tflite "
            f"on {target}: cannot connect"
        )
        assert "failed in part" in printed.out  # the stage table's bench row
        stages = json.loads((tmp_path / "out" / "run.json").read_text())["stages"]
        assert {s["name"]: s["status"] for s in stages}["bench"] == attempt
        assert (tmp_path / "out" / "report.html").is_file()  # what succeeded is kept
        rows = json.loads((tmp_path / "out" / "bench.json").read_text())["results"]
        assert [(r["target"], r["ok"]) for r in rows] == [("host", True), (target, False)]


def test_edgeq_report_reads_a_folder_edgeq_convert_wrote(digits_model, digits_split, tmp_path, capfd):
    calib, test = digits_split
    folder = tmp_path / "converted"
    argv = ["convert", str(digits_model), "--mode", "int8", "--calib", str(calib), "--eval", str(test),
            "--scale", "0.0625", "-o", str(folder)]  # fmt: skip
    assert run(argv) == 0
    capfd.readouterr()
    assert run(["report", str(folder)]) == 0
    printed = capfd.readouterr().out
    assert f"wrote {folder / 'report.html'}" in printed
    assert "not in the report:" in printed and "run.json" in printed
    markdown = (folder / "report.md").read_text()
    assert "digits_cnn_int8.tflite" in markdown and "Written by edgeq convert" in markdown
    assert "Accuracy and size" in markdown


def test_a_float_model_on_the_emulated_rpi4_passes_within_the_stated_tolerance(tmp_path, capfd):
    require_tool("qemu-aarch64")
    import pytest

    import edgeq
    from edgeq.bench.aarch64 import rootfs_info
    from edgeq.zoo import ZOO

    if rootfs_info() is None:
        pytest.skip("the aarch64 root filesystem is not cached (edgeq bench --on rpi4 builds it once)")
    ZOO["kws"]().save(tmp_path / "kws.keras")
    path = tmp_path / "kws_float32.tflite"
    path.write_bytes(edgeq.convert(tmp_path / "kws.keras", mode="float32").mode("float32").tflite)
    out = tmp_path / "bench.json"
    assert run(["bench", str(path), "--on", "rpi4", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["results"]
    check = row["output_check"]
    # aarch64's fused multiply-adds move some float bytes (5 of 48 here): within the tolerance
    assert row["ok"] and check["passed"] and check["tolerance"] == {"rtol": 1e-4, "atol": 1e-6}
    assert 0 <= check["max_abs_difference"] < 1e-6 and check["bytes_compared"] == 48
    printed = capfd.readouterr().out
    assert "check: float outputs within |difference| <= 1e-06 + 0.0001 x |reference|" in printed


def test_the_cortex_m_fit_check_counts_what_the_ram_column_counts(tmp_path):
    """The digits-sized case of item 14 on the KWS DS-CNN: 11.8 KB in the RAM column (data,
    activations, measured stack peak) fits a 12 KB part, although the board's stack reservation
    (8 KB) alone would not; 11 KB does not fit and says what it needs, stack included."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "gcc"):
        require_tool(tool)
    import numpy as np

    import edgeq
    from edgeq.zoo import ZOO, calibration_data

    ZOO["kws"]().save(tmp_path / "kws.keras")
    np.savez(tmp_path / "c.npz", x=calibration_data("kws"))
    path = tmp_path / "kws_int8.tflite"
    path.write_bytes(
        edgeq.convert(tmp_path / "kws.keras", calib=tmp_path / "c.npz", mode="int8").mode("int8").tflite
    )
    report = edgeq.benchmark([path], "cortex-m4", ram="12KB")
    (row,) = report.results
    assert row.ok, row.error
    ram = row.figure("ram_bytes").value
    assert 8 * 1024 < ram <= 12 * 1024  # what the table shows is what had to fit
    assert row.memory["ram"]["stack_peak"] > 0
    (small,) = edgeq.benchmark([path], "cortex-m4", ram="11KB").results
    assert small.error.startswith(
        "the model does not fit: needs 11.4 KB RAM, cortex-m4 ("
    ) and small.details == {"exit_code": 2}
    assert "B of data, activations and benchmark harness, and at least 512 B of stack)" in small.error


def test_max_drop_progress_lines_each_say_something_new(tmp_path):
    import numpy as np

    import edgeq
    from edgeq.demo import DIGITS_SCALE
    from tests.conftest import DIGITS

    with np.load(DIGITS) as data:
        np.savez(tmp_path / "train.npz", x=data["x_train"], y=data["y_train"])
        np.savez(tmp_path / "test.npz", x=data["x_test"], y=data["y_test"])
    said: list[str] = []
    edgeq.convert(
        REPO / "datasets" / "hard_case_densenet.keras", calib=tmp_path / "train.npz", eval=tmp_path / "test.npz",
        mode="int8", scale=DIGITS_SCALE, max_drop=0.5, progress=said.append,
    )  # fmt: skip
    trials = [line for line in said if line.startswith("--max-drop: trial ")]
    assert len(trials) >= 4
    assert len(set(trials)) == len(trials)  # before: "trying 12 op(s) in float" four times
    assert trials[0].startswith("--max-drop: trial 1: ")
    assert any("'s without op " in line for line in trials)  # pruning names the op put back in int8
