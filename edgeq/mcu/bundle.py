"""``edgeq export mcu``: a TensorFlow Lite Micro firmware bundle for one .tflite model.

Stages: read and verify the model (edgeq.tflite) → run it in TFLite Micro to prove it loads,
measure the arena and compute the self-test's expected output (edgeq.runtimes.runners) → render the
templates of ``firmware_templates/`` with values made by small pure functions
(edgeq.cnames) → write the folder atomically. Same model and options, same bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeq import templates
from edgeq.cnames import c_bytes, c_float, c_identifier, c_ints, c_string, suggest_identifier
from edgeq.errors import InputError, UnsupportedError
from edgeq.labels import read_labels
from edgeq.outputs import atomic_output_dir, check_output_dir
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.reader import read_model_bytes
from edgeq.tflite.rewrite import has_int4_weights
from edgeq.tflite.tflm_ops import TFLM_RESOLVER_METHODS
from edgeq.version import __version__

if TYPE_CHECKING:
    from edgeq.engine.paths import KernelPath

TFLM_TEMPLATES = ("arduino", "esp-idf", "zephyr", "tflm-cmake", "plain")
TEMPLATES = (*TFLM_TEMPLATES, "c")  # c: edgeq's own engine, no TFLite Micro
COMMON_FILES = (
    ("model_data.h", "{name}_model_data.h"),
    ("model_data.c", "{name}_model_data.c"),
    ("config.h", "{name}_config.h"),
    ("ops.h", "{name}_ops.h"),
    ("sample.h", "{name}_sample.h"),
    ("sample.c", "{name}_sample.c"),
    ("selftest.h", "{name}_selftest.h"),
    ("selftest.cpp", "{name}_selftest.cpp"),
)
# Where the shared sources go, and the template's own files (template path → output path).
LAYOUTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "arduino": ("", (("arduino/sketch.ino", "{name}.ino"),)),
    "esp-idf": (
        "main/",
        (
            ("esp-idf/CMakeLists.txt", "CMakeLists.txt"),
            ("esp-idf/main/CMakeLists.txt", "main/CMakeLists.txt"),
            ("esp-idf/main/idf_component.yml", "main/idf_component.yml"),
            ("esp-idf/main/main.cc", "main/main.cc"),
        ),
    ),
    "zephyr": (
        "src/",
        (
            ("zephyr/CMakeLists.txt", "CMakeLists.txt"),
            ("zephyr/prj.conf", "prj.conf"),
            ("zephyr/src/main.cpp", "src/main.cpp"),
        ),
    ),
    "tflm-cmake": (
        "src/",
        (("tflm-cmake/CMakeLists.txt", "CMakeLists.txt"), ("tflm-cmake/main.cc", "main.cc")),
    ),
    "plain": ("", ()),
}
C_TYPES = {
    "int8": ("int8_t", -128, 127),
    "uint8": ("uint8_t", 0, 255),
    "int16": ("int16_t", -32768, 32767),
    "int32": ("int32_t", -(2**31), 2**31 - 1),
    "float32": ("float", None, None),
}
INTEGER_TOLERANCE = 1
FLOAT_TOLERANCE_MILLIONTHS = 1000


@dataclass(frozen=True)
class ArenaChoice:
    measured: int
    margin: int

    @property
    def total(self) -> int:
        return self.measured + self.margin


MAX_ARENA_MARGIN = 1 << 30  # 1 GiB: far beyond any microcontroller, far below an overflow of TFLM's size_t


def default_margin(measured: int) -> int:
    """10 % of the measured arena, at least 1 KiB, rounded up to 16 bytes."""
    return int(math.ceil(max(1024, measured * 0.10) / 16) * 16)


@dataclass(frozen=True)
class ExportResult:
    """What ``export_mcu`` wrote: the folder, its files, the ops and the arena it chose; for
    ``--template c`` also the engine's memory, the core asked for and the kernel path generated."""

    output: Path
    template: str
    name: str
    files: tuple[str, ...]
    ops: tuple[str, ...]
    arena: ArenaChoice
    engine: Any = None  # EngineMemory for --template c
    core: str | None = None
    kernels: KernelPath | None = None

    def to_dict(self) -> dict[str, Any]:
        result = {
            "output": str(self.output),
            "template": self.template,
            "name": self.name,
            "files": list(self.files),
            "ops": list(self.ops),
            "arena": {"measured_bytes": self.arena.measured, "margin_bytes": self.arena.margin},
        }
        if self.engine is not None:  # the engine has no TFLM arena: its buffer is planned, not measured
            del result["arena"]
            result["edgeq_c_engine"] = self.engine.to_dict()
        if self.kernels is not None:
            result["core"] = self.core
            result["kernel_path"] = self.kernels.name
            result["kernel_path_description"] = self.kernels.description
        return result

    def kernels_summary(self) -> str:
        """One line for the console: which kernel path was generated, and for which core."""
        if self.kernels is None:
            return ""
        if self.core == self.kernels.name:
            return f"kernels: the {self.kernels.name} path, {self.kernels.description} (runs on any core)"
        return f"kernels: the {self.kernels.name} path for {self.core}, {self.kernels.description}"


