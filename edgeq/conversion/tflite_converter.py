"""Drive ``tf.lite.TFLiteConverter`` for one variant: builtin ops only, never Flex; and run it in a
child process (``convert_isolated``) so that a converter crash fails one mode, not edgeq."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from edgeq.conversion.loading import SourceModel
from edgeq.conversion.modes import Variant
from edgeq.conversion.quiet import import_tensorflow, quiet
from edgeq.errors import ConversionError, EdgeqError, InputError, UnsupportedError
from edgeq.runtimes.runners import exit_description


@dataclass(frozen=True)
class Converted:
    """The bytes of a .tflite file, how long the converter took, what it printed, and what edgeq
    changed to convert it (``notes``, e.g. recurrent layers unrolled)."""

    tflite: bytes
    seconds: float
    log: str
    notes: tuple[str, ...] = ()


def convert_variant(
    source: SourceModel,
    variant: Variant,
    calibration: np.ndarray | None,
    static_batch: bool = True,
    per_channel_dense: bool = False,
) -> Converted:
    """Convert ``source`` to ``variant``; ``calibration`` holds the representative samples.

    ``static_batch`` fixes a Keras model's batch dimension to 1 (see SourceModel.make_converter).
    Full-integer modes quantize FULLY_CONNECTED weights per tensor unless ``per_channel_dense``:
    per-channel dense layers make TensorFlow Lite Micro keep a multiplier and a shift per output
    channel in the arena (an MLPerf Tiny anomaly-detection autoencoder: 22,040 B of arena instead
    of 4,632 B) for an accuracy gain dense layers rarely need. Convolutions stay per channel.

    Raises InputError when calibration data is needed and missing, UnsupportedError when the
    model needs ops outside the TFLite builtins for this scheme, ConversionError otherwise.
    """
    tf = import_tensorflow()
    if variant.needs_calibration and (calibration is None or len(calibration) == 0):
        raise InputError(f"mode {variant.label} needs calibration data: pass --calib FILE")
    if variant.lowbit:
        float32 = convert_variant(source, Variant("float32", "float32"), None, static_batch)
        return convert_lowbit(float32, variant, calibration)
    started = time.perf_counter()
    converter = source.make_converter(static_batch)
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    if variant.scheme == "float32":
        converter.target_spec.supported_ops = [builtins]
    elif variant.scheme == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        converter.target_spec.supported_ops = [builtins]
    elif variant.scheme == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [builtins]
    else:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(calibration)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            if variant.scheme == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
        if variant.io != "float32":
            io_type = tf.int8 if variant.io == "int8" else tf.int16
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
    try:
        with quiet() as captured:
            tflite = converter.convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise _explain_failure(variant, exc) from exc
    return Converted(tflite=bytes(tflite), seconds=time.perf_counter() - started, log=captured.text)


def _representative(calibration: np.ndarray | None) -> object:
    samples = np.asarray(calibration, dtype=np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for index in range(len(samples)):
            yield [samples[index : index + 1]]

    return generate


_OP_PATTERN = re.compile(r"'((?:tf|tfl)\.[A-Za-z0-9_]+)'")


_NOT_QUANTIZABLE = re.compile(r"Quantization to (\S+) not yet supported for op: '([A-Z0-9_]+)'")


def _explain_failure(variant: Variant, exc: Exception) -> Exception:
    text = str(exc)
    refused = _NOT_QUANTIZABLE.search(text)
    if refused:
        return UnsupportedError(
            f"mode {variant.label}: TensorFlow's converter cannot quantize {refused.group(2)} to "
            f"{refused.group(1)}: try another --mode (e.g. int8) or replace the layer"
        )
    ops = sorted(set(_OP_PATTERN.findall(text)))
    if ops or "not supported" in text or "Flex" in text:
        named = ", ".join(ops) if ops else "some ops"
        return UnsupportedError(
            f"mode {variant.label}: {named} cannot be expressed with TensorFlow Lite builtin ops "
            "for this mode (edgeq never emits Flex ops, which no microcontroller runtime runs); "
            "try another --mode or replace the layer"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ConversionError(f"mode {variant.label}: the TensorFlow Lite converter failed ({first[:200]})")


CONVERT_TIMEOUT_S = 900


def unroll_recurrent(source: SourceModel) -> tuple[SourceModel, tuple[str, ...]]:
    """``source`` with its Keras LSTM / GRU / SimpleRNN layers (also inside Bidirectional) unrolled,
    and the names of the layers changed; ``source`` itself when there are none or it cannot be rebuilt.

    TF 2.21's converter segfaults on the fused LSTM path in full-integer modes; unrolled, a
    recurrent layer becomes SPLIT / UNPACK / PACK / STRIDED_SLICE / FULLY_CONNECTED / MUL / ADD /
    LOGISTIC / TANH, which converts to int8 and runs in TensorFlow Lite Micro. The weights are shared.
    """
    model = source.keras_model
    if model is None:
        return source, ()
    changed = [layer.name for layer in source.keras_layers() if _has_fused_recurrence(layer.get_config())]
    if not changed:
        return source, ()
    import keras

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        if not _has_fused_recurrence(config):
            return layer.__class__.from_config(config)
        return layer.__class__.from_config(_set_unroll(config))

    try:
        rebuilt = keras.models.clone_model(model, clone_function=clone)
        rebuilt.set_weights(model.get_weights())
    except Exception:  # subclassed or unusual models: convert them as they are (in a child process)
        return source, ()
    unrolled = SourceModel(
        path=source.path, kind=source.kind, sha256=source.sha256, inputs=source.inputs,
        outputs=source.outputs, parameter_count=source.parameter_count, repairs=source.repairs,
        keras_model=rebuilt,
    )  # fmt: skip
    return unrolled, tuple(changed)


def _has_fused_recurrence(config: Any) -> bool:
    if isinstance(config, dict):
        if config.get("unroll") is False:
            return True
        return any(_has_fused_recurrence(value) for value in config.values())
    if isinstance(config, list):
        return any(_has_fused_recurrence(value) for value in config)
    return False


def _set_unroll(config: Any) -> Any:
    if isinstance(config, dict):
        return {key: True if key == "unroll" else _set_unroll(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_set_unroll(value) for value in config]
    return config


@dataclass(frozen=True)
class Refusal:
    """Why one variant produced no file: the error edgeq would raise, and whether the converter crashed."""

    error: EdgeqError
    crashed: bool = False


class ConverterChild:
    """A converter child process that imports TensorFlow and loads the model file at once, then
    waits on its stdin for one request (``convert_isolated`` sends it): its start-up overlaps
    whatever the parent does meanwhile (loading the model and the data, running the float model).

    Use it as a context manager: leaving the block kills and reaps a child that is still running
    (the parent failed before using it, or was interrupted), so none is ever left behind. The
    child's output goes to unlinked temporary files, so nothing is left on disk either.
    """

    def __init__(self, model: str | Path, unsafe: bool = False, custom_objects: str | Path | None = None):
        self.model = str(model)
        self.unsafe = unsafe
        self.custom_objects = str(custom_objects) if custom_objects else None
        self.used = False
        # unlinked files, not pipes: a child writing while the parent is busy never blocks; closed by close()
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        preload = json.dumps({"model": self.model, "unsafe": unsafe, "custom_objects": self.custom_objects})
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edgeq.conversion.tflite_converter", preload],
                stdin=subprocess.PIPE, stdout=self._stdout, stderr=self._stderr,
            )  # fmt: skip
        except BaseException:
            self._stdout.close()
            self._stderr.close()
            raise
        self.pid = self.process.pid

    def serves(self, model: str | Path, unsafe: bool, custom_objects: str | Path | None) -> bool:
        """Whether this child is unused and was started for this model file and these options."""
        wanted = (str(model), unsafe, str(custom_objects) if custom_objects else None)
        return not self.used and (self.model, self.unsafe, self.custom_objects) == wanted

    def exchange(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None, list[str]]:
        """Send ``request``, wait for the child to end (at most CONVERT_TIMEOUT_S); return its answers,
        how it ended (None for a clean exit) and the last line it wrote to stderr."""
        self.used = True
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.close()
        except OSError:  # the child is gone already (it crashed loading the model): its status says how
            pass
        try:
            returncode = self.process.wait(timeout=CONVERT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            how: str | None = f"no answer within {CONVERT_TIMEOUT_S} s"
        else:
            how = None if returncode == 0 else exit_description(returncode)
        answers = _answers(self._read(self._stdout))
        stderr = self._read(self._stderr).strip()
        return answers, how, stderr.splitlines()[-1:] if stderr else []

    def close(self) -> None:
        """Kill the child if it still runs, reap it, and close its output files; idempotent."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._stdout.close()
        self._stderr.close()

    def __enter__(self) -> ConverterChild:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @staticmethod
    def _read(file: IO[bytes]) -> str:
        if file.closed:
            return ""
        file.seek(0)
        return file.read().decode("utf-8", errors="replace")


