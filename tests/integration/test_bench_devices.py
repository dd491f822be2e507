"""``edgeq bench`` on real devices, with what can really run here: a real OpenSSH server on
127.0.0.1 (throwaway host and user keys; the "board" is this machine), and an emulated Cortex-M4
board whose firmware prints the bundle's EDGEQ self-test line on its UART, which QEMU connects
to a pseudo-terminal (``-serial pty``). (The adb runner's tests are in test_bench_adb.py.)"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgeq.cli import run
from tests.conftest import REPO, require_tool
from tools import sshdemo

TINY = REPO / "tests" / "golden" / "tiny_int8.tflite"


def _sshd() -> str:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    return found or require_tool("sshd")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A real sshd on 127.0.0.1 with a throwaway host key, accepting one throwaway user key.
    Yields (ssh://user@127.0.0.1:port, client config trusting the host key, config that does not)."""
    sshd = _sshd()
    keygen = require_tool("ssh-keygen")
    require_tool("ssh")
    folder = tmp_path_factory.mktemp("sshd")
    port = _free_port()
    sshd_config = sshdemo.write_files(folder, port, keygen)
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(sshd_config)], stderr=subprocess.PIPE)
    if not sshdemo.wait_for_port(port, lambda: server.poll() is None):
        server.kill()
        pytest.fail(f"sshd did not start: {server.stderr.read().decode(errors='replace')[-300:]}")
    (folder / "empty_known_hosts").write_text("")
    configs = [sshdemo.client_config(folder, folder / known, f"config_{known}")
               for known in ("known_hosts", "empty_known_hosts")]  # fmt: skip
    yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}", configs[0], configs[1]
    server.terminate()
    server.wait(timeout=10)


def _leftovers() -> set[str]:
    return {p.name for p in Path("/tmp").glob("edgeq-??????")}


def test_bench_over_ssh_runs_litert_on_the_board_and_cleans_up(sshd, tmp_path, capsys):
    target, config, _ = sshd
    before = _leftovers()
    out = tmp_path / "bench.json"
    argv = ["bench", str(TINY), "--on", f"host,{target}", "--ssh-config", str(config),
            "--remote-python", sys.executable, "--runs", "20", "--warmup", "2", "--json", str(out)]  # fmt: skip
    assert run(argv) == 0
    printed = capsys.readouterr().out
    host, board = json.loads(out.read_text())["results"]
    assert host["target"] == "host" and board["target"] == target
    assert board["ok"] and board["error"] is None
    latency = board["figures"]["latency_p50_ms"]
    assert latency["kind"] == "measured" and latency["value"] > 0
    assert board["details"]["runs"] == 20 and board["platform"]["machine"] == os.uname().machine
    assert board["runtime"].startswith("LiteRT ") and board["model_sha256"] == host["model_sha256"]
    assert target in printed  # the same side-by-side table as every other target
    assert _leftovers() == before  # the runner's temporary folder was removed on the board


def test_unknown_host_key_is_refused_with_a_clear_message(sshd, capfd):
    target, _, untrusting = sshd
    argv = ["bench", str(TINY), "--on", target, "--ssh-config", str(untrusting),
            "--remote-python", sys.executable]  # fmt: skip
    assert run(argv) == 4
    (err,) = [line for line in capfd.readouterr().err.splitlines() if not line.startswith("·")]
    assert err.startswith(
        f"error: 1 of 1 benchmarks failed; first: tiny_int8.tflite on {target}: the host key of "
    )
    assert "does not trust host keys silently" in err and "known_hosts" in err


def test_board_without_litert_gets_the_pip_command(sshd, tmp_path, capfd):
    target, config, _ = sshd
    bare = tmp_path / "bare"  # a Python with neither numpy nor ai_edge_litert
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    argv = ["bench", str(TINY), "--on", target, "--ssh-config", str(config),
            "--remote-python", str(bare / "bin" / "python")]  # fmt: skip
    assert run(argv) == 4
    err = capfd.readouterr().err
    assert "python3 -m pip install ai-edge-litert numpy" in err


def test_board_without_the_named_python_is_told_what_to_install(sshd, capfd):
    target, config, _ = sshd
    argv = [
        "bench",
        str(TINY),
        "--on",
        target,
        "--ssh-config",
        str(config),
        "--remote-python",
        "/nonexistent/py",
    ]
    assert run(argv) == 4
    assert "has no '/nonexistent/py'" in capfd.readouterr().err


