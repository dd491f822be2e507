"""The public Python API. Each function mirrors a CLI command and returns a frozen result."""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeq.bench import BenchOptions, BenchReport
from edgeq.bench import run as run_bench
from edgeq.checks import check_count, check_optional_count, check_seed
from edgeq.conversion.mixed import DEFAULT_MAX_TRIALS
from edgeq.conversion.modes import Variant, parse_modes
from edgeq.data import Dataset, Preprocessing, prepare_dataset, read_dataset
from edgeq.errors import InputError, UnsupportedError
from edgeq.inspection import inspect
from edgeq.mcu.bundle import export_mcu
from edgeq.results import ConvertResult, ModeResult, QATReport, SizeBaseline
from edgeq.results.convert import ModeFailure
from edgeq.version import __version__

if TYPE_CHECKING:
    from edgeq.conversion.loading import SourceModel

__all__ = ["bench", "convert", "export_mcu", "inspect", "qat"]

Progress = Callable[[str], None]
DEBUG_SAMPLES = 200


def convert(
    model: str | Path,
    calib: str | Path | None = None,
    eval: str | Path | None = None,
    mode: str | Sequence[str] = "int8",
    io: str = "auto",
    calib_samples: int = 200,
    eval_samples: int | None = None,
    seed: int = 0,
    scale: float | None = None,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    unsafe: bool = False,
    custom_objects: str | Path | None = None,
    static_batch: bool = True,
    layer_report: bool = False,
    max_drop: float | None = None,
    max_trials: int = DEFAULT_MAX_TRIALS,
    per_channel_dense: bool = False,
    progress: Progress | None = None,
    block: int | None = None,
) -> ConvertResult:
    """Convert a Keras model (.keras, Keras 2 .h5) or SavedModel folder to TensorFlow Lite.

    ``mode`` is a mode name, a list of names or ``"all"``; ``io="float"`` keeps float
    input/output on int8 / int16x8 models. ``calib`` (needed by int8 and int16x8) and ``eval``
    are .npz (``x``, optional ``y``; ``file.npz:NAME`` reads ``x_NAME``/``y_NAME``), .npy, .csv or
    an image folder; ``scale``, ``mean`` and ``std`` preprocess both. Every file is loaded and
    run once in LiteRT; with ``eval`` each is also evaluated against the float model. Keras
    models are converted with batch size 1 (static shapes, what microcontrollers want) unless
    ``static_batch=False``.

    ``layer_report`` adds each int8 op's quantization error, ranked and named by Keras layer
    (TensorFlow's QuantizationDebugger, on up to 200 evaluation samples, else calibration
    samples). ``max_drop`` (needs ``eval``) keeps the most harmful ops in float until the int8
    model is within that many points of the float model's top-1 (or, without labels or for a
    non-classifier, that relative L2 error), trying at most ``max_trials`` conversions; the result
    gets an ``int8_mixed`` mode when a mix was needed, and a ``mixed_precision`` report.

    int8 and int16x8 quantize FULLY_CONNECTED weights per tensor (TensorFlow Lite Micro then keeps
    no per-channel multipliers in its arena); ``per_channel_dense=True`` quantizes them per channel.

    ``int4``, ``dynamic-int4`` and ``dynamic-int2`` are the float32 file quantized by ai-edge-quantizer
    (see ``edgeq.conversion.lowbit``; ``block`` 32, 64 or 128 makes dynamic-int4 blockwise). With
    ``max_drop`` and ``int4``, the search first moves layers from int4 to int8 weights, then ops
    to float (the result's ``lowbit_mixed`` report and an ``int4_mixed`` mode).

    The converter runs in a child process. A mode it refuses or crashes on becomes one of the
    result's ``failures`` (with its reason; ``result.ok`` is False) and the other modes are still
    converted; recurrent layers are unrolled for int8 / int16x8 (see ``unroll_recurrent``).

    Returns a ConvertResult (``.save(folder)`` writes the .tflite files and reports).
    Raises InputError for bad files, data or options; when no mode converts, the first mode's
    error: UnsupportedError for models the mode cannot express, ConversionError when TensorFlow's
    converter fails or crashes otherwise.
    """
    from edgeq.conversion.accuracy import mixed_precision, mode_result
    from edgeq.conversion.loading import load_model
    from edgeq.conversion.sensitivity import CalibratedModel
    from edgeq.conversion.tflite_converter import Refusal, convert_isolated, start_converter
    from edgeq.runtimes.litert import REFERENCE_KERNELS

    say = progress or (lambda _message: None)
    check_seed(seed)
    check_count(calib_samples, "--calib-samples")
    check_optional_count(eval_samples, "--eval-samples")
    variants = parse_modes(mode if isinstance(mode, str) else ",".join(mode), io, block)
    check_accuracy_options(variants, layer_report, max_drop, max_trials, eval is not None)
    preprocessing = Preprocessing(scale=scale, mean=_as_tuple(mean), std=_as_tuple(std))

    say(f"loading {model}")
    # the converter child imports TensorFlow and loads the model while this process does the same
    with start_converter(model, unsafe, custom_objects) as converter:
        source = load_model(model, unsafe=unsafe, custom_objects=custom_objects)
        if any(v.needs_calibration for v in variants) and calib is None:
            needing = ", ".join(v.label for v in variants if v.needs_calibration)
            raise InputError(
                f"mode {needing} needs calibration data: pass --calib FILE (.npz, .npy, .csv or image folder)"
            )
        calibration_set = evaluation_set = None
        if calib is not None or eval is not None:
            calibration_set = _load_data(source, calib, "calibration", calib_samples, preprocessing, seed)
            evaluation_set = _load_data(source, eval, "evaluation", eval_samples, preprocessing, seed)

        reference_outputs, reference = _float_reference(source, evaluation_set, say)

        stem = _file_stem(source.path)
        smoke_input = _smoke_input(calibration_set, evaluation_set)
        say("converting " + ", ".join(v.label for v in variants) + " (in a child process)")
        # --max-drop on int4 quantizes the float32 file again and again: convert it too
        float32_variant = Variant("float32", "float32")
        extra = (
            (float32_variant,)
            if _lowbit_search(variants, max_drop) and float32_variant not in variants
            else ()
        )
        conversions = convert_isolated(
            source, variants + extra, calibration_set.x if calibration_set else None, static_batch,
            per_channel_dense, unsafe, custom_objects, converter,
        )  # fmt: skip
    float32_file = next(
        (c.tflite for v, c in zip(variants + extra, conversions, strict=True)
         if v == float32_variant and not isinstance(c, Refusal)),
        None,
    )  # fmt: skip
    conversions = conversions[: len(variants)]
    results: list[ModeResult] = []
    failures: list[ModeFailure] = []
    for variant, converted in zip(variants, conversions, strict=True):
        if isinstance(converted, Refusal):
            say(f"{variant.label} failed: {converted.error}")
            failures.append(
                ModeFailure(
                    variant.key, variant.label, variant.scheme, variant.io, str(converted.error),
                    converted.crashed, converted.error.exit_code,
                )
            )  # fmt: skip
            continue
        say(f"running {variant.label} in LiteRT" + (" and evaluating" if evaluation_set is not None else ""))
        # LiteRT's reference kernels compute blockwise int4 wrongly (digits: top-1 8.5 % against 99 %
        # with XNNPACK): those files are evaluated with the default kernels, which phones run
        blockwise = variant.block is not None
        result = mode_result(
            variant.key, variant.label, variant.scheme, variant.io, f"{stem}_{variant.key}.tflite",
            converted.tflite, converted.seconds, evaluation_set, reference_outputs, smoke_input,
            reference_kernels=not blockwise,
        )  # fmt: skip
        notes = converted.notes + _quantization_notes(variant, converted.tflite, per_channel_dense)
        if blockwise:
            notes += (
                "evaluated with LiteRT's default kernels (XNNPACK), as phones run it: LiteRT's reference "
                "kernels (and so runtimes built from them) compute blockwise int4 wrongly",
            )
        results.append(replace(result, notes=notes) if notes else result)
    if not results:
        first = next(c for c in conversions if isinstance(c, Refusal))
        raise first.error
    int8_search = layer_report or (max_drop is not None and any(v.scheme == "int8" for v in variants))
    if int8_search and not any(m.scheme == "int8" for m in results):
        int8_failure = next(f for f in failures if f.scheme == "int8")
        raise UnsupportedError(f"--layer-report and --max-drop need the int8 mode: {int8_failure.reason}")

    layer_errors = mixed = lowbit_mixed = None
    int4 = next((m for m in results if m.scheme == "int4"), None)
    if _lowbit_search(variants, max_drop) and int4 is not None and float32_file is not None:
        assert evaluation_set is not None and reference is not None and reference_outputs is not None
        assert calibration_set is not None and max_drop is not None
        lowbit_mixed, chosen4 = _lowbit_max_drop(
            source, float32_file, calibration_set.x, int4, max_drop, reference, evaluation_set,
            reference_outputs, f"{stem}_int4_mixed.tflite", say, max_trials,
        )  # fmt: skip
        if chosen4 is not None:
            results.append(chosen4)
    if int8_search:
        int8 = next(m for m in results if m.scheme == "int8")
        assert calibration_set is not None
        debug = evaluation_set.x if evaluation_set is not None else calibration_set.x
        say(f"measuring each layer's int8 error on {min(len(debug), DEBUG_SAMPLES)} samples")
        calibrated = CalibratedModel(source, calibration_set.x, debug[:DEBUG_SAMPLES], static_batch)
        layer_errors = calibrated.layer_errors()
        if max_drop is not None:
            assert evaluation_set is not None and reference is not None and reference_outputs is not None
            mixed, chosen = mixed_precision(
                calibrated, layer_errors, int8, max_drop, reference, evaluation_set, reference_outputs,
                f"{stem}_int8_mixed.tflite", say, max_trials,
            )  # fmt: skip
            if chosen is not None:
                results.append(chosen)

    float32 = next((m for m in results if m.key == "float32"), None)
    if float32 is not None:
        baseline = SizeBaseline("float32_tflite", float32.size_bytes)
    else:
        baseline = SizeBaseline("float32_weights", 4 * max(source.parameter_count or 0, 1))
    return ConvertResult(
        source=source.describe(),
        modes=tuple(results),
        size_baseline=baseline,
        preprocessing=preprocessing.to_dict(),
        calibration=_describe(calibration_set),
        evaluation_data=_describe(evaluation_set),
        reference=reference,
        kernels=REFERENCE_KERNELS,
        seed=seed,
        environment=_environment(),
        edgeq_version=__version__,
        layer_errors=layer_errors,
        mixed_precision=mixed,
        failures=tuple(failures),
        lowbit_mixed=lowbit_mixed,
    )


