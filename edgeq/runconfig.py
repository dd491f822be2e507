"""``edgeq.toml``: what ``edgeq run`` does, validated once on load.

Every problem is one line naming the key (``edgeq.toml: convert.modes: ...``): unknown sections
and keys (with the valid ones), wrong types, values outside their choices, files that do not
exist. Relative paths are relative to the folder of the ``edgeq.toml`` file.

    [model]
    path = "demo-out/digits_cnn.keras"

    [data]                       # optional
    calib = "demo-out/calib.npz" # needed by int8 / int16x8
    eval = "demo-out/test.npz"
    scale = 0.0625               # preprocessing: x * scale, then (x - mean) / std
    mean = 0.5                   # one number or one per channel
    std = 0.25
    calib_samples = 200
    eval_samples = 359
    seed = 0

    [convert]
    modes = ["int8", "float16"]
    io = "auto"                  # auto, float or int8
    layer_report = true
    max_drop = 0.5               # optional

    [export]                     # optional: one firmware bundle
    mode = "int8"                # which converted model
    template = "plain"           # plain, tflm-cmake, arduino, esp-idf, zephyr, c
    labels = "labels.txt"        # optional

    [bench]                      # optional
    targets = ["host", "cortex-m4"]
    modes = ["int8"]             # default: every converted mode
    clock = "120MHz"
    runs = 100
    warmup = 10
    remote_python = "python3"    # ssh:// targets; also ssh_config = "path"
    benchmark_model = "bin/android_aarch64_benchmark_model"  # adb targets
    flash_cmd = "st-flash write fw.bin 0x8000000"            # serial: targets
    device_timeout = 600

    [output]
    folder = "out"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeq.checks import check_nesting, check_optional_count, check_seed
from edgeq.errors import InputError, first_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MODES = ("float32", "float16", "dynamic", "int8", "int16x8", "int4", "dynamic-int4", "dynamic-int2")
TEMPLATES = ("plain", "tflm-cmake", "arduino", "esp-idf", "zephyr", "c")
_NUMBER = (int, float)

# section -> key -> (accepted Python types, description used in messages)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "model": {"path": ((str,), "a path")},
    "data": {
        "calib": ((str,), "a path"),
        "eval": ((str,), "a path"),
        "scale": (_NUMBER, "a number"),
        "mean": ((*_NUMBER, list), "a number or a list of numbers"),
        "std": ((*_NUMBER, list), "a number or a list of numbers"),
        "calib_samples": ((int,), "an integer"),
        "eval_samples": ((int,), "an integer"),
        "seed": ((int,), "an integer"),
    },
    "convert": {
        "modes": ((list,), "a list of mode names"),
        "io": ((str,), "a string"),
        "layer_report": ((bool,), "true or false"),
        "max_drop": (_NUMBER, "a number"),
    },
    "export": {
        "mode": ((str,), "a mode name"),
        "template": ((str,), "a template name"),
        "labels": ((str,), "a path"),
    },
    "bench": {
        "targets": ((list,), "a list of target names"),
        "modes": ((list,), "a list of mode names"),
        "clock": ((str, *_NUMBER), 'a frequency such as "120MHz"'),
        "runs": ((int,), "an integer"),
        "warmup": ((int,), "an integer"),
        "remote_python": ((str,), "a string"),
        "ssh_config": ((str,), "a path"),
        "benchmark_model": ((str,), "a path"),
        "flash_cmd": ((str,), "a command line"),
        "device_timeout": (_NUMBER, "a number of seconds"),
    },
    "output": {"folder": ((str,), "a path")},
}
REQUIRED = ("model.path",)


@dataclass(frozen=True)
class ExportConfig:
    mode: str
    template: str
    labels: Path | None


@dataclass(frozen=True)
class BenchConfig:
    targets: tuple[str, ...]
    modes: tuple[str, ...] | None
    clock: str | float
    runs: int
    warmup: int
    remote_python: str = "python3"
    ssh_config: Path | None = None
    benchmark_model: Path | None = None
    flash_cmd: str | None = None
    device_timeout: float = 600.0


@dataclass(frozen=True)
class RunConfig:
    """A validated ``edgeq.toml``; paths are absolute."""

    source: Path
    model: Path
    calib: Path | None
    eval: Path | None
    scale: float | None
    mean: float | tuple[float, ...] | None
    std: float | tuple[float, ...] | None
    calib_samples: int
    eval_samples: int | None
    seed: int
    modes: tuple[str, ...]
    io: str
    layer_report: bool
    max_drop: float | None
    export: ExportConfig | None
    bench: BenchConfig | None
    output: Path
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The configuration as written (for run.json and the report)."""
        return self.raw


