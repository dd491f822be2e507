"""``edgeq bench``: latency, instructions, flash and RAM on this machine and on emulated ARM."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from edgeq.cli.common import progress, stdout
from edgeq.cli.options import JsonFile


def bench(
    models: list[Path] = typer.Argument(..., help="One or more .tflite files."),
    on: str = typer.Option(
        "host",
        "--on",
        help="Targets, comma-separated: host, cortex-m0, cortex-m3, cortex-m4, cortex-m7, cortex-m33, "
        "cortex-m55, lm3s6965, rpi4, rpi5 (each Cortex-M board gets its core's kernel path: portable "
        "C99 on m0/m3, Arm DSP extension on m4/m7/m33, Helium on m55); devices: ssh://user@host[:port], "
        "adb[:SERIAL], serial:PORT[@BAUD].",
    ),
    clock: str = typer.Option("120MHz", "--clock", help="Core clock for the Cortex-M latency estimate."),
    runs: int = typer.Option(100, "--runs", help="Timed runs on the host."),
    warmup: int = typer.Option(10, "--warmup", help="Untimed runs before timing on the host."),
    threads: int = typer.Option(1, "--threads", help="LiteRT threads (host)."),
    xnnpack: bool = typer.Option(
        True, "--xnnpack/--no-xnnpack", help="LiteRT's XNNPACK delegate (host, rpi)."
    ),
    flash: str = typer.Option(None, "--flash", help="Limit the board's flash to a real part's, e.g. 1MB."),
    ram: str = typer.Option(None, "--ram", help="Limit the board's RAM to a real part's, e.g. 256KB."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random input."),
    remote_python: str = typer.Option(
        "python3", "--remote-python", help="ssh://: the board's Python that has ai_edge_litert and numpy."
    ),
    ssh_config: Path = typer.Option(None, "--ssh-config", help="ssh://: an ssh_config file (ssh -F)."),
    benchmark_model: Path = typer.Option(
        None, "--benchmark-model", help="adb: TFLite's benchmark_model binary for the phone's ABI."
    ),
    flash_cmd: str = typer.Option(
        None, "--flash-cmd", help="serial: a command that flashes (and resets) the board before reading."
    ),
    device_timeout: float = typer.Option(
        600, "--device-timeout", help="Seconds allowed for each device run."
    ),
    json_path: JsonFile = None,
    as_json: bool = typer.Option(False, "--print-json", help="Print the results as JSON."),
) -> None:
    """Benchmark models on this machine (LiteRT), emulated Cortex-M boards (edgeq's C engine under
    QEMU) and emulated Raspberry Pi CPUs (LiteRT under QEMU aarch64), with output checks."""
    from edgeq.api import bench as run_bench
    from edgeq.outputs import check_output_file

    if json_path is not None:
        check_output_file(json_path)  # before the benchmark, not after it
    report = run_bench(
        models,
        on,
        clock=clock,
        runs=runs,
        warmup=warmup,
        threads=threads,
        xnnpack=xnnpack,
        flash=flash,
        ram=ram,
        seed=seed,
        progress=progress,
        remote_python=remote_python,
        ssh_config=ssh_config,
        benchmark_model=benchmark_model,
        flash_command=flash_cmd,
        device_timeout=device_timeout,
    )
    if json_path is not None:
        report.save(json_path)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    failure = report.failure()
    if failure is not None:
        raise failure


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    return f"{value:,.0f}"


def print_report(report) -> None:
    """The side-by-side table, and what each kind of figure means."""
    table = Table(title="edgeq bench", title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (
        ("model", "left"),
        ("target", "left"),
        ("runtime", "left"),
        ("check", "left"),
        ("latency ms", "right"),
        ("instructions", "right"),
        ("flash KB", "right"),
        ("RAM KB", "right"),
    ):
        table.add_column(column, justify=justify)
    estimated, tolerance = False, None
    for result in report.results:
        name = Path(result.model).name
        if result.error:
            table.add_row(name, result.target, "", "[red]failed[/red]", "", "", "", "", style="dim")
            continue
        check = "-"
        if result.output_check is not None:
            verdict = result.output_check.verdict
            check = f"[green]{verdict}[/green]" if result.output_check.passed else f"[red]{verdict}[/red]"
            tolerance = tolerance or result.output_check.tolerance
        latency = (
            result.figure("latency_p50_ms") or result.figure("latency_ms") or result.figure("latency_avg_ms")
        )
        latency_text = "n/a (emulated)" if latency is None else _number(latency.value, "ms")
        if latency is not None and latency.kind == "estimated":
            latency_text, estimated = f"~{latency_text} (est.)", True
        instructions = result.figure("instructions_per_inference")
        flash, ram = result.figure("flash_bytes"), result.figure("ram_bytes")
        table.add_row(
            name,
            result.target,
            result.runtime,
            check,
            latency_text,
            _number(instructions.value) if instructions else "-",
            f"{flash.value / 1024:,.1f}" if flash else "-",
            f"{ram.value / 1024:,.1f}" if ram else "-",
        )
    stdout.print(table)
    if any(r.target == "host" or r.target.startswith("ssh://") for r in report.results if r.ok):
        stdout.print("  host / ssh latency: p50 of timed invokes (measured); memory in the JSON report")
    if any(r.target.startswith("adb") for r in report.results if r.ok):
        stdout.print("  adb latency: benchmark_model's median, else its average (measured on the phone)")
    if any(r.target.startswith("serial:") for r in report.results if r.ok):
        stdout.print("  serial latency: one Invoke() timed by the board; check: the board's own comparison")
    if estimated:
        stdout.print(
            "  ~ (est.): an estimate: counted instructions x per-class cycle costs of the core, "
            "zero-wait memory (edgeq/bench/costmodel.py), at --clock",
            soft_wrap=True,
        )
    if tolerance is not None:
        stdout.print(
            f"  check: float outputs within {tolerance} of x86's (aarch64 fuses multiply-adds); "
            "integer outputs byte for byte; the largest difference is in the JSON report",
            soft_wrap=True,
        )
    if any(r.figure("flash_bytes") for r in report.results):
        stdout.print(
            "  flash/RAM: from the linker map without the benchmark harness; RAM includes the "
            "measured stack peak",
            soft_wrap=True,
        )
    for result in report.results:
        if result.error:
            stdout.print(
                f"  [red]{Path(result.model).name} on {result.target}:[/red] {result.error}", soft_wrap=True
            )