def _lowbit_search(variants: Sequence[Variant], max_drop: float | None) -> bool:
    return max_drop is not None and any(v.scheme == "int4" for v in variants)


def _lowbit_max_drop(
    source: Any,
    float32: bytes,
    calibration: np.ndarray,
    int4: ModeResult,
    budget: float,
    reference: Any,
    evaluation_set: Dataset,
    reference_outputs: list[np.ndarray],
    file_name: str,
    say: Progress,
    max_trials: int,
) -> tuple[Any, ModeResult | None]:
    """``--max-drop`` on int4 (see ``edgeq.conversion.lowbit_search``), ops named by Keras layer."""
    from edgeq.conversion.lowbit import CalibratedLowBit
    from edgeq.conversion.lowbit_search import lowbit_mixed_precision
    from edgeq.conversion.sensitivity import keras_layers_by_op
    from edgeq.tflite.reader import read_tflite

    names: dict[str, str] = {}
    if source.keras_model is not None:
        graph = read_tflite(float32, "float32")
        try:
            layers = keras_layers_by_op(graph, source.keras_model)
        except Exception:  # naming is a courtesy: an unusual graph keeps op numbers only
            layers = {}
        for op in graph.main.operators:
            if layers.get(op.index):
                names[graph.main.tensors[op.outputs[0]].name] = layers[op.index][0]
    say("--max-drop: calibrating the float32 file once for the int4 search")
    calibrated = CalibratedLowBit(float32, calibration)
    return lowbit_mixed_precision(
        calibrated,
        int4,
        budget,
        reference,
        evaluation_set,
        reference_outputs,
        file_name,
        say,
        names,
        max_trials,
    )


