"""Emulated Raspberry-Pi-class Linux: LiteRT in a Debian arm64 root filesystem under QEMU user mode,
with the core pinned to the board's real one (QEMU's default ``max`` CPU gives wrong int8 results).

The root filesystem is built once (debootstrap, Debian's python3, the aarch64 ``ai-edge-litert`` and
numpy wheels) and cached under edgeq's cache folder; building it is the one step that downloads
(from deb.debian.org, or $EDGEQ_DEBIAN_MIRROR, and PyPI). Instructions per invoke are counted by
edgeq's QEMU plugin between two marker system calls the runner makes around each timed invoke.
Wall-clock time under emulation says nothing about the real board, so it is not reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeq.bench.counting import counting_plugin, read_counts
from edgeq.bench.host import run_runner
from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult, Figure, compare_outputs
from edgeq.bench.runs import BenchModel, Progress, attempt
from edgeq.errors import BenchFailure, EdgeqError, ToolchainError
from edgeq.toolchain import cache_dir, require, version

ROOTFS_RECIPE = "bookworm-python3-litert-1"  # change when the recipe below changes
SUITE = "bookworm"
WHEELS = ("ai-edge-litert", "numpy")
LSEEK_AARCH64 = 62  # the marker system call's number on aarch64 Linux
TIMEOUT_S = 1800


@dataclass(frozen=True)
class Core:
    board: str
    cpu: str
    part: str
    features: str


CORES = {
    "rpi4": Core("Raspberry Pi 4 (4x Cortex-A72)", "cortex-a72", "0xd08", "fp asimd evtstrm crc32 cpuid"),
    "rpi5": Core(
        "Raspberry Pi 5 (4x Cortex-A76)",
        "cortex-a76",
        "0xd0b",
        "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
    ),
}


def rootfs_path() -> Path:
    return cache_dir() / "aarch64" / ROOTFS_RECIPE


def rootfs_info() -> dict | None:
    """What the cached root filesystem's build recorded (None when it is not built)."""
    stamp = rootfs_path() / "edgeq-rootfs.json"
    return json.loads(stamp.read_text()) if stamp.is_file() else None


