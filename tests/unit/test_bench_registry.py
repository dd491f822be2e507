"""``edgeq bench``'s structure: BenchOptions validated once, the runner registry's dispatch, and a
failed run kept as its row while the other targets' rows stay (no toolchain needed: fake runners)."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

import edgeq
from edgeq import api
from edgeq.bench import BenchOptions, parse_targets, registry, run
from edgeq.bench.aarch64 import Aarch64Runner
from edgeq.bench.adb import ADB_RUNNER
from edgeq.bench.cortexm import CortexMRunner
from edgeq.bench.host import HostRunner
from edgeq.bench.results import BenchResult
from edgeq.bench.runs import attempt, load_model
from edgeq.bench.serial import SERIAL_RUNNER
from edgeq.bench.ssh import SSH_RUNNER
from edgeq.errors import BenchFailure, DeviceError, InputError, ToolchainError, UnsupportedError
from tests.conftest import REPO

TINY = REPO / "tests" / "golden" / "tiny_int8.tflite"


def test_options_parse_text_once_and_round_trip_through_a_dict(tmp_path: Path):
    options = BenchOptions(clock="48MHz", flash="1MB", ram="256KB", ssh_config=str(tmp_path / "cfg"))
    assert options.clock == 48e6 and options.flash == 1 << 20 and options.ram == 256 * 1024
    assert options.ssh_config == tmp_path / "cfg"
    data = options.to_dict()
    assert data["clock"] == 48e6 and data["ssh_config"] == str(tmp_path / "cfg")
    assert BenchOptions.from_dict(data) == options
    assert (
        BenchOptions().litert_resolver == "default"
        and BenchOptions(xnnpack=False).litert_resolver == "no_xnnpack"
    )
    with pytest.raises(FrozenInstanceError):
        options.runs = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"runs": 0}, "--runs must be a whole number of at least 1, got 0"),
        ({"runs": 2.5}, "--runs must be a whole number of at least 1, got 2.5"),
        ({"warmup": -1}, "--warmup must be a whole number of at least 0, got -1"),
        ({"threads": 0}, "--threads must be a whole number of at least 1, got 0"),
        ({"seed": -3}, "--seed must be a whole number of at least 0, got -3"),
        ({"device_timeout": 0}, "--device-timeout must be a number of seconds above 0, got 0"),
        ({"clock": "fast"}, "--clock takes a frequency like 120MHz or 48000000, got 'fast'"),
        ({"clock": 100}, "--clock 100 is outside 1 kHz to 10 GHz"),
        ({"flash": "lots"}, "--flash takes a size like 256KB or 1MB, got 'lots'"),
        ({"ram": 0}, "--ram must be at least 1 byte (e.g. 256KB), got 0"),
        ({"remote_python": " "}, "--remote-python must name the board's Python, got ' '"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line_naming_it_and_its_valid_values(settings, message):
    with pytest.raises(InputError) as error:
        BenchOptions(**settings)
    assert str(error.value) == message


def test_from_dict_names_a_key_that_is_not_an_option():
    with pytest.raises(InputError, match=r"unknown bench option 'run': choose from benchmark_model, clock"):
        BenchOptions.from_dict({"run": 3})


@pytest.mark.parametrize(
    ("target", "kind"),
    [("host", HostRunner), ("cortex-m4", CortexMRunner), ("lm3s6965", CortexMRunner), ("rpi5", Aarch64Runner),
     ("ssh://pi@raspberrypi.local:2222", SSH_RUNNER), ("adb", ADB_RUNNER), ("adb:emulator-5554", ADB_RUNNER),
     ("serial:/dev/ttyACM0@921600", SERIAL_RUNNER)],
)  # fmt: skip
def test_each_target_goes_to_its_runner(target, kind):
    runner = registry.runner_for(target)
    assert runner in registry.RUNNERS
    if isinstance(kind, type):
        assert isinstance(runner, kind)
    else:
        assert runner is kind


def test_an_unknown_target_lists_every_valid_one():
    with pytest.raises(InputError) as error:
        parse_targets("host,cortex-m1")
    assert str(error.value) == (
        "unknown target 'cortex-m1' in --on: choose from host, cortex-m0, cortex-m3, cortex-m4, cortex-m7, "
        "cortex-m33, cortex-m55, lm3s6965, rpi4, rpi5, ssh://user@host[:port], adb[:SERIAL], serial:PORT[@BAUD]"
    )
    with pytest.raises(InputError, match="--on needs at least one target: host, cortex-m0, cortex-m3"):
        parse_targets(" , ")


def test_a_malformed_device_target_gets_its_own_form():
    with pytest.raises(InputError, match=r"port 99999 is outside 1\.\.65535"):
        parse_targets("ssh://pi@board:99999")
    with pytest.raises(InputError, match="an Android phone is adb, or adb:SERIAL"):
        parse_targets("adb:bad serial")
    with pytest.raises(InputError, match="a serial target names its port"):
        parse_targets("serial:")


def test_dispatch_groups_targets_by_runner_in_registry_order():
    host, cortex_m = registry.RUNNERS[:2]
    assert registry.dispatch(["serial:/dev/ttyUSB0", "cortex-m7", "host", "cortex-m3"]) == [
        (host, ["host"]), (cortex_m, ["cortex-m7", "cortex-m3"]), (SERIAL_RUNNER, ["serial:/dev/ttyUSB0"]),
    ]  # fmt: skip


class FakeRunner:
    """Answers for targets named ``fake-*``; a model whose name holds ``bad`` fails there."""

    forms = ("fake-a", "fake-b")

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def accepts(self, target: str) -> bool:
        return target in self.forms

    def environment(self) -> dict[str, str]:
        return {"fake-tool": "1.0"}

    def run(self, models, targets, options, say):
        self.calls.append(list(targets))
        return {target: [attempt(model, target, lambda m=model, t=target: self._one(m, t, options))
                         for model in models] for target in targets}  # fmt: skip

    @staticmethod
    def _one(model, target, options) -> BenchResult:
        if "bad" in Path(model.path).name:
            raise UnsupportedError(f"the model does not fit on {target}")
        return BenchResult(model.path, model.sha256, target, {}, "fake", {}, details={"runs": options.runs})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(registry, "RUNNERS", (runner,))
    return runner


def test_the_driver_orders_rows_by_model_then_target_and_keeps_failed_runs(fake, tmp_path: Path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(TINY.read_bytes())
    report = run([TINY, bad], "fake-b,fake-a", BenchOptions(runs=7))
    assert fake.calls == [["fake-b", "fake-a"]]  # one call with all of the runner's targets
    assert [(Path(r.model).name, r.target) for r in report.results] == [
        ("tiny_int8.tflite", "fake-b"), ("tiny_int8.tflite", "fake-a"), ("bad.tflite", "fake-b"), ("bad.tflite", "fake-a"),
    ]  # fmt: skip
    good, failed = report.results[0], report.results[2]
    assert good.ok and good.details == {"runs": 7}
    assert failed.error == "the model does not fit on fake-b" and failed.details == {"exit_code": 2}
    assert report.environment["fake-tool"] == "1.0" and "python" in report.environment


def test_the_api_takes_options_and_settings_and_is_edgeq_benchmark(fake):
    assert edgeq.benchmark is api.bench
    report = api.bench([TINY], "fake-a", BenchOptions(runs=3, warmup=1), runs=9)
    assert report.results[0].details == {"runs": 9}
    with pytest.raises(InputError, match=r"give at least one \.tflite model"):
        api.bench([], "fake-a")
    with pytest.raises(TypeError, match="unexpected keyword argument 'run'"):
        api.bench([TINY], "fake-a", run=3)


def test_a_failure_keeps_its_reason_and_exit_code_and_a_missing_toolchain_is_not_one():
    model = load_model(TINY)[0]
    failure = BenchFailure("cortex-m4", "the firmware failed", exit_code=2)
    assert str(failure) == "the firmware failed" and failure.target == "cortex-m4" and failure.exit_code == 2
    assert pickle.loads(pickle.dumps(failure)).exit_code == 2  # crosses process boundaries intact

    def raising(exc):
        def run() -> BenchResult:
            raise exc

        return run

    row = attempt(model, "cortex-m4", raising(failure))
    assert row.error == "the firmware failed" and row.details == {"exit_code": 2} and not row.ok
    row = attempt(model, "rpi4", raising(DeviceError("gone")))
    assert row.target == "rpi4" and row.details == {"exit_code": 4}
    with pytest.raises(ToolchainError):
        attempt(model, "cortex-m4", raising(ToolchainError("qemu-system-arm is missing")))