def _quantization_notes(variant: Variant, tflite: bytes, per_channel_dense: bool) -> tuple[str, ...]:
    """What the file's tensor types say the user should know: a dynamic-range file that quantized
    no weight (a float file under another name), and how FULLY_CONNECTED weights were quantized."""
    from edgeq.tflite.analysis import quantization_summary
    from edgeq.tflite.reader import read_tflite

    graph = read_tflite(tflite, variant.key)
    summary = quantization_summary(graph)
    notes = []
    if variant.scheme == "dynamic" and "int8" not in summary.weight_dtypes:
        notes.append(
            "the converter quantized no weights (no int8 tensor in the file): it is a float32 model, "
            "no smaller and no faster; dynamic range quantizes only large enough Dense / Conv / LSTM "
            "weights (try int8 or float16)"
        )
    dense = any(op.opcode == "FULLY_CONNECTED" for op in graph.main.operators)
    # per tensor is the default (said in --help and the README); only the other choice is a note
    if variant.scheme in ("int8", "int16x8") and dense and per_channel_dense:
        notes.append(
            "FULLY_CONNECTED weights per channel (--per-channel-dense): TensorFlow Lite Micro keeps a "
            "multiplier and shift per output channel in its arena"
        )
    return tuple(notes)


QAT_METHOD = (
    "fake quantization on Keras 3: batch-norm folded with frozen moving statistics; weights symmetric "
    "{weights}; activations int8 with "
    "ranges calibrated like post-training quantization, then tracked as an exponential moving average "
    "(momentum {momentum}) of each batch's min/max; straight-through gradients"
)
QAT_WEIGHTS = {
    8: "int8 (per output channel for Conv2D/DepthwiseConv2D, per tensor for Dense)",
    4: "int4, narrow range -7..7 (per output channel for Conv2D/DepthwiseConv2D/Dense), stored as INT4",
}
TFLM_TWIN = (
    "the int8 twin of the int4 file (the same weight values stored as INT8): this TensorFlow Lite Micro "
    "refuses int4 FULLY_CONNECTED filters"
)


