"""``edgeq bench --on adb``: the adb runner against a FAKE adb, because no Android phone is attached
to the machines these tests run on. The fake (a small Python script first on PATH) logs every
command line edgeq gives it, keeps the phone's /data/local/tmp in a folder on this machine,
answers getprop with fixed values and, for benchmark_model, prints a recorded real output
(tests/adb_fixtures.py). One test at the end runs the real adb, which must say no phone is there."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgeq.bench import load_model
from edgeq.bench.adb import DOCS, bench_adb
from edgeq.errors import DeviceError, InputError, ToolchainError
from tests.adb_fixtures import (
    ANDROID_TF24_NNAPI_FAILURE,
    ANDROID_TF215,
    EM_AARCH64,
    EM_X86_64,
    elf_executable,
)
from tests.conftest import require_tool

FAKE_ADB = '''#!{python}
"""FAKE adb for edgeq's tests: no phone exists here. Logs its arguments; /data/local/tmp is a folder."""
import json, os, shlex, shutil, sys, time
from pathlib import Path

state = Path(os.environ["FAKE_ADB_STATE"])
config = json.loads((state / "config.json").read_text())
args = sys.argv[1:]
with open(state / "log.jsonl", "a") as log:
    log.write(json.dumps(args) + "\\n")


def on_phone(path):
    if not path.startswith("/data/local/tmp/"):
        sys.exit(f"FAKE adb: edgeq touched {{path}}, outside /data/local/tmp")
    return state / "phone" / path.lstrip("/")


def command(words):
    name, rest = words[0], words[1:]
    if name == "getprop":
        print(config["props"].get(rest[0], ""))
    elif name == "echo":
        print(" ".join(rest))
    elif name == "mkdir":
        try:
            on_phone(rest[0]).mkdir()
        except FileExistsError:
            print(f"mkdir: '{{rest[0]}}': File exists", file=sys.stderr)
            return 1
    elif name == "chmod":
        os.chmod(on_phone(rest[1]), int(rest[0], 8))
    elif name == "rm" and rest[0] == "-rf":
        shutil.rmtree(on_phone(rest[1]), ignore_errors=True)
    elif name == "pkill":
        return 1
    elif name.endswith("/benchmark_model"):
        binary = on_phone(name)
        if not os.access(binary, os.X_OK):
            print(f"/system/bin/sh: {{name}}: can't execute: Permission denied", file=sys.stderr)
            return 126
        graph = next(word.split("=", 1)[1] for word in rest if word.startswith("--graph="))
        if not on_phone(graph).is_file():
            print(f"ERROR: Could not open '{{graph}}'.")
            return 1
        time.sleep(config["sleep_s"])
        sys.stdout.write(config["output"])
        return config["exit_status"]
    else:
        print(f"/system/bin/sh: {{name}}: inaccessible or not found", file=sys.stderr)
        return 127
    return 0


