"""``edgeq run edgeq.toml``: convert → inspect → export → bench → report, as configured, into one
output folder, redoing only the stages whose inputs changed.

Each stage has an inputs fingerprint: the sha256 of the files it reads (the Keras model, the
data, the .tflite files of earlier stages) and of its settings and edgeq's version. ``run.json``
records every stage's fingerprint; a stage whose fingerprint is unchanged and whose outputs are
still there is reused, not redone. Each stage writes its folder atomically.

    OUT/run.json           the configuration, each stage (ran / reused, seconds, fingerprint), environment
    OUT/convert/           .tflite files, report.json, report.md (as ``edgeq convert``)
    OUT/inspect/<stem>.json  ``edgeq inspect`` of each .tflite
    OUT/mcu/               the firmware bundle (``edgeq export mcu``), with [export]
    OUT/bench.json         ``edgeq bench`` results, with [bench]
    OUT/report.html, OUT/report.md   the report of it all
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.errors import BenchFailure, InputError
from edgeq.outputs import (
    MANIFEST,
    atomic_output_dir,
    check_output_dir,
    file_sha256,
    folder_lock,
    start_manifest,
    write_file_atomic,
    written_by_edgeq,
)
from edgeq.results import schema
from edgeq.results.run import RunRecord, StageRun
from edgeq.runconfig import RunConfig
from edgeq.version import __version__

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """Everything ``edgeq run`` did."""

    config: RunConfig
    stages: tuple[StageRun, ...]
    output: Path
    bench_failure: BenchFailure | None = None
    """Set when some benchmark rows failed (the bench stage failed in part; bench.json has every row)."""

    def stage(self, name: str) -> StageRun:
        return next(stage for stage in self.stages if stage.name == name)

    def record(self) -> RunRecord:
        """What run.json holds: the stages, the configuration and this machine's environment."""
        return RunRecord(
            edgeq_version=__version__,
            config_file=str(self.config.source),
            config=self.config.to_dict(),
            stages=self.stages,
            environment=_environment(),
        )

    def to_dict(self) -> dict[str, Any]:
        return self.record().to_dict()


def run_pipeline(config: RunConfig, force: bool = False, progress: Progress | None = None) -> RunResult:
    """Run every configured stage into ``config.output``; reuse a stage whose inputs are unchanged
    (unless ``force``). Returns a RunResult; raises what the stages raise (EdgeqError subclasses).

    Only one run writes a folder at a time (a second is refused). The folder's manifest records
    the files the run writes at its top; stage folders are replaced only while they hold nothing
    but edgeq's own files. A folder this run created is removed again if it fails before writing
    anything into it."""
    out = config.output
    if any(len(part.encode()) > 240 for part in out.parts):
        raise InputError(
            f"[output] folder {str(out)[:60]}...: a folder name is too long, choose a shorter one"
        )
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise InputError(f"[output] folder {out} exists and is not a folder: choose another folder")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create [output] folder {out}: {exc.strerror or exc}: choose another"
        ) from exc
    try:
        with folder_lock(out, "another edgeq run"):
            _check_replaceable(out)
            start_manifest(out)
            return _run_stages(config, out, force, progress)
    except BaseException:
        if created and all(p.name == MANIFEST for p in out.iterdir()):
            (out / MANIFEST).unlink(missing_ok=True)
            out.rmdir()
        raise