def qat(
    model: str | Path,
    train: str | Path,
    eval: str | Path | None = None,
    epochs: int = 3,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    io: str = "auto",
    calib_samples: int = 200,
    train_samples: int | None = None,
    eval_samples: int | None = None,
    seed: int = 0,
    scale: float | None = None,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    unsafe: bool = False,
    custom_objects: str | Path | None = None,
    verbose: int = 1,
    progress: Progress | None = None,
    weight_bits: int = 8,
) -> ConvertResult:
    """Fine-tune a Keras model with int8 fake quantization and convert it to a full int8 .tflite.

    ``train`` holds the training samples (with labels ``y`` for a classifier: cross-entropy;
    without labels the model learns to match the float model's outputs). The result has two
    modes: ``int8`` (plain post-training quantization, calibrated on ``calib_samples`` training
    samples, for comparison) and ``int8_qat``, both evaluated on ``eval`` when given; its ``qat``
    section has the training history, the quantized layers and a TFLM check of the QAT model.
    ``verbose=1`` shows Keras' progress bar. Training is seeded and deterministic.

    ``weight_bits=4`` trains with 4-bit weights (symmetric -7..7, per output channel for every
    Conv2D / DepthwiseConv2D / Dense) and int8 activations, and writes INT4 weight tensors; the
    modes are then ``int4`` (post-training, ai-edge-quantizer) and ``int4_qat``, sizes are relative
    to the float32 file, and TFLM (which refuses int4 FULLY_CONNECTED filters) is checked on the
    QAT file's int8 twin (``edgeq.tflite.rewrite.unpack_int4_weights``, the same values).

    Raises UnsupportedError before training when a layer cannot be handled (naming it),
    InputError for bad files, data or options, ConversionError when conversion fails.
    """
    from edgeq.conversion.accuracy import mode_result, tflm_check
    from edgeq.conversion.loading import load_model
    from edgeq.conversion.qat import (
        build_qat_model,
        describe_layers,
        export_qat,
        trace_graph,
        training_loss,
        without_class_agreement,
    )  # fmt: skip
    from edgeq.conversion.quiet import import_tensorflow
    from edgeq.conversion.tflite_converter import convert_variant
    from edgeq.runtimes.litert import REFERENCE_KERNELS
    from edgeq.tflite.rewrite import unpack_int4_weights

    say = progress or (lambda _message: None)
    variant = parse_modes("int8", io)[0]
    check_qat_options(weight_bits, io)
    check_seed(seed)
    check_count(epochs, "--epochs")
    check_count(batch_size, "--batch-size")
    check_count(calib_samples, "--calib-samples")
    check_optional_count(train_samples, "--train-samples")
    check_optional_count(eval_samples, "--eval-samples")
    if not learning_rate > 0:
        raise InputError(f"--lr must be a positive number, got {learning_rate}")
    preprocessing = Preprocessing(scale=scale, mean=_as_tuple(mean), std=_as_tuple(std))
    say(f"loading {model}")
    source = load_model(model, unsafe=unsafe, custom_objects=custom_objects)
    if source.keras_model is None:
        raise UnsupportedError(
            f"edgeq qat rebuilds a Keras model's layers; {source.path} is a SavedModel: "
            "give the .keras or .h5 file"
        )
    nodes = trace_graph(source.keras_model)[0]  # names an unsupported layer before any training
    regression = _regression_training_set(source, train, train_samples, preprocessing, seed)
    if regression is None:
        train_set = _load_data(source, train, "training", train_samples, preprocessing, seed)
        float_targets = None
    else:
        train_set, float_targets = regression
    labels = regression is None  # a regression's float targets are no class labels
    calibration_set = _load_data(source, train, "calibration", calib_samples, preprocessing, seed, labels)
    evaluation_set = _load_data(source, eval, "evaluation", eval_samples, preprocessing, seed, labels)
    assert train_set is not None and calibration_set is not None

    reference_outputs, reference = _float_reference(source, evaluation_set, say)
    stem = _file_stem(source.path)
    smoke = _smoke_input(calibration_set)
    if weight_bits == 4:
        say("converting int4 (post-training quantization with ai-edge-quantizer, for comparison)")
        ptq, float32_bytes = _int4_post_training(source, calibration_set.x)
        key, label, scheme = "int4", "int4", "int4"
        baseline = SizeBaseline("float32_tflite", float32_bytes)
    else:
        say("converting int8 (post-training quantization, for comparison)")
        ptq = convert_variant(source, variant, calibration_set.x)
        key, label, scheme = variant.key, variant.label, variant.scheme
        baseline = SizeBaseline("float32_weights", 4 * max(source.parameter_count or 0, 1))
    ptq_mode = mode_result(key, label, scheme, variant.io, f"{stem}_{key}.tflite", ptq.tflite, ptq.seconds,
                           evaluation_set, reference_outputs, smoke)  # fmt: skip
    modes = [replace(ptq_mode, notes=ptq.notes) if ptq.notes else ptq_mode]

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    say(f"building the quantization-aware model, ranges calibrated on {len(calibration_set)} samples")
    qat_model, nodes = build_qat_model(source.keras_model, calibration_set.x, weight_bits=weight_bits)
    if float_targets is not None:
        task, targets = "regression", float_targets
    elif train_set.y is not None:
        task, targets = "classification", train_set.y
    else:
        task, targets = "distillation", source.predict(train_set.x)[0]
    loss, metrics, loss_name = training_loss(nodes, task)
    qat_model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
    say(f"training {epochs} epoch(s) on {len(train_set)} samples, batch {batch_size}, lr {learning_rate:g}")
    started = time.perf_counter()
    history = qat_model.fit(
        train_set.x, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose
    ).history
    bits = f"int{weight_bits}"
    say(f"converting the trained model to {'int4 weights, int8 activations' if weight_bits == 4 else bits}")
    tflite = export_qat(qat_model, variant.io, weight_bits)
    seconds = time.perf_counter() - started
    qat_mode = mode_result(
        f"{bits}_qat", f"{bits} (QAT)", bits, variant.io, f"{stem}_{bits}_qat.tflite", tflite, seconds,
        evaluation_set, reference_outputs, smoke,
    )  # fmt: skip
    modes.append(qat_mode)
    if task == "regression":  # outputs are values, not class scores: rel L2 is the measure
        modes = [without_class_agreement(mode) for mode in modes]
    twin = unpack_int4_weights(tflite) if weight_bits == 4 else None  # what TFLM accepts, same values
    say("running the QAT model" + (" (its int8 twin)" if twin else "") + " in TensorFlow Lite Micro "
        "against LiteRT's reference kernels")  # fmt: skip
    check = tflm_check(twin or tflite, qat_mode.inputs, (evaluation_set or train_set).x)
    input_layer = qat_model.get_layer("input_quant")
    report = QATReport(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, train_samples=len(train_set),
        loss=loss_name, history={k: tuple(float(v) for v in values) for k, values in history.items()},
        input_range=(float(input_layer.low.numpy()), float(input_layer.high.numpy())),
        layers=describe_layers(qat_model, nodes), method=_qat_method(weight_bits), mode_key=qat_mode.key,
        tflm=check, task=task, weight_bits=weight_bits, tflm_subject=TFLM_TWIN if twin else None,
    )  # fmt: skip
    return ConvertResult(
        source=source.describe(),
        modes=tuple(modes),
        size_baseline=baseline,
        preprocessing=preprocessing.to_dict(),
        calibration=_describe(calibration_set),
        evaluation_data=_describe(evaluation_set),
        reference=reference,
        kernels=REFERENCE_KERNELS,
        seed=seed,
        environment=_environment(),
        edgeq_version=__version__,
        qat=report,
    )