def export_mcu(
    model: str | Path,
    output: str | Path,
    template: str = "plain",
    name: str | None = None,
    labels: str | Path | list[str] | None = None,
    sample: str | Path | None = None,
    arena_margin: int | None = None,
    force: bool = False,
    core: str | None = None,
) -> ExportResult:
    """Write a TFLite Micro firmware bundle for ``model`` into the folder ``output``, or with
    ``template="c"`` edgeq's own C engine and its report.json.

    ``name`` (default: from the file name) prefixes every file and C identifier; ``labels`` is a
    text file with one label per line (or a list); ``sample`` an .npy/.npz whose first sample the
    self-test runs (default: seeded random values). ``core`` (``template="c"`` only; default
    ``"portable"``) picks the engine's kernel path, see ``edgeq.engine.paths.CORES``: portable C99
    (runs anywhere), the Arm DSP extension (cortex-m4/m7/m33) or Helium (cortex-m55). Raises
    InputError for bad input (an unknown core, or a core with a TFLite Micro template) and
    UnsupportedError when TFLite Micro or the engine cannot run the model (naming the op).
    """
    from edgeq.runtimes.runners import check_tflm, run_probe

    if template not in TEMPLATES:
        raise InputError(f"unknown template {template!r}: choose from {', '.join(TEMPLATES)}")
    if core is not None and template != "c":
        raise InputError(
            f"--core {core} picks the kernels of edgeq's C engine: add --template c, or drop --core "
            f"(the {template} template builds TensorFlow Lite Micro with your toolchain's flags)"
        )
    if template == "c":
        from edgeq.engine.paths import kernel_path

        kernel_path(core or "portable")  # an unknown core fails before anything is read or written
    model_path = Path(model)
    name = c_identifier(name) if name is not None else suggest_identifier(model_path.stem)
    check_output_dir(output, force)
    tflite = read_model_bytes(model_path)
    graph = read_tflite(tflite, str(model_path))
    label_texts = _labels(labels, graph)
    if template == "c":
        for option, value in (("--sample", sample), ("--arena-margin", arena_margin)):
            if value is not None:
                raise InputError(
                    f"{option} is for the TensorFlow Lite Micro templates: edgeq's C engine plans its memory "
                    "exactly and is checked by edgeq validate; drop it"
                )
        return _export_engine(graph, tflite, name, output, force, core or "portable", label_texts)
    ops = _resolver_entries(graph)
    report = check_tflm(tflite)
    if not report.runs or report.arena is None:
        op = f" at op {report.failing_op}" if report.failing_op else ""
        if has_int4_weights(graph):
            raise UnsupportedError(
                f"TensorFlow Lite Micro cannot run {model_path}{op}: this TFLite Micro refuses int4 "
                "FULLY_CONNECTED weights; use --template c (edgeq's engine reads the int4 weights as they "
                "are) or convert with --mode int8"
            )
        raise UnsupportedError(f"TensorFlow Lite Micro cannot run {model_path}{op}: {report.reason}")
    measured = report.arena.minimum_bytes
    margin = default_margin(measured) if arena_margin is None else arena_margin
    if isinstance(margin, bool) or not isinstance(margin, int) or not 0 <= margin <= MAX_ARENA_MARGIN:
        raise InputError(f"--arena-margin must be 0 to {MAX_ARENA_MARGIN:,} bytes, got {margin!r}")
    inputs = _io_tensors(graph, "input", name)
    outputs = _io_tensors(graph, "output", name)
    sample_arrays, sample_source = _sample_inputs(sample, graph)
    step = {"run": "tflm", "arena": measured + margin, "inputs": "in.npz", "outputs": "out.npz"}
    ran = run_probe(tflite, [step], {"in.npz": sample_arrays})[0]
    if not ran.ok:
        raise UnsupportedError(f"TensorFlow Lite Micro failed on the sample input: {ran.reason()}")
    expected = ran.data["arrays"]
    for tensor, key in zip(inputs, sorted(sample_arrays), strict=True):
        tensor["sample"] = _c_values(sample_arrays[key].reshape(-1), tensor["dtype"])
    for tensor in outputs:
        tensor["sample"] = _c_values(
            np.asarray(expected[f"output_{tensor['index']}"]).reshape(-1), tensor["dtype"]
        )
    float_out = any(t["dtype"].startswith("float") for t in outputs)
    context = {
        "banner": f"generated by edgeq {__version__} — do not edit. Model sha256 {graph.sha256}",
        "name": name,
        "NAME": name.upper(),
        "Name": "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or name,
        "template": template,
        "model_file": model_path.name,
        "model_len": len(tflite),
        "model_bytes": c_bytes(tflite),
        "sha256": graph.sha256,
        "ops": ops,
        "arena": {"measured": measured, "margin": margin},
        "inputs": inputs,
        "outputs": outputs,
        "labels": [c_string(text) for text in label_texts],
        "tolerance": FLOAT_TOLERANCE_MILLIONTHS if float_out else INTEGER_TOLERANCE,
        "tolerance_note": (
            f"{FLOAT_TOLERANCE_MILLIONTHS} millionths for float outputs"
            if float_out
            else f"{INTEGER_TOLERANCE} step, since optimized kernels may round differently from the reference"
        ),
        "sample_source": sample_source,
    }
    files = render_bundle(template, context)
    with atomic_output_dir(output, force) as staging:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return ExportResult(
        output=Path(output),
        template=template,
        name=name,
        files=tuple(sorted(files)),
        ops=tuple(entry["op"] for entry in ops),
        arena=ArenaChoice(measured, margin),
    )


