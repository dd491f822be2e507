"""Pure parts of the adb runner: benchmark_model's output (real outputs of four TensorFlow Lite
versions, tests/adb_fixtures.py), the ELF check of the binary, ``adb devices`` and ``--on adb:SERIAL``."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeq.bench.adb import (
    Phone,
    benchmark_figures,
    check_binary,
    choose_device,
    parse_adb_target,
    parse_benchmark_output,
    parse_devices,
    read_elf_header,
)
from edgeq.errors import DeviceError, EdgeqError, InputError
from tests.adb_fixtures import (
    ANDROID_TF24,
    ANDROID_TF24_NNAPI_FAILURE,
    ANDROID_TF215,
    EM_AARCH64,
    EM_ARM,
    EM_X86_64,
    LINUX_TF218,
    PLAIN_PROFILED,
    elf_executable,
)

PIXEL = Phone(
    serial="R58M123ABC", manufacturer="Google", model="Pixel 7", abi="arm64-v8a",
    abilist=("arm64-v8a", "armeabi-v7a", "armeabi"), android="14", sdk="34", soc="GS201",
)  # fmt: skip


def test_tensorflow_2_4_plain_lines_with_peak_memory():
    parsed = parse_benchmark_output(ANDROID_TF24)
    assert parsed.inference_avg_us == 95788.3 and parsed.init_us == 1779
    assert parsed.first_inference_us == 152949 and parsed.warmup_avg_us == 110690
    assert (parsed.runs, parsed.min_us, parsed.max_us, parsed.std_us) == (50, 93066, 99490, 1284)
    assert parsed.warmup_runs is None  # the published tail has only the timed runs' line
    assert parsed.median_us is None and parsed.version is None
    assert parsed.memory_line == "Peak memory footprint"
    assert (parsed.memory_init_mb, parsed.memory_overall_mb) == (5.15625, 36.9883)


def test_plain_lines_in_scientific_notation_and_the_profilers_own_count_lines():
    parsed = parse_benchmark_output(PLAIN_PROFILED)
    assert parsed.inference_avg_us == 2.95034e06 and parsed.warmup_avg_us == 3.51239e06
    # the timed runs' statistics, not the profiler's "Timings (microseconds): count=1 curr=1356"
    assert (parsed.runs, parsed.min_us, parsed.max_us, parsed.std_us) == (50, 2727568, 3189954, 109798)
    assert parsed.warmup_runs == 1 and parsed.first_inference_us == 3512391
    assert parsed.memory_line == "Memory footprint delta from the start of the tool"
    assert parsed.memory_overall_mb == 46.0859


def test_info_prefixed_lines_with_version_and_delegation():
    parsed = parse_benchmark_output(ANDROID_TF215)
    assert parsed.version == "2.15.0"
    assert parsed.delegation == ("31 of 31 nodes to TfLiteNnapiDelegate",)
    assert (parsed.runs, parsed.warmup_runs) == (520, 1)
    assert (parsed.min_us, parsed.max_us, parsed.std_us) == (1171, 9925, 870)
    assert parsed.inference_avg_us == 1885.74 and parsed.first_inference_us == 637079


def test_newest_format_gives_median_and_95th_percentile():
    parsed = parse_benchmark_output(LINUX_TF218)
    assert (parsed.median_us, parsed.p95_us) == (1239807, 1247415)
    assert (parsed.runs, parsed.warmup_runs, parsed.min_us) == (50, 1, 1238588)
    assert parsed.inference_avg_us == 1.24027e06 and parsed.memory_init_mb == 6.36328


def test_figures_are_measured_in_ms_and_kib_and_say_how():
    figures = {figure.name: figure for figure in benchmark_figures(parse_benchmark_output(LINUX_TF218))}
    assert list(figures) == [
        "latency_avg_ms", "latency_p50_ms", "latency_p95_ms", "latency_min_ms", "latency_max_ms",
        "latency_std_ms", "load_ms", "first_invoke_ms", "memory_kb", "memory_init_kb",
    ]  # fmt: skip
    assert {figure.kind for figure in figures.values()} == {"measured"}
    average = figures["latency_avg_ms"]
    assert (average.value, average.unit) == (1240.27, "ms")
    assert average.how == "benchmark_model's Inference (avg) over 50 runs after 1 warm-up run, on the phone"
    assert figures["latency_p50_ms"].value == 1239.807 and figures["latency_std_ms"].value == 2.565
    assert figures["load_ms"].value == 5.579 and figures["first_invoke_ms"].value == 1357.602
    assert (figures["memory_kb"].value, figures["memory_kb"].unit) == (round(109.832 * 1024, 1), "KiB")
    # without percentiles (2.4) there is no p50, and the spread still comes from the statistics line
    older = {figure.name for figure in benchmark_figures(parse_benchmark_output(ANDROID_TF24))}
    assert "latency_p50_ms" not in older and {"latency_min_ms", "latency_std_ms"} <= older


def test_every_run_alike_and_no_warmup():
    # Stat::OutputToStream (tensorflow/core/util/stats_calculator.h) prints "count=N curr=T(all same)"
    # when every run took T, and "count=0" for a phase with no runs: the 2.15 output, so edited
    text = ANDROID_TF215.replace("INFO: count=1 curr=637079", "INFO: count=0").replace(
        "count=520 first=2531 curr=2793 min=1171 max=9925 avg=1885.74 std=870",
        "count=520 curr=1886(all same)",
    )
    parsed = parse_benchmark_output(text.replace("Warmup (avg): 637079", "Warmup (avg): nan"))
    assert (parsed.min_us, parsed.max_us, parsed.std_us) == (1886, 1886, 0)
    assert parsed.warmup_runs == 0 and parsed.first_inference_us is None
    assert "first_invoke_ms" not in {figure.name for figure in benchmark_figures(parsed)}


def test_failed_or_malformed_output_is_one_clear_line():
    with pytest.raises(
        EdgeqError, match=r"printed no 'Inference timings in us' line; its last line: 'Benchmarking failed.'"
    ):
        parse_benchmark_output(ANDROID_TF24_NNAPI_FAILURE)
    cut = ANDROID_TF24.replace("Inference (avg): 95788.3", "Infer")  # output cut off mid-line
    with pytest.raises(EdgeqError, match="timings line is malformed") as malformed:
        parse_benchmark_output(cut)
    assert "\n" not in str(malformed.value)
    with pytest.raises(EdgeqError, match="impossible values"):
        parse_benchmark_output(ANDROID_TF24.replace("Inference (avg): 95788.3", "Inference (avg): -nan"))
    with pytest.raises(EdgeqError, match="its last line: 'no output'"):
        parse_benchmark_output("")


def test_elf_headers_read_like_readelf():
    assert read_elf_header(elf_executable(EM_AARCH64)).machine_name == "aarch64"
    arm = read_elf_header(elf_executable(EM_ARM, bits=32, interpreter="/system/bin/linker"))
    assert (arm.machine, arm.bits, arm.interpreter) == (EM_ARM, 32, "/system/bin/linker")
    assert read_elf_header(b"#!/bin/sh\necho benchmark_model\n" * 4) is None
    assert read_elf_header(elf_executable(EM_AARCH64, interpreter="/system/bin/linker64")[:70]) is None


def test_the_binary_must_be_an_android_program_for_the_phone(tmp_path: Path):
    path = tmp_path / "benchmark_model"
    android = elf_executable(EM_AARCH64, interpreter="/system/bin/linker64")
    assert check_binary(path, android, PIXEL).interpreter == "/system/bin/linker64"
    assert check_binary(path, elf_executable(EM_ARM, bits=32), PIXEL).bits == 32  # armeabi-v7a runs too
    with pytest.raises(InputError) as wrong:
        check_binary(path, elf_executable(EM_X86_64), PIXEL)
    assert str(wrong.value) == (
        f"{path} is a x86-64 program but Google Pixel 7 (arm64-v8a) runs aarch64 or 32-bit ARM programs: "
        "use the prebuilt android_aarch64_benchmark_model from https://ai.google.dev/edge/litert/models/measurement"
    )
    with pytest.raises(InputError, match=r"desktop Linux build \(it needs /lib/ld-linux-aarch64.so.1\)"):
        check_binary(path, elf_executable(EM_AARCH64, interpreter="/lib/ld-linux-aarch64.so.1"), PIXEL)
    with pytest.raises(InputError, match="is not an ELF executable"):
        check_binary(path, b"<html>404 Not Found</html>" * 4, PIXEL)


def test_adb_targets_and_device_lists():
    assert parse_adb_target("adb") is None
    assert parse_adb_target("adb:R58M123ABC") == "R58M123ABC"
    assert parse_adb_target("adb:192.168.1.20:5555") == "192.168.1.20:5555"  # adb over Wi-Fi
    for bad in ("adb:", "adbs", "adb:two words"):
        with pytest.raises(InputError, match="adb:SERIAL"):
            parse_adb_target(bad)
    assert parse_devices("List of devices attached\n\n") == []  # as adb 1.0.41 prints it
    listing = "* daemon started successfully\nList of devices attached\nR58M123ABC\tdevice\nemulator-5554\toffline\n\n"
    entries = parse_devices(listing)
    assert entries == [("R58M123ABC", "device"), ("emulator-5554", "offline")]
    assert choose_device(entries, None) == "R58M123ABC"
    with pytest.raises(DeviceError, match="emulator-5554 is offline"):
        choose_device(entries, "emulator-5554")
    with pytest.raises(
        DeviceError,
        match=r"no Android device 'ABC' is attached \(adb devices lists: R58M123ABC, emulator-5554\)",
    ):
        choose_device(entries, "ABC")
    with pytest.raises(DeviceError, match="did not list devices"):
        parse_devices("adb: usage: unknown command devicez\n")