def check_qat_options(weight_bits: int, io: str) -> None:
    """InputError unless ``weight_bits`` is one edgeq qat trains with (8, 4) and fits ``io``."""
    from edgeq.conversion.qat_weights import WEIGHT_BITS

    if weight_bits not in WEIGHT_BITS:
        raise InputError(
            f"--weight-bits must be 8 (int8 weights) or 4 (int4 weights, per channel), got {weight_bits}"
        )
    if weight_bits == 4 and io == "float":
        raise InputError("--weight-bits 4 writes int8 input/output (like mode int4): drop --io float")


def _qat_method(weight_bits: int) -> str:
    """How edgeq qat quantizes, as a sentence fragment for the report."""
    from edgeq.conversion.qat import EMA_MOMENTUM

    method = QAT_METHOD.format(weights=QAT_WEIGHTS[weight_bits], momentum=EMA_MOMENTUM)
    return method + (f"; TensorFlow Lite Micro is checked on {TFLM_TWIN}" if weight_bits == 4 else "")


def _int4_post_training(source: SourceModel, calibration: np.ndarray) -> tuple[Any, int]:
    """The int4 post-training file (the float32 file quantized by ai-edge-quantizer, int8
    activations calibrated on ``calibration``) as a Converted, and the float32 file's size in bytes."""
    from edgeq.conversion.tflite_converter import convert_lowbit, convert_variant

    float32 = convert_variant(source, Variant("float32", "float32"), None)
    return convert_lowbit(float32, Variant("int4", "int8"), calibration), len(float32.tflite)