def _export_engine(
    graph: ModelGraph, tflite: bytes, name: str, output: str | Path, force: bool, core: str, labels: list[str]
) -> ExportResult:
    """``--template c``: edgeq's own dependency-free C engine instead of a TFLite Micro bundle,
    with the kernels of ``core``'s path; with ``labels``, ``NAME_labels.h`` holds them."""
    from edgeq.engine.generate import generate_engine
    from edgeq.engine.paths import kernel_path
    from edgeq.engine.report import EngineMemory
    from edgeq.runtimes.runners import check_tflm

    source = generate_engine(graph, name, core=core)
    files = dict(source.files)
    if labels:
        files[f"{name}_labels.h"] = _labels_header(name, labels)
    tflm = check_tflm(tflite)
    engine = EngineMemory.of(source, tflm.arena.minimum_bytes if tflm.arena else None)
    result = ExportResult(
        output=Path(output),
        template="c",
        name=name,
        files=tuple(sorted([*files, "report.json"])),
        ops=graph.op_names(),
        arena=ArenaChoice(source.arena_bytes, 0),
        engine=engine,
        core=core,
        kernels=kernel_path(source.path),
    )
    with atomic_output_dir(output, force) as staging:
        for relative, text in files.items():
            (staging / relative).write_text(text, encoding="utf-8")
        report = {**result.to_dict(), "model_sha256": graph.sha256}
        (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result


def _labels_header(name: str, labels: list[str]) -> str:
    """A header with the class labels in output order, for edgeq's C engine bundle."""
    guard = f"{name.upper()}_LABELS_H"
    lines = [
        f"/* Class labels of {name}, in output order. Generated by edgeq {__version__}. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        f"#define {name.upper()}_LABEL_COUNT {len(labels)}",
        f"static const char *const {name}_labels[{len(labels)}] = {{",
        *(f"    {c_string(label)}," for label in labels),
        "};",
        f"#endif /* {guard} */",
        "",
    ]
    return "\n".join(lines)


def render_bundle(template: str, context: dict[str, Any]) -> dict[str, str]:
    """Render every file of ``template``: relative output path → text (pure, deterministic)."""
    environment = templates.environment()
    prefix, own = LAYOUTS[template]
    name = context["name"]
    common_sources = [out.format(name=name) for _, out in COMMON_FILES if out.endswith((".c", ".cpp"))]
    values = {**context, "common_sources": common_sources, "prefix": prefix}
    files: dict[str, str] = {}
    for source, out in COMMON_FILES:
        files[prefix + out.format(name=name)] = environment.get_template(f"common/{source}.j2").render(values)
    for source, out in own:
        files[out.format(name=name)] = environment.get_template(f"{source}.j2").render(values)
    files["README.md"] = environment.get_template("common/README.md.j2").render(values)
    return files


def _resolver_entries(graph: ModelGraph) -> list[dict[str, str]]:
    entries, missing = [], []
    for op in graph.op_names():
        method = TFLM_RESOLVER_METHODS.get(op)
        if method is None:
            missing.append(op)
        else:
            entries.append({"op": op, "method": method})
    if missing:
        raise UnsupportedError(
            f"TensorFlow Lite Micro has no kernel for {', '.join(missing)}: "
            "convert without these ops (e.g. --mode int8 with builtin layers) or register your own"
        )
    return entries


def _io_tensors(graph: ModelGraph, role: str, name: str) -> list[dict[str, Any]]:
    subgraph = graph.main
    indices = subgraph.inputs if role == "input" else subgraph.outputs
    described = []
    for position, index in enumerate(indices):
        tensor = subgraph.tensors[index]
        if tensor.dtype not in C_TYPES:
            raise UnsupportedError(
                f"model {role} {position} is {tensor.dtype}; bundles support {', '.join(C_TYPES)}"
            )
        ctype, low, high = C_TYPES[tensor.dtype]
        quant = tensor.quantization
        quantized = quant is not None and low is not None
        described.append(
            {
                "role": role,
                "index": position,
                "MACRO": f"{name.upper()}_{role.upper()}{position}",
                "dtype": tensor.dtype,
                "ctype": ctype,
                "shape": list(tensor.shape),
                "shape_text": "x".join(map(str, tensor.shape)),
                "size": tensor.elements,
                "quantized": quantized,
                "scale_text": c_float(quant.scales[0]) if quantized else "",
                "zero_point": quant.zero_points[0] if quantized else 0,
                "min": low,
                "max": high,
            }
        )
    return described


def _sample_inputs(
    sample: str | Path | None, graph: ModelGraph
) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    """Input arrays for the self-test, keyed ``input_<i>``, and where they came from."""
    subgraph = graph.main
    arrays: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(0)
    for position, index in enumerate(subgraph.inputs):
        tensor = subgraph.tensors[index]
        dtype = np.dtype(tensor.dtype)
        if sample is not None and position == 0:
            arrays[f"input_{position}"] = _sample_from_file(Path(sample), tensor)
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arrays[f"input_{position}"] = rng.integers(info.min, info.max + 1, size=tensor.shape, dtype=dtype)
        else:
            arrays[f"input_{position}"] = rng.random(size=tensor.shape, dtype=np.float32).astype(dtype)
    source = f"first sample of {Path(sample).name}" if sample is not None else "seeded random values, seed 0"
    return arrays, source


def _sample_from_file(path: Path, tensor: Any) -> np.ndarray:
    """The first sample of a data file (any format ``--calib`` takes), in the input's type."""
    from edgeq.data import check_samples, read_dataset
    from edgeq.runtimes.tensors import TensorInfo, quantize

    x = check_samples(
        np.asarray(read_dataset(path, (None, *tensor.shape[1:]), "sample").x), f"--sample {path}"
    )
    first = x[0].reshape(-1)
    if first.size != tensor.elements:
        raise InputError(
            f"--sample {path} has samples of {first.size} values; the model input has {tensor.elements}"
        )
    quant = tensor.quantization
    info = TensorInfo(
        tensor.name,
        tensor.shape,
        tensor.dtype,
        quant.scales[0] if quant else 0.0,
        quant.zero_points[0] if quant else 0,
    )
    if np.issubdtype(first.dtype, np.floating) or not np.issubdtype(np.dtype(tensor.dtype), np.integer):
        return quantize(first.astype(np.float32), info).reshape(tensor.shape)
    return first.astype(tensor.dtype).reshape(tensor.shape)


def _c_values(values: np.ndarray, dtype: str) -> str:
    if dtype.startswith("float"):
        return "\n".join(
            "  " + ", ".join(c_float(float(v)) for v in values[start : start + 8]) + ","
            for start in range(0, len(values), 8)
        )
    return c_ints([int(v) for v in values])


def _labels(labels: str | Path | list[str] | None, graph: ModelGraph) -> list[str]:
    if labels is None:
        return []
    classes = graph.main.tensors[graph.main.outputs[0]].shape[-1] if graph.main.outputs else 0
    return read_labels(labels, classes)