def start_converter(
    model: str | Path, unsafe: bool = False, custom_objects: str | Path | None = None
) -> ConverterChild:
    """Start the converter child for ``model`` now, for a later ``convert_isolated(..., child=...)``."""
    return ConverterChild(model, unsafe, custom_objects)


def _answers(stdout: str) -> list[dict[str, Any]]:
    """The child's JSON answer lines, up to a line cut short (a child killed while writing it)."""
    answers = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                answers.append(json.loads(line))
            except ValueError:
                break
    return answers


def convert_isolated(
    source: SourceModel,
    variants: tuple[Variant, ...],
    calibration: np.ndarray | None,
    static_batch: bool = True,
    per_channel_dense: bool = False,
    unsafe: bool = False,
    custom_objects: str | Path | None = None,
    child: ConverterChild | None = None,
) -> list[Converted | Refusal]:
    """Convert every variant of the model file ``source.path`` in a child process, in order.

    A variant the converter refuses is a Refusal carrying the error ``convert_variant`` raises; a
    converter crash (segfault, abort, timeout) is a Refusal with ``crashed`` set, and a fresh child
    converts the remaining variants. Full-integer variants of models with recurrent layers are
    converted with those layers unrolled (see ``unroll_recurrent``), noted in ``Converted.notes``.
    ``unsafe`` and ``custom_objects`` are those the model was loaded with. ``child``, from
    ``start_converter`` for the same file and options, is used for the first request instead of
    starting a child (and closed); without it, or for another model, a child is started here.
    """
    results: list[Converted | Refusal] = []
    with tempfile.TemporaryDirectory(prefix="edgeq-convert-") as work:
        folder = Path(work)
        calibration_file = None
        if calibration is not None:
            calibration_file = str(folder / "calibration.npy")
            np.save(calibration_file, np.asarray(calibration, dtype=np.float32))
        while len(results) < len(variants):
            remaining = variants[len(results) :]
            request = {
                "model": str(source.path), "unsafe": unsafe,
                "custom_objects": str(custom_objects) if custom_objects else None,
                "static_batch": static_batch, "per_channel_dense": per_channel_dense,
                "calibration": calibration_file, "folder": str(folder),
                "variants": [[v.scheme, v.io, v.block] for v in remaining],
            }  # fmt: skip
            if child is None or not child.serves(source.path, unsafe, custom_objects):
                if child is not None:
                    child.close()
                child = ConverterChild(source.path, unsafe, custom_objects)
            with child:
                answers, how, tail = child.exchange(request)
            child = None
            for answer in answers:
                results.append(_read_answer(answer, folder))
            if len(results) < len(variants):
                variant = variants[len(results)]
                if how is None:  # the child ended cleanly without answering: say what it printed
                    how = f"the converter process stopped ({tail[0][:200] if tail else 'no output'})"
                results.append(
                    Refusal(
                        ConversionError(
                            f"mode {variant.label}: the TensorFlow Lite converter crashed ({how})"
                        ),
                        crashed=True,
                    )
                )
    return results