def load_config(path: str | Path) -> RunConfig:
    """Read and validate ``path``. Raises InputError (one line naming the key) on any problem."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(f"{path}: no such file (write an edgeq.toml; see the README's edgeq run section)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    check_nesting(text, name)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{name}: not valid TOML ({exc})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{name}: a value edgeq cannot read ({exc})") from None
    _check_shape(name, raw)
    base = path.resolve().parent

    def get(section: str, key: str, default: Any = None) -> Any:
        return raw.get(section, {}).get(key, default)

    def existing(section: str, key: str) -> Path | None:
        value = get(section, key)
        if value is None:
            return None
        resolved = _path(base, value, f"{name}: {section}.{key}")
        if not resolved.exists():
            raise InputError(
                f"{name}: {section}.{key}: {value!r} does not exist (relative paths start at {base})"
            )
        if not (resolved.is_file() or resolved.is_dir()):
            raise InputError(
                f"{name}: {section}.{key}: {value!r} is not a regular file or folder (a device or pipe?)"
            )
        return resolved

    for key in REQUIRED:
        section, field = key.split(".")
        if get(section, field) is None:
            raise InputError(f'{name}: {key} is missing: name the model to convert, e.g. path = "m.keras"')
    modes = tuple(_names(name, "convert.modes", get("convert", "modes", ["int8", "float16"]), MODES))
    if not modes:
        raise InputError(f"{name}: convert.modes is empty: name at least one of {', '.join(MODES)}")
    io = get("convert", "io", "auto")
    if io not in ("auto", "float", "int8"):
        raise InputError(f"{name}: convert.io: {io!r} is not one of auto, float, int8")
    calib, evaluation = existing("data", "calib"), existing("data", "eval")
    if any(m in ("int8", "int16x8", "int4") for m in modes) and calib is None:
        raise InputError(f"{name}: data.calib is missing: modes int8, int16x8 and int4 need calibration data")
    max_drop = get("convert", "max_drop")
    if max_drop is not None and evaluation is None:
        raise InputError(f"{name}: convert.max_drop needs data.eval (evaluation data)")
    for key in ("calib_samples", "eval_samples"):
        check_optional_count(get("data", key), f"{name}: data.{key}")
    check_seed(get("data", "seed", 0), f"{name}: data.seed")
    export = None
    if "export" in raw:
        export_mode = get("export", "mode", "int8")
        if export_mode not in modes:
            raise InputError(
                f"{name}: export.mode: {export_mode!r} is not among convert.modes ({', '.join(modes)})"
            )
        template = get("export", "template", "plain")
        if template not in TEMPLATES:
            raise InputError(f"{name}: export.template: {template!r} is not one of {', '.join(TEMPLATES)}")
        export = ExportConfig(mode=export_mode, template=template, labels=existing("export", "labels"))
    bench = None
    if "bench" in raw:
        from edgeq.bench import parse_clock, parse_targets

        targets = get("bench", "targets", ["host"])
        _names(name, "bench.targets", targets, None)
        try:
            parsed_targets = parse_targets(targets)
            parse_clock(get("bench", "clock", "120MHz"))
        except InputError as exc:
            raise InputError(f"{name}: bench: {exc}") from None
        bench_modes = get("bench", "modes")
        if bench_modes is not None:
            bench_modes = tuple(_names(name, "bench.modes", bench_modes, modes))
        runs, warmup = get("bench", "runs", 100), get("bench", "warmup", 10)
        if runs < 1 or warmup < 0:
            raise InputError(f"{name}: bench.runs must be at least 1 and bench.warmup at least 0")
        bench = BenchConfig(
            targets=parsed_targets, modes=bench_modes, clock=get("bench", "clock", "120MHz"), runs=runs,
            warmup=warmup, remote_python=get("bench", "remote_python", "python3"),
            ssh_config=existing("bench", "ssh_config"), benchmark_model=existing("bench", "benchmark_model"),
            flash_cmd=get("bench", "flash_cmd"), device_timeout=float(get("bench", "device_timeout", 600)),
        )  # fmt: skip
    folder = get("output", "folder", "out")
    output = _path(base, folder, f"{name}: output.folder")
    return RunConfig(
        source=path.resolve(), model=existing("model", "path"), calib=calib, eval=evaluation,
        scale=get("data", "scale"), mean=_numbers(get("data", "mean")), std=_numbers(get("data", "std")),
        calib_samples=get("data", "calib_samples", 200), eval_samples=get("data", "eval_samples"),
        seed=get("data", "seed", 0), modes=modes, io=io, layer_report=get("convert", "layer_report", False),
        max_drop=max_drop, export=export, bench=bench, output=output, raw=raw,
    )  # fmt: skip


def _path(base: Path, value: str, where: str) -> Path:
    """``value`` as written, relative to ``base`` unless absolute; ``where`` names the key."""
    if "\0" in value:
        raise InputError(f"{where}: {value[:60]!r} holds a NUL character: give a usable path")
    if len(value) > 4096:
        raise InputError(f"{where}: the path is {len(value):,} characters long: give a usable path")
    try:
        return Path(value) if Path(value).is_absolute() else (base / value).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InputError(f"{where}: {value[:60]!r} cannot be resolved ({first_line(exc, 80)})") from None


def _check_shape(name: str, raw: dict[str, Any]) -> None:
    for section, body in raw.items():
        if section not in SCHEMA:
            raise InputError(f"{name}: unknown section [{section}] (valid: {', '.join(SCHEMA)})")
        if not isinstance(body, dict):
            raise InputError(f"{name}: {section} must be a [{section}] table")
        for key, value in body.items():
            if key not in SCHEMA[section]:
                raise InputError(
                    f"{name}: unknown key {section}.{key} "
                    f"(valid in [{section}]: {', '.join(SCHEMA[section])})"
                )
            types, words = SCHEMA[section][key]
            if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                raise InputError(f"{name}: {section}.{key} must be {words}, got {_describe(value)}")
            if (
                isinstance(value, list)
                and key in ("mean", "std")
                and not all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in value)
            ):
                raise InputError(f"{name}: {section}.{key} must be {words}, got {_describe(value)}")


def _names(name: str, key: str, values: Any, choices: tuple[str, ...] | None) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(f"{name}: {key} must be a list of strings, got {_describe(values)}")
    for value in values:
        if choices is not None and value not in choices:
            raise InputError(f"{name}: {key}: {value!r} is not one of {', '.join(choices)}")
    return list(dict.fromkeys(values))


def _numbers(value: Any) -> float | tuple[float, ...] | None:
    if isinstance(value, list):
        return tuple(float(v) for v in value)
    return float(value) if value is not None else None


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip
    return f"{kind} ({value!r})" if not isinstance(value, dict) else kind