@pytest.fixture(scope="module")
def uart_board(tmp_path_factory: pytest.TempPathFactory):
    """An emulated Cortex-M4 (QEMU mps2-an386) running edgeq's engine for tiny_int8.tflite in a
    self-test that prints the bundle's EDGEQ line on UART0, connected to a pseudo-terminal."""
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    from edgeq.bench import load_model
    from edgeq.bench.boards import board
    from edgeq.bench.cortexm import build_firmware, reference_outputs
    from edgeq.engine.generate import generate_engine

    folder = tmp_path_factory.mktemp("uart")
    model, graph = load_model(TINY)
    source = generate_engine(graph, "model")
    expected = reference_outputs(model.tflite, source, model.sample, folder)["TensorFlow Lite Micro"]
    firmware = build_firmware(source, board("cortex-m4"), model.sample, folder / "fw",
                              selftest=("tiny_int8", expected))  # fmt: skip
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-display", "none", "-monitor",
         "none", "-nodefaults", "-nic", "none", "-serial", "pty", "-kernel", str(firmware.elf)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    said = qemu.stdout.readline()  # "char device redirected to /dev/pts/N (label serial0)"
    match = re.search(r"(/dev/pts/[0-9]+)", said)
    if match is None:
        qemu.kill()
        pytest.fail(f"QEMU did not open a pseudo-terminal: {said!r}")
    yield match[1]
    qemu.kill()
    qemu.wait(timeout=10)


def test_bench_over_serial_reads_and_checks_the_boards_selftest(uart_board, tmp_path, capsys):
    marker = tmp_path / "flashed"
    out = tmp_path / "bench.json"
    argv = ["bench", str(TINY), "--on", f"serial:{uart_board}", "--flash-cmd", f"touch {marker}",
            "--device-timeout", "30", "--json", str(out)]  # fmt: skip
    assert run(argv) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert marker.exists()  # the flash command ran before reading
    assert result["ok"] and result["output_check"]["passed"]
    assert result["details"]["line"].startswith("EDGEQ model=tiny_int8 result=ok us=")
    latency = result["figures"]["latency_ms"]
    assert latency["kind"] == "measured" and latency["value"] >= 0
    assert result["figures"]["arena_bytes"]["value"] > 0
    assert f"serial:{uart_board}" in capsys.readouterr().out


def test_serial_refuses_a_board_running_another_model(uart_board, tmp_path, capfd):
    other = tmp_path / "other_model.tflite"
    other.write_bytes(TINY.read_bytes())
    assert run(["bench", str(other), "--on", f"serial:{uart_board}", "--device-timeout", "30"]) == 4
    assert "runs model 'tiny_int8', not 'other_model'" in capfd.readouterr().err


def test_failing_flash_command_is_one_line_and_exit_4(uart_board, capfd):
    assert run(["bench", str(TINY), "--on", f"serial:{uart_board}", "--flash-cmd", "false"]) == 4
    (err,) = [line for line in capfd.readouterr().err.splitlines() if not line.startswith("·")]
    assert err.startswith(f"error: 1 of 1 benchmarks failed; first: tiny_int8.tflite on serial:{uart_board}: "
                          "--flash-cmd failed with exit status 1")  # fmt: skip


def test_missing_serial_port_is_a_device_error(capfd):
    assert run(["bench", str(TINY), "--on", "serial:/dev/edgeq-no-such-port"]) == 4
    assert "cannot open /dev/edgeq-no-such-port" in capfd.readouterr().err


def test_edgeq_run_benchmarks_on_an_ssh_board_configured_in_edgeq_toml(sshd, demo_run, tmp_path):
    target, config, _ = sshd
    demo = demo_run[1]
    (tmp_path / "edgeq.toml").write_text(
        f"[model]\npath = {json.dumps(str(demo / 'digits_cnn.keras'))}\n"
        f"[data]\ncalib = {json.dumps(str(demo / 'calib.npz'))}\nscale = 0.0625\n"
        '[convert]\nmodes = ["int8"]\n'
        f"[bench]\ntargets = [{json.dumps(target)}]\nruns = 5\nremote_python = {json.dumps(sys.executable)}\n"
        f"ssh_config = {json.dumps(str(config))}\n"
    )
    assert run(["run", str(tmp_path / "edgeq.toml")]) == 0
    (result,) = json.loads((tmp_path / "out" / "bench.json").read_text())["results"]
    assert result["target"] == target and result["ok"] and result["details"]["runs"] == 5