def _read_answer(answer: dict[str, Any], folder: Path) -> Converted | Refusal:
    if answer["ok"]:
        return Converted(
            tflite=(folder / answer["file"]).read_bytes(), seconds=float(answer["seconds"]),
            log=str(answer.get("log", "")), notes=tuple(answer.get("notes", ())),
        )  # fmt: skip
    kind = {"InputError": InputError, "UnsupportedError": UnsupportedError}.get(
        answer["error"], ConversionError
    )
    return Refusal(kind(answer["message"]))


def _child(preload: str) -> None:
    """The child side of ``ConverterChild``: import TensorFlow and load the model before the request
    arrives on stdin, then convert each variant it names, one JSON line per variant on stdout."""
    from edgeq.conversion.loading import load_model

    options = json.loads(preload)
    loaded = (options["model"], options["unsafe"], options["custom_objects"])
    source: SourceModel | None
    try:
        source = load_model(*loaded)
    except Exception:  # loaded again once asked, so that the error ends the child as it always did
        source = None
    line = sys.stdin.readline()
    if not line.strip():  # the parent closed stdin without a request: it no longer needs a converter
        return
    request = json.loads(line)
    asked = (request["model"], request["unsafe"], request["custom_objects"])
    if source is None or asked != loaded:
        source = load_model(*asked)
    folder = Path(request["folder"])
    calibration = np.load(request["calibration"]) if request["calibration"] else None
    unrolled: tuple[SourceModel, tuple[str, ...]] | None = None
    float32: Converted | None = None  # the float32 file the low-bit modes quantize (converted once)
    for scheme, io, block in request["variants"]:
        variant = Variant(scheme, io, block)
        model, notes = source, ()
        if variant.lowbit:
            try:
                if float32 is None:
                    float32 = convert_variant(
                        source, Variant("float32", "float32"), None, request["static_batch"]
                    )
                converted = convert_lowbit(float32, variant, calibration)
            except EdgeqError as exc:
                answer = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
            else:
                answer = _written(folder, variant, converted, converted.notes)
            print(json.dumps(answer), flush=True)
            continue
        if variant.needs_calibration:
            if unrolled is None:
                unrolled = unroll_recurrent(source)
            model, layers = unrolled
            if layers:
                notes = (
                    f"recurrent layer(s) {', '.join(layers)} unrolled for {variant.label}: TF 2.21's "
                    "converter crashes on the fused LSTM path in full-integer modes",
                )
        try:
            converted = convert_variant(
                model, variant, calibration, request["static_batch"], request["per_channel_dense"]
            )
        except EdgeqError as exc:
            answer: dict[str, Any] = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        else:
            answer = _written(folder, variant, converted, notes)
        print(json.dumps(answer), flush=True)


