"""The output folder of ``edgeq run`` read into typed results: run.json (RunRecord),
convert/report.json (ConvertResult), inspect/*.json (InspectReport), bench.json (BenchReport) and
mcu/. Each file is checked against its schema (``edgeq.results.schema``) before it is read.
A folder ``edgeq convert -o`` wrote (report.json and the .tflite files, no run.json) is read too."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edgeq.bench.results import BenchReport
from edgeq.checks import check_nesting
from edgeq.errors import InputError
from edgeq.inspection import InspectReport
from edgeq.results import ConvertResult, schema
from edgeq.results.run import RunRecord

T = TypeVar("T")
# What reading a file whose content edgeq cannot have written raises.
UNEXPECTED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


@dataclass(frozen=True)
class Firmware:
    """mcu/: its files with their sizes, and what its report.json says (the C engine writes one)."""

    files: tuple[tuple[str, int], ...]
    template: str | None = None
    name: str | None = None
    ops: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunFolder:
    """The files of one ``edgeq run`` output folder; optional parts are None (or empty) when absent.

    ``inspections`` pairs each inspect/*.json file name with its content; ``problems`` names the
    optional files that exist but cannot be read (they are left out). ``written_by`` is
    ``"edgeq run"``, or ``"edgeq convert"`` for a convert folder, whose ``run`` is an empty record
    (no configuration, no stages).
    """

    path: Path
    run: RunRecord
    convert: ConvertResult
    inspections: tuple[tuple[str, InspectReport], ...] = ()
    bench: BenchReport | None = None
    firmware: Firmware | None = None
    problems: tuple[str, ...] = ()
    written_by: str = "edgeq run"


def read_run_folder(folder: str | Path) -> RunFolder:
    """Read ``folder``. Raises InputError (one line naming the file, the problem and the fix) when
    it is not a folder, or run.json or convert/report.json is missing or unreadable; every other
    file is optional."""
    path = Path(folder)
    if not path.exists():
        raise InputError(f"{path}: no such folder; pass the output folder of edgeq run ([output] folder)")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; pass the output folder of edgeq run, not a file in it")
    run_file = path / "run.json"
    convert_file = path / "convert" / "report.json"
    written_by = "edgeq run"
    if not run_file.exists() and not convert_file.exists() and (path / "report.json").is_file():
        # edgeq convert -o FOLDER: the convert stage's files at the top, nothing of the run around it
        convert_file, written_by = path / "report.json", "edgeq convert"
        run = RunRecord(edgeq_version="", config_file=None, config={}, stages=(), environment={})
    else:
        fix = "not an edgeq run folder? edgeq run writes it (edgeq convert -o writes report.json)"
        run = _read(run_file, schema.RUN, RunRecord.from_dict, fix)
    convert_data = schema.CONVERT.read(
        convert_file, "edgeq run (or edgeq convert -o FOLDER/convert) writes it"
    )
    _require(convert_data, convert_file, ("source", "modes", "size_baseline"))
    for mode in convert_data["modes"]:
        _require(mode, convert_file, ("key", "label", "file", "size_bytes"))
    convert = _typed(convert_data, convert_file, ConvertResult.from_dict)
    problems: list[str] = []

    def optional(file: Path, kind: schema.Schema, read: Callable[[dict[str, Any]], T]) -> T | None:
        try:
            return _read(file, kind, read, "")
        except InputError as exc:
            problems.append(str(exc))
            return None

    inspections = []
    inspected_files = sorted((path / "inspect").glob("[!.]*.json")) if (path / "inspect").is_dir() else []
    for file in inspected_files:  # not the folder's .edgeq-manifest.json
        inspected = optional(file, schema.INSPECT, InspectReport.from_dict)
        if inspected is not None:
            inspections.append((file.name, inspected))
    bench_file = path / "bench.json"
    bench = optional(bench_file, schema.BENCH, BenchReport.from_dict) if bench_file.exists() else None
    firmware = _firmware(path / "mcu", problems) if (path / "mcu").is_dir() else None
    return RunFolder(path, run, convert, tuple(inspections), bench, firmware, tuple(problems), written_by)


def _firmware(mcu: Path, problems: list[str]) -> Firmware:
    files = tuple(
        (p.relative_to(mcu).as_posix(), p.stat().st_size) for p in sorted(mcu.rglob("*")) if p.is_file()
    )
    report = mcu / "report.json"
    if not report.is_file():
        return Firmware(files)
    try:
        text = report.read_text(encoding="utf-8")
        check_nesting(text, str(report))
        data = json.loads(text)
    except (OSError, ValueError, InputError) as exc:
        problems.append(f"{report}: not valid JSON ({exc})")
        return Firmware(files)
    if not isinstance(data, dict):
        problems.append(f"{report}: not a JSON object")
        return Firmware(files)
    template, name = (str(data[key]) if data.get(key) else None for key in ("template", "name"))
    ops = data.get("ops") or ()
    if not isinstance(ops, list):
        problems.append(f"{report}: its ops are not a list; rerun edgeq run to rewrite it")
        ops = ()
    return Firmware(files, template, name, tuple(map(str, ops)))


def _read(file: Path, kind: schema.Schema, read: Callable[[dict[str, Any]], T], fix: str) -> T:
    return _typed(kind.read(file, fix), file, read)


def _typed(data: dict[str, Any], file: Path, read: Callable[[dict[str, Any]], T]) -> T:
    try:
        return read(data)
    except UNEXPECTED as exc:
        problem = f"unexpected content ({type(exc).__name__} {exc})"
        raise InputError(f"{file}: {problem}; rerun edgeq run to rewrite it") from exc


def _require(data: Any, file: Path, keys: Sequence[str]) -> None:
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise InputError(f"{file}: no {', '.join(missing)}; not written by edgeq convert? rerun edgeq run")