def shell(line):
    """Runs ``a && b; c`` chains of the commands above, with $? after ';'."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&")
    lexer.whitespace_split = True
    status, words, joiner = 0, [], ";"
    for token in [*lexer, ";"]:
        if token in (";", "&&"):
            if words and (joiner == ";" or status == 0):
                status = command([word.replace("$?", str(status)) for word in words])
            words, joiner = [], token
        else:
            words.append(token)
    return status


serial = None
if args[:1] == ["-s"]:
    serial, args = args[1], args[2:]
if args == ["version"]:
    print("Android Debug Bridge version 1.0.41 (FAKE)")
    sys.exit(0)
if args == ["devices"]:
    print("List of devices attached")
    for name, device_state in config["devices"]:
        print(f"{{name}}\\t{{device_state}}")
    print()
    sys.exit(0)
ready = [name for name, device_state in config["devices"] if device_state == "device"]
if serial is None and len(ready) != 1:
    sys.exit("error: no devices/emulators found" if not ready else "error: more than one device/emulator")
if serial is not None and serial not in ready:
    sys.exit(f"error: device '{{serial}}' not found")
if args[0] == "push":
    local, remote = args[1:]
    if not on_phone(remote).parent.is_dir():
        sys.exit(f"adb: error: failed to copy '{{local}}' to '{{remote}}': remote No such file or directory")
    shutil.copyfile(local, on_phone(remote))
    print(f"{{local}}: 1 file pushed, 0 skipped.")
    sys.exit(0)
if args[0] == "shell":
    sys.stdout.flush()
    sys.exit(shell(" ".join(args[1:])))
sys.exit(f"FAKE adb: unexpected command line {{args}}")
'''

PROPS = {
    "ro.product.manufacturer": "Google",
    "ro.product.model": "Pixel 7",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.soc.model": "GS201",
    "ro.board.platform": "gs201",
}


class FakePhone:
    """The FAKE adb's state: its configuration, the command lines it received, the phone's files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tmp = folder / "phone" / "data" / "local" / "tmp"
        self.tmp.mkdir(parents=True)
        self.configure(devices=[["FAKE0001", "device"]], output=ANDROID_TF215, exit_status=0, sleep_s=0)

    def configure(self, **changes) -> None:
        path = self.folder / "config.json"
        config = json.loads(path.read_text()) if path.exists() else {"props": PROPS}
        path.write_text(json.dumps({**config, **changes}))

    @property
    def log(self) -> list[list[str]]:
        path = self.folder / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def shell(self) -> list[str]:
        """The shell commands edgeq ran on the phone, without the ``-s SERIAL`` before them."""
        return [args[-1] for args in self.log if "shell" in args]