def _float_reference(source: Any, evaluation_set: Dataset | None, say: Progress) -> tuple[Any, Any]:
    """The float model's outputs on the evaluation samples and their evaluation (the reference every
    mode is compared with); (None, None) without evaluation data."""
    if evaluation_set is None:
        return None, None
    from edgeq.conversion.evaluate import evaluate

    say(f"running the float model on {len(evaluation_set)} evaluation samples")
    outputs = source.predict(evaluation_set.x)
    return outputs, evaluate(outputs, outputs, evaluation_set.y)


def _load_data(
    source: SourceModel,
    data: str | Path | None,
    role: str,
    samples: int | None,
    preprocessing: Preprocessing,
    seed: int,
    labels: bool = True,
) -> Dataset | None:
    """Read ``data`` for the model's single input, preprocessed and sampled (None for no data);
    its labels are dropped unless ``labels``."""
    if data is None:
        return None
    if len(source.inputs) != 1:
        raise UnsupportedError(
            f"model {source.path} has {len(source.inputs)} inputs; edgeq calibrates, evaluates and "
            "trains single-input models only"
        )
    spec = source.inputs[0]
    classes = _class_count(source.outputs[0].shape) if source.outputs else None
    raw = read_dataset(data, spec.shape, role)
    return prepare_dataset(
        raw if labels else replace(raw, y=None), spec.shape, spec.dtype, preprocessing, role,
        samples=samples, seed=seed, num_classes=classes,
    )  # fmt: skip