def ensure_rootfs(progress: Callable[[str], None]) -> Path:
    """The cached root filesystem, built first if missing (about a minute and 350 MB)."""
    root = rootfs_path()
    if (root / "edgeq-rootfs.json").is_file():
        return root
    debootstrap = require("debootstrap", "to build the aarch64 root filesystem")
    require("dpkg-deb", "to unpack the aarch64 root filesystem")
    prefix: list[str] = []
    if os.geteuid() != 0:
        fakeroot = shutil.which("fakeroot")
        if fakeroot is None:
            raise ToolchainError(
                "building the aarch64 root filesystem needs root or fakeroot: apt-get install fakeroot"
            )
        prefix = [fakeroot]
    mirror = os.environ.get("EDGEQ_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    started = time.monotonic()
    try:
        progress(f"building the aarch64 root filesystem (first use): debootstrap {SUITE} arm64 from {mirror}")
        command = [
            *prefix,
            debootstrap,
            "--foreign",
            "--arch=arm64",
            "--variant=minbase",
            "--include=python3",
        ]
        _run([*command, SUITE, str(staging), mirror], "debootstrap")
        archives = sorted((staging / "var/cache/apt/archives").glob("*.deb"))
        _unpack(archives, staging, progress)
        for deb in archives:
            deb.unlink()
        progress(f"downloading the aarch64 wheels of {', '.join(WHEELS)} from PyPI")
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        platform_flags = [
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_27_aarch64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
        ]
        _run([*pip, "install", *platform_flags, "--target", str(staging / "opt/edgeq/site"), *WHEELS], "pip")
        (staging / "proc").mkdir(exist_ok=True)
        size = sum(f.stat().st_size for f in staging.rglob("*") if f.is_file() and not f.is_symlink())
        info = {
            "recipe": ROOTFS_RECIPE,
            "suite": SUITE,
            "mirror": mirror,
            "wheels": _wheel_versions(staging / "opt/edgeq/site"),
            "build_seconds": round(time.monotonic() - started, 1),
            "size_bytes": size,
        }
        (staging / "edgeq-rootfs.json").write_text(json.dumps(info, indent=2) + "\n")
        os.chmod(staging, 0o755)
        os.replace(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(
        f"root filesystem ready: {size / 1e6:,.0f} MB in {info['build_seconds']:.0f} s, cached at {root}"
    )
    return root


def _unpack(archives: list[Path], root: Path, progress: Callable[[str], None]) -> None:
    # progress goes through the caller's callback (the CLI prints it); a quarter at a time
    quarter = max(1, len(archives) // 4)
    for done, deb in enumerate(archives, start=1):
        _run(["dpkg-deb", "-x", str(deb), str(root)], "dpkg-deb")
        if done % quarter == 0 and done < len(archives):
            progress(f"unpacking Debian packages: {done}/{len(archives)}")
    progress(f"unpacked {len(archives)} Debian packages")


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise EdgeqError(
            f"{what} failed while building the aarch64 root filesystem: {said[-1] if said else ''}"
        )


def _wheel_versions(site: Path) -> dict[str, str]:
    versions = {}
    for info in site.glob("*.dist-info"):
        name, _, rest = info.name.partition("-")
        versions[name] = rest.removesuffix(".dist-info")
    return dict(sorted(versions.items()))


def _cpuinfo(core: Core) -> str:
    block = (
        f"BogoMIPS\t: 108.00\nFeatures\t: {core.features}\nCPU implementer\t: 0x41\n"
        f"CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {core.part}\nCPU revision\t: 3\n\n"
    )
    return "".join(f"processor\t: {i}\n{block}" for i in range(4))


def guest_command(root: Path, core: Core, plugin_args: str | None = None) -> list[str]:
    qemu = require("qemu-aarch64", "to emulate aarch64 Linux (the dynamic build, which loads plugins)")
    command = [qemu, "-L", str(root), "-cpu", core.cpu]
    if plugin_args is not None:
        command += ["-plugin", f"{counting_plugin()},{plugin_args}"]
    return [*command, str(root / "usr/bin/python3")]


def bench_aarch64(
    model: BenchModel, target: str, progress: Callable[[str], None], xnnpack: bool = True, runs: int = 3
) -> BenchResult:
    """Check and count ``model`` in LiteRT on the emulated ``target`` (rpi4 or rpi5). Raises
    BenchFailure when LiteRT or the counter fails there, EdgeqError when the root filesystem
    cannot be built."""
    core = CORES[target]
    require("qemu-aarch64", "to emulate aarch64 Linux (the dynamic build, which loads plugins)")
    root = ensure_rootfs(progress)
    (root / "proc" / "cpuinfo").write_text(_cpuinfo(core))  # LiteRT's CPU detection reads it
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": "/opt/edgeq/site",
        "PYTHONNOUSERSITE": "1",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
    }
    resolver = "default" if xnnpack else "no_xnnpack"
    with tempfile.TemporaryDirectory(prefix="edgeq-aarch64-") as work_dir:
        work = Path(work_dir)
        for sub in ("x86", "check", "count"):
            (work / sub).mkdir()
        request = {"runs": 1, "warmup": 0, "threads": 1, "resolver": "reference"}
        run_runner([sys.executable], [model], request, TIMEOUT_S, work / "x86", target, outputs=True)
        expected = np.load(work / "x86" / "output0.npy")
        guest = guest_command(root, core)
        checked = _in_guest(guest, environment, model, request, work / "check", target, outputs=True)
        got = np.load(work / "check" / "output0.npy")
        counts_file = work / "counts.txt"
        counting = guest_command(root, core, f"marker_syscall={LSEEK_AARCH64},out={counts_file}")
        count_request = {"runs": runs, "warmup": 1, "threads": 1, "resolver": resolver, "markers": True}
        _in_guest(counting, environment, model, count_request, work / "count", target)
        _, sections, _ = read_counts(counts_file)
    if len(sections) != runs:
        raise BenchFailure(
            target, f"the instruction counter saw {len(sections)} invokes on {target}, expected {runs}"
        )
    check = compare_outputs(
        got,
        expected,
        ("LiteRT reference kernels on x86 (this machine)",),
        f"both with LiteRT's reference kernels; the guest's on an emulated {core.cpu}",
    )
    median = int(np.median(sections))
    kernels = "XNNPACK" if xnnpack else "no XNNPACK"
    how = (
        f"executed guest instructions of one interpreter.invoke() (LiteRT {kernels}, "
        f"1 thread) on an emulated {core.cpu}, counted by edgeq's QEMU plugin between marker system calls; "
        f"median of {runs} invokes after 1 warm-up"
    )
    return BenchResult(
        model=model.path,
        sha256=model.sha256,
        target=target,
        platform={
            "emulator": "qemu-aarch64 (user mode)",
            "cpu": core.cpu,
            "board": core.board,
            "rootfs": rootfs_info(),
        },
        runtime=f"LiteRT {checked['runtime_version']} {'XNNPACK' if xnnpack else 'no XNNPACK'}, 1 thread",
        toolchain={
            "qemu-aarch64": version("qemu-aarch64"),
            "guest python": checked["python"],
            "guest numpy": checked["numpy"],
        },
        figures=(Figure("instructions_per_inference", median, "instructions", "counted", how),),
        output_check=check,
        details={
            "instructions_by_invoke": sections,
            "latency": "not reported: emulated wall-clock time is not the board's",
        },
    )


def _in_guest(
    command: list[str],
    environment: dict[str, str],
    model: BenchModel,
    request: dict,
    work: Path,
    target: str,
    outputs: bool = False,
) -> dict:
    # Files under a host folder that does not exist inside the root filesystem resolve to the host's,
    # so the guest reads the model and writes its outputs in ``work`` directly.
    wrapped = ["env", "-i", *(f"{k}={v}" for k, v in environment.items()), *command]
    return run_runner(wrapped, [model], request, TIMEOUT_S, work, target, outputs=outputs)


class Aarch64Runner:
    """``rpi4``, ``rpi5``: LiteRT in the emulated aarch64 Debian, each model checked and counted."""

    forms = tuple(CORES)

    def accepts(self, target: str) -> bool:
        return target in CORES

    def environment(self) -> dict[str, str]:
        return {"qemu-aarch64": version("qemu-aarch64")}

    def run(
        self, models: Sequence[BenchModel], targets: Sequence[str], options: BenchOptions, say: Progress
    ) -> dict[str, list[BenchResult]]:
        results: dict[str, list[BenchResult]] = {}
        for target in targets:
            results[target] = []
            for model in models:
                say(f"{Path(model.path).name} on {target} (QEMU aarch64 user mode)")

                def run(m: BenchModel = model, t: str = target) -> BenchResult:
                    return bench_aarch64(m, t, say, options.xnnpack)

                results[target].append(attempt(model, target, run))
        return results