@pytest.fixture()
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhone:
    """A FAKE adb first on PATH, with one FAKE phone attached."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_STATE", str(tmp_path / "fake"))
    monkeypatch.delenv("EDGEQ_BENCHMARK_MODEL", raising=False)
    (tmp_path / "fake").mkdir()
    return FakePhone(tmp_path / "fake")


@pytest.fixture()
def binary(tmp_path: Path) -> Path:
    """Stands in for android_aarch64_benchmark_model: only an aarch64 Android ELF header, since the
    FAKE phone never executes it."""
    path = tmp_path / "android_aarch64_benchmark_model"
    path.write_bytes(elf_executable(EM_AARCH64, interpreter="/system/bin/linker64"))
    return path


@pytest.fixture()
def models(tiny_int8: Path, tiny_int16x8: Path):
    return [load_model(tiny_int8)[0], load_model(tiny_int16x8)[0]]


def _folder(phone: FakePhone) -> str:
    (mkdir,) = [command for command in phone.shell() if command.startswith("mkdir ")]
    return mkdir.split()[1]


def test_fake_phone_gets_binary_and_models_runs_benchmark_model_and_loses_the_folder(phone, binary, models):
    said: list[str] = []
    results = bench_adb(models, binary, runs=50, warmup=5, threads=2, xnnpack=False, progress=said.append)
    folder = _folder(phone)
    assert folder.startswith("/data/local/tmp/edgeq-") and len(folder) > len("/data/local/tmp/edgeq-")
    log = phone.log
    assert log[:2] == [["devices"], ["-s", "FAKE0001", "shell", "; ".join(f"getprop {p}" for p in PROPS)]]
    assert all(args[:2] == ["-s", "FAKE0001"] for args in log[2:] if args != ["version"])
    pushes = [args[3:] for args in log if args[2:3] == ["push"]]
    assert [remote for _, remote in pushes] == [
        f"{folder}/benchmark_model", f"{folder}/model0.tflite", f"{folder}/model1.tflite",
    ]  # fmt: skip
    assert pushes[0][0] == str(binary)
    flags = (
        "--num_runs=50 --warmup_runs=5 --min_secs=0 --warmup_min_secs=0 --num_threads=2 --use_xnnpack=false"
    )
    assert phone.shell() == [
        "; ".join(f"getprop {p}" for p in PROPS),
        f"mkdir {folder} && echo EDGEQ_OK",
        f"chmod 755 {folder}/benchmark_model && echo EDGEQ_OK",
        f"{folder}/benchmark_model --graph={folder}/model0.tflite {flags}; echo EDGEQ_EXIT=$?",
        f"{folder}/benchmark_model --graph={folder}/model1.tflite {flags}; echo EDGEQ_EXIT=$?",
        f"rm -rf {folder}",
    ]
    assert log[-1] == ["-s", "FAKE0001", "shell", f"rm -rf {folder}"]  # cleanup is the last thing done
    assert list(phone.tmp.iterdir()) == []  # nothing left on the phone
    assert [Path(r.model).name for r in results] == ["tiny_int8.tflite", "tiny_int16x8.tflite"]
    result = results[0]
    assert result.ok and result.target == "adb" and result.sha256 == models[0].sha256
    assert result.platform == {
        "device": "Google Pixel 7", "serial": "FAKE0001", "abi": "arm64-v8a", "android": "14", "sdk": "34",
        "soc": "GS201",
    }  # fmt: skip
    assert result.runtime == "TFLite benchmark_model (TensorFlow 2.15.0), no XNNPACK, 2 threads"
    assert result.toolchain["adb"] == "Android Debug Bridge version 1.0.41 (FAKE)"
    assert len(result.toolchain["benchmark_model_sha256"]) == 64
    figures = {f.name: (f.value, f.unit, f.kind) for f in result.figures}
    assert figures == {
        "latency_avg_ms": (1.8857, "ms", "measured"),
        "latency_min_ms": (1.171, "ms", "measured"),
        "latency_max_ms": (9.925, "ms", "measured"),
        "latency_std_ms": (0.87, "ms", "measured"),
        "load_ms": (66.002, "ms", "measured"),
        "first_invoke_ms": (637.079, "ms", "measured"),
        "memory_kb": (8020.0, "KiB", "measured"),
        "memory_init_kb": (7580.0, "KiB", "measured"),
    }
    # the recorded output ran 520 times: the figures say what ran, the details what was asked
    assert "over 520 runs after 1 warm-up run" in result.figure("latency_avg_ms").how
    assert (result.details["runs"], result.details["requested_runs"]) == (520, 50)
    assert result.details["delegation"] == ["31 of 31 nodes to TfLiteNnapiDelegate"]
    assert any("Google Pixel 7 (arm64-v8a, Android 14)" in line for line in said)


def test_no_phone_attached_is_one_line_and_nothing_is_pushed(phone, binary, models):
    phone.configure(devices=[])
    with pytest.raises(DeviceError) as error:
        bench_adb(models, binary)
    assert str(error.value) == (
        "no Android device is attached: connect the phone by USB with USB debugging on "
        "(Settings > Developer options), then check that `adb devices` lists it"
    )
    assert error.value.exit_code == 4
    assert phone.log == [["devices"]]


def test_two_phones_need_a_serial_and_the_serial_is_used_throughout(phone, binary, models):
    phone.configure(devices=[["FAKE0001", "device"], ["FAKE0002", "device"]])
    with pytest.raises(
        DeviceError,
        match=r"^2 Android devices are attached \(FAKE0001, FAKE0002\): choose one with --on adb:SERIAL$",
    ):
        bench_adb(models, binary)
    (result, _) = bench_adb(models, binary, serial="FAKE0002")
    assert result.ok and result.target == "adb:FAKE0002" and result.platform["serial"] == "FAKE0002"
    after = phone.log[phone.log.index(["devices"], 1) + 1 :]
    assert all(args[:2] == ["-s", "FAKE0002"] for args in after if args != ["version"])
    phone.configure(devices=[["FAKE0003", "unauthorized"]])
    with pytest.raises(DeviceError, match="FAKE0003 has not authorized this computer: unlock it"):
        bench_adb(models, binary)


def test_a_failing_benchmark_model_is_that_models_error_and_the_folder_still_goes(phone, binary, models):
    phone.configure(output=ANDROID_TF24_NNAPI_FAILURE, exit_status=1)
    results = bench_adb(models[:1], binary)
    folder = _folder(phone)
    (result,) = results
    assert not result.ok and result.figures == ()
    assert result.error == (
        "benchmark_model failed on Google Pixel 7 (exit status 1): NN API returned error "
        "ANEURALNETWORKS_OP_FAILED at line 3779 while completing NNAPI compilation."
    )
    assert result.details["exit_code"] == 1 and result.details["output_tail"][-1] == "Benchmarking failed."
    assert phone.shell()[-1] == f"rm -rf {folder}" and list(phone.tmp.iterdir()) == []


def test_a_benchmark_that_hangs_times_out_and_the_folder_still_goes(phone, binary, models):
    phone.configure(sleep_s=30)
    with pytest.raises(DeviceError, match=r"^benchmark_model on tiny_int8.tflite did not finish within 1 s"):
        bench_adb(models[:1], binary, timeout=1)
    folder = _folder(phone)
    assert phone.shell()[-2:] == [f"pkill -f {folder}/benchmark_model", f"rm -rf {folder}"]
    assert list(phone.tmp.iterdir()) == []


def test_a_binary_for_another_processor_is_refused_before_anything_is_pushed(phone, tmp_path, models):
    desktop = tmp_path / "linux_x86-64_benchmark_model"
    desktop.write_bytes(elf_executable(EM_X86_64, interpreter="/lib64/ld-linux-x86-64.so.2"))
    with pytest.raises(
        InputError, match=r"is a x86-64 program but Google Pixel 7 \(arm64-v8a\) runs aarch64"
    ):
        bench_adb(models, desktop)
    assert not any("push" in args or "mkdir" in " ".join(args) for args in phone.log)


def test_benchmark_model_comes_from_the_environment_else_a_hint_where_to_get_it(
    phone, binary, models, monkeypatch
):
    monkeypatch.setenv("PATH", str(Path(os.environ["PATH"].split(os.pathsep)[0])))  # only the fake adb
    with pytest.raises(InputError) as missing:
        bench_adb(models, None)
    assert str(missing.value) == (
        "benchmarking on a phone needs TensorFlow Lite's benchmark_model: download the prebuilt "
        f"android_aarch64_benchmark_model from {DOCS} and give it with --benchmark-model PATH "
        "(or $EDGEQ_BENCHMARK_MODEL)"
    )
    assert phone.log == []
    monkeypatch.setenv("EDGEQ_BENCHMARK_MODEL", str(binary))
    assert all(result.ok for result in bench_adb(models[:1], None))
    assert next(args[3] for args in phone.log if "push" in args) == str(binary)


def test_missing_adb_names_the_package(tmp_path, binary, models, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolchainError) as missing:
        bench_adb(models, binary)
    assert str(missing.value) == (
        "adb is missing, needed to benchmark on an Android phone: install it with apt-get install adb"
    )


def test_real_adb_reports_a_phone_that_is_not_attached(binary, models, tmp_path, monkeypatch):
    """The real adb (its own server on a free port, its keys under tmp_path): asked for a phone that
    is not there, the one-line error from adb's real device list (a phone that is attached is
    never touched)."""
    adb = require_tool("adb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        with pytest.raises(
            DeviceError, match=r"^no Android device 'edgeq-no-such-phone' is attached \(adb devices lists: "
        ):
            bench_adb(models, binary, serial="edgeq-no-such-phone")
    finally:
        subprocess.run([adb, "kill-server"], capture_output=True, timeout=30, check=False)


def test_cli_bench_on_adb_puts_the_phone_in_the_same_table(phone, binary, tiny_int8, tmp_path, capsys):
    from edgeq.cli import run

    out = tmp_path / "bench.json"
    argv = ["bench", str(tiny_int8), "--on", "host,adb", "--benchmark-model", str(binary), "--runs", "5",
            "--json", str(out)]  # fmt: skip
    assert run(argv) == 0
    host, android = json.loads(out.read_text())["results"]
    assert host["target"] == "host" and android["target"] == "adb" and android["ok"]
    assert android["figures"]["latency_avg_ms"]["kind"] == "measured"
    printed = capsys.readouterr().out
    assert "adb" in printed and "1.886" in printed  # benchmark_model's average, in ms
    assert list(phone.tmp.iterdir()) == []