def _regression_training_set(
    source: SourceModel, train: str | Path, samples: int | None, preprocessing: Preprocessing, seed: int
) -> tuple[Dataset, np.ndarray] | None:
    """The training samples (without labels) and their float targets when ``train``'s targets are
    a regression's (``regression_targets``), else None. The targets' row numbers go through
    sampling as labels, so the drawn targets stay aligned with the drawn samples."""
    from edgeq.conversion.qat import regression_targets

    if len(source.inputs) != 1 or not source.outputs:
        return None
    spec = source.inputs[0]
    raw = read_dataset(train, spec.shape, "training")
    targets = regression_targets(raw.y, source.outputs[0].shape)
    if targets is None:
        return None
    rows = prepare_dataset(
        replace(raw, y=np.arange(len(targets))), spec.shape, spec.dtype, preprocessing, "training",
        samples=samples, seed=seed,
    )  # fmt: skip
    assert rows.y is not None
    return replace(rows, y=None), targets[rows.y]


def check_accuracy_options(
    variants: Sequence[Variant], layer_report: bool, max_drop: float | None, max_trials: int, has_eval: bool
) -> None:
    """Raise InputError when --layer-report / --max-drop cannot apply to these modes and data."""
    if not (layer_report or max_drop is not None):
        return
    option = "--max-drop" if max_drop is not None else "--layer-report"
    wanted = ("int8", "int4") if max_drop is not None and not layer_report else ("int8",)
    if not any(v.scheme in wanted for v in variants):
        raise InputError(
            f"{option} works on full int8" + (" or int4" if len(wanted) > 1 else "") + ": add it to --mode"
        )
    if max_drop is not None:
        if not has_eval:
            raise InputError("--max-drop needs evaluation data to measure the drop: pass --eval FILE")
        if not (max_drop >= 0 and max_drop < float("inf")):
            raise InputError(f"--max-drop must be a number of points (or relative L2) >= 0, got {max_drop}")
        if max_trials < 2:
            raise InputError(f"--max-trials must be at least 2, got {max_trials}")


def _as_tuple(value: float | Sequence[float] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


def _class_count(shape: tuple[int | None, ...]) -> int | None:
    return shape[-1] if len(shape) == 2 and shape[-1] is not None and shape[-1] > 1 else None


def _file_stem(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem if path.is_file() else path.name).strip("_")
    return stem or "model"


def _smoke_input(*datasets: Dataset | None) -> np.ndarray | None:
    for dataset in datasets:
        if dataset is not None:
            return dataset.x[:1]
    return None


def _describe(dataset: Dataset | None) -> dict[str, object] | None:
    return dataset.describe() if dataset is not None else None


def _environment() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        **package_versions(("tensorflow", "keras", "ai-edge-litert", "numpy")),
    }


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """Installed version of each package (or of its ``-cpu`` build), else "not installed"."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            try:
                versions[package] = metadata.version(f"{package}-cpu")
            except metadata.PackageNotFoundError:
                versions[package] = "not installed"
    return versions


def bench(
    models: Sequence[str | Path],
    targets: str | Sequence[str] = "host",
    options: BenchOptions | None = None,
    progress: Progress | None = None,
    **settings: Any,
) -> BenchReport:
    """Benchmark every .tflite model on every target (comma-separated text or a list).

    ``host``: LiteRT latency on this machine. ``cortex-m0|m3|m4|m7|m33|m55``, ``lm3s6965``: edgeq's
    C engine with its core's kernel path (portable C99 on m0/m3, Arm DSP extension on m4/m7/m33,
    Helium on m55) built with arm-none-eabi-gcc and run under QEMU, output-checked against the engine
    compiled for this machine and TFLite Micro; instructions counted, cycles and latency at the
    clock estimated, flash and RAM from the linker map. ``rpi4|rpi5``: LiteRT in an emulated
    aarch64 Debian with a pinned core. ``ssh://user@host[:port]``: LiteRT on a Linux board.
    ``adb[:SERIAL]``: TFLite's ``benchmark_model`` on an Android phone. ``serial:PORT[@BAUD]``:
    the self-test line of an edgeq firmware bundle on a board. How they run is ``options``
    (a BenchOptions), with ``settings`` (BenchOptions fields: ``runs=30``, ``clock="48MHz"``)
    replacing its values.

    Returns a BenchReport, ordered by model, then target as given; a model that failed on a
    target (BenchFailure) is recorded in its result and the others go on. Raises InputError for
    bad targets, options or files, ToolchainError when a needed program is missing, DeviceError
    when a device cannot be reached or answers wrongly, TypeError for a setting that is not a
    BenchOptions field.
    """
    return run_bench(models, targets, replace(options or BenchOptions(), **settings), progress)