def _written(folder: Path, variant: Variant, converted: Converted, notes: tuple[str, ...]) -> dict[str, Any]:
    name = f"{variant.key}.tflite"
    (folder / name).write_bytes(converted.tflite)
    return {
        "ok": True, "file": name, "seconds": converted.seconds, "log": converted.log, "notes": list(notes),
    }  # fmt: skip


def convert_lowbit(float32: Converted, variant: Variant, calibration: np.ndarray | None) -> Converted:
    """The low-bit ``variant`` of the float32 conversion ``float32`` (see ``edgeq.conversion.lowbit``);
    its seconds include the float32 conversion's."""
    from edgeq.conversion.lowbit import quantize_lowbit

    started = time.perf_counter()
    tflite = quantize_lowbit(float32.tflite, variant.scheme, calibration, variant.block)
    return Converted(
        tflite=tflite, seconds=float32.seconds + time.perf_counter() - started, log=float32.log,
        notes=(lowbit_note(variant, tflite, calibration),),
    )  # fmt: skip


def lowbit_note(variant: Variant, tflite: bytes, calibration: np.ndarray | None) -> str:
    """How a low-bit file was made and which ops got which weights (read from the file)."""
    from importlib.metadata import version

    from edgeq.conversion.lowbit import describe_weights, int2_zero_share

    made = f"TFLiteConverter float32, then ai-edge-quantizer {version('ai-edge-quantizer')}"
    grain = f"in blocks of {variant.block}" if variant.block else "per channel"
    if variant.scheme == "int4":
        samples = 0 if calibration is None else len(calibration)
        return (
            f"{made}: {describe_weights(tflite)} ({grain}); int8 activations calibrated on {samples} samples "
            "(global min/max, as TFLiteConverter); int8 input/output"
        )
    note = f"{made}: {describe_weights(tflite)} ({grain}); float activations, quantized at run time by LiteRT"
    zeros = int2_zero_share(tflite) if variant.scheme == "dynamic-int2" else None
    if zeros is not None:
        note += (
            f"; a 2-bit weight is -1, 0 or +1 times its channel's scale, and {zeros:.0%} of this model's "
            "int2 weights are 0"
        )
    return note


if __name__ == "__main__":
    _child(sys.argv[1])