def _run_stages(config: RunConfig, out: Path, force: bool, progress: Progress | None) -> RunResult:
    say = progress or (lambda _message: None)
    previous = _previous_fingerprints(out / "run.json") if not force else {}
    stages: list[StageRun] = []
    total = 2 + (config.export is not None) + (config.bench is not None) + 1

    def stage(name: str, fingerprint: str, outputs: list[Path], work: Callable[[], None]) -> None:
        number = len(stages) + 1
        if previous.get(name) == fingerprint and all(p.exists() for p in outputs):
            say(f"[{number}/{total}] {name}: reused (inputs unchanged)")
            written = tuple(_relative(p, out) for p in outputs)
            stages.append(StageRun(name, "reused", 0.0, fingerprint, written))
            return
        say(f"[{number}/{total}] {name}: running")
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        say(f"[{number}/{total}] {name}: done in {seconds:.1f} s")
        stages.append(StageRun(name, "ran", seconds, fingerprint, tuple(_relative(p, out) for p in outputs)))
        # Record at once what is now on disk: if a later stage fails, the next run must not
        # take this stage's new outputs for those of the fingerprint run.json held before.
        partial = RunResult(config=config, stages=tuple(stages), output=out)
        write_file_atomic(out / "run.json", json.dumps(partial.to_dict(), indent=2) + "\n")

    # 1. convert
    convert_folder = out / "convert"
    settings = {section: config.raw.get(section, {}) for section in ("data", "convert")}
    convert_print = _fingerprint(
        [config.model, config.calib, config.eval], {**settings, "model": str(config.model.name)}
    )

    def do_convert() -> None:
        from edgeq import api

        result = api.convert(
            config.model, calib=config.calib, eval=config.eval, mode=list(config.modes), io=config.io,
            calib_samples=config.calib_samples, eval_samples=config.eval_samples, seed=config.seed,
            scale=config.scale, mean=config.mean, std=config.std, layer_report=config.layer_report,
            max_drop=config.max_drop, progress=lambda m: say(f"      {m}"),
        )  # fmt: skip
        result.save(convert_folder, force=True)

    stage("convert", convert_print, [convert_folder / "report.json"], do_convert)
    tflite = _converted_files(convert_folder)

    # 2. inspect
    inspect_folder = out / "inspect"
    inspect_print = _fingerprint(list(tflite.values()), {})

    def do_inspect() -> None:
        from edgeq import api

        with atomic_output_dir(inspect_folder, force=True) as staging:
            for path in tflite.values():
                result = api.inspect(path)
                (staging / f"{path.stem}.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")

    stage("inspect", inspect_print, [inspect_folder / f"{p.stem}.json" for p in tflite.values()], do_inspect)

    # 3. export
    if config.export is not None:
        chosen = tflite[_key(config.export.mode)]
        export_folder = out / "mcu"
        export_print = _fingerprint([chosen, config.export.labels], config.raw.get("export", {}))

        def do_export() -> None:
            from edgeq import api

            api.export_mcu(chosen, export_folder, template=config.export.template,
                             labels=config.export.labels, force=True)  # fmt: skip

        stage("export", export_print, [export_folder], do_export)

    # 4. bench
    if config.bench is not None:
        bench = config.bench
        files = [tflite[_key(m)] for m in (bench.modes or tuple(tflite)) if _key(m) in tflite]
        bench_print = _fingerprint(files, config.raw.get("bench", {}))

        def do_bench() -> None:
            from edgeq import api

            report = api.bench(
                files, bench.targets, clock=bench.clock, runs=bench.runs, warmup=bench.warmup,
                seed=config.seed, progress=lambda m: say(f"      {m}"), remote_python=bench.remote_python,
                ssh_config=bench.ssh_config, benchmark_model=bench.benchmark_model,
                flash_command=bench.flash_cmd, device_timeout=bench.device_timeout,
            )  # fmt: skip
            report.save(out / "bench.json")

        stage("bench", bench_print, [out / "bench.json"], do_bench)
        bench_failure = _bench_failure(out / "bench.json")
        if bench_failure is not None:
            say(f"      bench failed in part: {bench_failure.reason}")

    else:
        bench_failure = None

    # 5. report (always redone: it is cheap and reads everything above)
    say(f"[{total}/{total}] report: writing report.html and report.md")
    started = time.perf_counter()
    result = RunResult(config=config, stages=(*stages,), output=out)
    write_file_atomic(out / "run.json", json.dumps(result.to_dict(), indent=2) + "\n")
    outputs = _write_report(out)
    stages.append(StageRun("report", "ran", time.perf_counter() - started, "", outputs))
    result = RunResult(config=config, stages=tuple(stages), output=out, bench_failure=bench_failure)
    write_file_atomic(out / "run.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _check_replaceable(out: Path) -> None:
    """Before any stage runs: refuse a run folder whose stage folders or top-level files hold
    something edgeq did not write (InputError naming it), so that nothing is lost and no work is
    done in vain."""
    for folder in ("convert", "inspect", "mcu"):
        if (out / folder).exists() or (out / folder).is_symlink():
            check_output_dir(out / folder, force=True)
    for name in ("run.json", "bench.json", "report.html", "report.md"):
        path = out / name
        if (path.exists() or path.is_symlink()) and (path.is_dir() or not written_by_edgeq(path)):
            raise InputError(
                f"{path} exists and edgeq did not write it: edgeq run writes {name} there; "
                "move it away or choose another [output] folder"
            )


def _bench_failure(bench_json: Path) -> BenchFailure | None:
    """The failure of bench.json's failed rows (as ``edgeq bench`` raises it), None when all passed.
    Read from the file, so a reused bench stage still says its rows failed."""
    from edgeq.bench.results import BenchReport

    data = schema.BENCH.read(bench_json)
    try:
        return BenchReport.from_dict(data).failure()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(
            f"{bench_json}: unexpected content ({type(exc).__name__}: {exc}); rerun with --force"
        ) from None


def _write_report(out: Path) -> tuple[str, ...]:
    from edgeq.report.page import write_report

    written = write_report(out)
    return tuple(_relative(Path(p), out) for p in written)


def _key(mode: str) -> str:
    """The key of mode ``mode`` in report.json and the file names (``dynamic-int4`` -> ``dynamic_int4``)."""
    return mode.replace("-", "_")


def _converted_files(folder: Path) -> dict[str, Path]:
    """Each mode's .tflite file named by the convert stage's report.json: plain file names in it
    (InputError for anything else: the file was not written by this edgeq, or was changed)."""
    report = schema.CONVERT.read(folder / "report.json")
    files = {}
    for mode in report.get("modes") if isinstance(report.get("modes"), list) else []:
        key, name = (mode.get(k) if isinstance(mode, dict) else None for k in ("key", "file"))
        if (
            not isinstance(key, str)
            or not isinstance(name, str)
            or Path(name).name != name
            or len(name) > 200
        ):
            raise InputError(
                f"{folder / 'report.json'}: a mode without a plain file name ({str(name)[:60]!r}); "
                "rerun with --force to convert again"
            )
        if not (folder / name).is_file():
            raise InputError(f"{folder / name}: missing (named in report.json); rerun with --force")
        files[key] = folder / name
    if not files:
        raise InputError(f"{folder / 'report.json'}: no converted modes; rerun with --force")
    return files


def _fingerprint(files: list[Path | None], settings: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"edgeq {__version__}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in files:
        if path is None:
            digest.update(b"-")
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(child.relative_to(path).as_posix().encode())
                digest.update(bytes.fromhex(file_sha256(child)))
        elif path.is_file():  # never a device or a pipe (edgeq.toml's paths are checked for that)
            digest.update(bytes.fromhex(file_sha256(path)))
        else:
            raise InputError(f"{path}: not a regular file or folder: give a data or model file")
    return digest.hexdigest()


def _previous_fingerprints(run_json: Path) -> dict[str, str]:
    """Each stage's fingerprint in the run.json of the last run; none when it cannot be read."""
    try:
        recorded = RunRecord.from_dict(schema.RUN.read(run_json))
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return {}
    return {stage.name: stage.inputs_sha256 for stage in recorded.stages}


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _environment() -> dict[str, str]:
    from edgeq.api import package_versions

    versions = {"python": platform.python_version(), "machine": platform.machine(), "edgeq": __version__}
    return {**versions, **package_versions(("tensorflow", "ai-edge-litert", "tflite-micro", "numpy"))}
