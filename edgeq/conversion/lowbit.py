"""4-bit (and 2-bit) weights: a float32 ``.tflite`` from TFLiteConverter, quantized by Google's
``ai-edge-quantizer`` with recipes edgeq writes.

Why this route: TF 2.21's TFLiteConverter writes no INT4 tensors (its ``_experimental_low_bit_qat``
keeps 4-bit QAT weights as int8 values), while ai-edge-quantizer writes packed INT4 (and INT2)
weights that LiteRT and, where its kernels accept them, TensorFlow Lite Micro run.

* ``int4``: static quantization, int8 activations calibrated with the representative samples,
  integer input and output, int4 weights per output channel (symmetric, [-7, 7]) on CONV_2D,
  DEPTHWISE_CONV_2D and FULLY_CONNECTED, int8 everywhere else. ai-edge-quantizer's policy lists
  int4 only for CONV_2D and FULLY_CONNECTED and leaves a depthwise convolution *float* (with a
  DEQUANTIZE/QUANTIZE pair around it); edgeq asks for int4 depthwise weights with ``skip_checks``,
  which LiteRT's kernels run (checked by running every file in the accuracy table).
* ``dynamic-int4`` / ``dynamic-int2``: weight-only integers, float activations quantized on the
  fly by LiteRT's kernels (for phones); per channel, or blockwise with ``block`` 32, 64 or 128
  (4-bit only). ai-edge-quantizer quantizes FULLY_CONNECTED (and EMBEDDING_LOOKUP) this way;
  convolutions stay float.

``int8_ops`` / ``float_ops`` name operators (by their first output tensor's name) that keep int8
weights or stay float: the steps ``--max-drop`` takes.

ai-edge-quantizer stores some files' buffers after the flatbuffer, addressed by offset, even small
ones (an AD autoencoder's all-int8 file, 290 KB); this TensorFlow Lite Micro reads such buffers as
zeros, so every file is rewritten with its buffers inline (``edgeq.tflite.rewrite.inline_buffers``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Iterator
from typing import Any

import numpy as np

from edgeq.conversion.modes import BLOCKS
from edgeq.conversion.modes import LOWBIT_SCHEMES as SCHEMES
from edgeq.errors import ConversionError, EdgeqError, InputError
from edgeq.tflite.rewrite import WEIGHT_OPS, inline_buffers


def check_block(scheme: str, block: int | None) -> None:
    """InputError unless ``block`` is None or one of BLOCKS and ``scheme`` takes it."""
    if block is None:
        return
    if block not in BLOCKS:
        raise InputError(f"--block must be one of {', '.join(map(str, BLOCKS))}, got {block}")
    if scheme != "dynamic-int4":
        raise InputError(f"--block applies to dynamic-int4 only (mode {scheme} is per channel)")


def _activation(bits: int) -> dict[str, Any]:
    return {"num_bits": bits, "symmetric": False, "granularity": "TENSORWISE", "dtype": "INT"}


def _weights(bits: int, granularity: str = "CHANNELWISE") -> dict[str, Any]:
    return {"num_bits": bits, "symmetric": True, "granularity": granularity, "dtype": "INT"}


def _entry(regex: str, operation: str, op_config: dict[str, Any] | None) -> dict[str, Any]:
    if op_config is None:
        return {"regex": regex, "operation": operation, "algorithm_key": "no_quantize"}
    return {
        "regex": regex, "operation": operation, "algorithm_key": "min_max_uniform_quantize",
        "op_config": {"compute_precision": "INTEGER", "explicit_dequantize": False,
                      "min_weight_elements": 0, **op_config},
    }  # fmt: skip


def _static(weight_bits: int, skip_checks: bool = False) -> dict[str, Any]:
    return {"activation_tensor_config": _activation(8), "weight_tensor_config": _weights(weight_bits),
            "skip_checks": skip_checks}  # fmt: skip


def scope(name: str) -> str:
    """The recipe regex that selects the operator whose first output tensor is ``name`` (and only it):
    ai-edge-quantizer matches it against the op's output names, each followed by ``;``."""
    return f"^{re.escape(name)};"


def recipe(
    scheme: str,
    block: int | None = None,
    int8_ops: Collection[str] = (),
    float_ops: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The ai-edge-quantizer recipe for ``scheme`` (later entries win where several match)."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown low-bit mode {scheme!r}: choose from {', '.join(SCHEMES)}")
    check_block(scheme, block)
    if scheme == "int4":
        entries = [_entry(".*", "*", _static(8))]
        entries += [_entry(".*", op, _static(4, skip_checks=op == "DEPTHWISE_CONV_2D")) for op in WEIGHT_OPS]
        entries += [_entry(scope(name), "*", _static(8)) for name in int8_ops]
    else:
        bits = 4 if scheme == "dynamic-int4" else 2
        granularity = f"BLOCKWISE_{block}" if block else "CHANNELWISE"
        entries = [_entry(".*", "*", {"weight_tensor_config": _weights(bits, granularity)})]
        entries += [_entry(scope(name), "*", {"weight_tensor_config": _weights(8)}) for name in int8_ops]
    entries += [_entry(scope(name), "*", None) for name in float_ops]
    return entries


def quantize_lowbit(
    float_tflite: bytes,
    scheme: str,
    calibration: np.ndarray | None,
    block: int | None = None,
    int8_ops: Collection[str] = (),
    float_ops: Collection[str] = (),
) -> bytes:
    """``float_tflite`` (one signature, one input) quantized to ``scheme``; ``calibration`` holds
    the representative samples (``int4`` needs them; the dynamic modes ignore them).

    Raises InputError for missing calibration data or a bad block, ConversionError when
    ai-edge-quantizer fails or writes no low-bit tensor.
    """
    from ai_edge_quantizer import quantizer

    rules = recipe(scheme, block, int8_ops, float_ops)
    if scheme == "int4" and (calibration is None or len(calibration) == 0):
        raise InputError("mode int4 needs calibration data: pass --calib FILE")
    with _running(scheme):
        engine = quantizer.Quantizer(bytearray(float_tflite))
        engine.load_quantization_recipe(rules)
        calibrated = _calibrate(engine, float_tflite, calibration) if scheme == "int4" else None
        quantized = inline_buffers(bytes(engine.quantize(calibrated).quantized_model))
    _check_lowbit(quantized, scheme)
    return quantized


def _calibrate(engine: Any, float_tflite: bytes, calibration: np.ndarray | None) -> dict[str, Any]:
    """Activation ranges of the float model over the calibration samples: the global min and max,
    as TFLiteConverter takes them. (ai-edge-quantizer's own ``calibrate`` keeps a moving average of
    each sample's min/max, which with one sample per step clips the tails: on an AD autoencoder its
    all-int8 model had a relative L2 error of 0.29 against TFLiteConverter's 0.03.)"""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import calibrator
    from ai_edge_quantizer.utils import qsv_utils

    signatures = Interpreter(model_content=float_tflite).get_signature_list()
    if len(signatures) != 1 or len(next(iter(signatures.values()))["inputs"]) != 1:
        raise ConversionError(
            "mode int4: the float model must have one signature with one input to calibrate"
        )
    key, signature = next(iter(signatures.items()))
    samples = np.asarray(calibration, dtype=np.float32)
    batches = [{signature["inputs"][0]: samples[i : i + 1]} for i in range(len(samples))]
    calibration_run = calibrator.Calibrator(bytes(float_tflite), qsv_update_func=qsv_utils.min_max_update)
    calibration_run.calibrate({key: batches}, engine._recipe_manager)  # the recipe says which tensors
    return calibration_run.get_model_qsvs()


def _check_lowbit(tflite: bytes, scheme: str) -> None:
    """ConversionError unless the file holds a tensor of the scheme's bit width (ai-edge-quantizer
    leaves a model it cannot quantize as it was, without saying so)."""
    from edgeq.tflite import read_tflite

    wanted = "int2" if scheme == "dynamic-int2" else "int4"
    graph = read_tflite(tflite, scheme)
    if not any(t.dtype == wanted and t.is_constant for t in graph.main.tensors):
        raise ConversionError(
            f"mode {scheme}: ai-edge-quantizer quantized no weights to {wanted} (the model has no "
            "layer it quantizes this way: FULLY_CONNECTED, and for int4 also CONV_2D and DEPTHWISE_CONV_2D)"
        )


def weight_types(tflite: bytes) -> dict[str, set[str]]:
    """Op name -> the types of its constant weight tensors (input 1 of CONV_2D, DEPTHWISE_CONV_2D,
    FULLY_CONNECTED; the table of EMBEDDING_LOOKUP), read from the file."""
    from edgeq.tflite import read_tflite

    main = read_tflite(tflite, "low-bit file").main
    found: dict[str, set[str]] = {}
    for op in main.operators:
        slot = 1 if op.opcode in (*WEIGHT_OPS, "EMBEDDING_LOOKUP") else None
        if slot is None or len(op.inputs) <= slot or op.inputs[slot] < 0:
            continue
        tensor = main.tensors[op.inputs[slot]]
        if tensor.is_constant:
            found.setdefault(op.opcode, set()).add(tensor.dtype)
    return found


def describe_weights(tflite: bytes) -> str:
    """Which ops got which weight types, e.g. ``int4 weights on CONV_2D, FULLY_CONNECTED; float32 on
    DEPTHWISE_CONV_2D``."""
    by_type: dict[str, list[str]] = {}
    for opcode, dtypes in sorted(weight_types(tflite).items()):
        for dtype in sorted(dtypes):
            by_type.setdefault(dtype, []).append(opcode)
    order = sorted(by_type, key=lambda dtype: (dtype not in ("int2", "int4"), dtype))
    parts = [
        f"{dtype} {'weights ' if i == 0 else ''}on {', '.join(by_type[dtype])}"
        for i, dtype in enumerate(order)
    ]
    return "; ".join(parts) or "no weight tensors"


class CalibratedLowBit:
    """A float32 file calibrated once for ``int4`` (activation ranges from ``calibration``), then
    quantized as often as the ``--max-drop`` search asks, with some ops at int8 weights or float."""

    def __init__(self, float_tflite: bytes, calibration: np.ndarray) -> None:
        from ai_edge_quantizer import quantizer

        with _running("int4"):
            self._engine = quantizer.Quantizer(bytearray(float_tflite))
            self._engine.load_quantization_recipe(recipe("int4"))
            self._calibrated = _calibrate(self._engine, float_tflite, calibration)

    def quantize(self, int8_ops: Collection[str] = (), float_ops: Collection[str] = ()) -> bytes:
        """int4 with the ops whose first outputs are named in ``int8_ops`` at int8 weights and those
        in ``float_ops`` left float (DEQUANTIZE / QUANTIZE around them)."""
        with _running("int4"):
            self._engine.load_quantization_recipe(recipe("int4", int8_ops=int8_ops, float_ops=float_ops))
            return inline_buffers(bytes(self._engine.quantize(self._calibrated).quantized_model))


@contextlib.contextmanager
def _running(scheme: str) -> Iterator[None]:
    """ai-edge-quantizer's output silenced, and any exception it raises (ValueError, RuntimeError,
    KeyError...) made a one-line ConversionError naming the mode; edgeq's own errors pass."""
    from edgeq.conversion.quiet import quiet

    try:
        with quiet():
            yield
    except EdgeqError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConversionError(f"mode {scheme}: ai-edge-quantizer failed ({first[:200]})") from exc


def lowbit_weight_ops(tflite: bytes) -> list[tuple[int, str, str, int]]:
    """(op index, op name, first output tensor name, bytes of its int4 weights) of each op with
    int4 weights, in order."""
    from edgeq.tflite import read_tflite

    main = read_tflite(tflite, "int4 file").main
    return [
        (op.index, op.opcode, main.tensors[op.outputs[0]].name, main.tensors[op.inputs[1]].nbytes)
        for op in main.operators
        if op.opcode in WEIGHT_OPS and len(op.inputs) > 1 and main.tensors[op.inputs[1]].dtype == "int4"
    ]


def int2_zero_share(tflite: bytes) -> float | None:
    """The share of the file's int2 weights that are 0 (values pack four per byte, lowest bits
    first; a 2-bit symmetric weight is -1, 0 or 1 times its channel's scale); None without int2."""
    from edgeq.tflite import read_tflite

    zeros = total = 0
    for tensor in read_tflite(tflite, "int2 file").main.tensors:
        if tensor.dtype != "int2" or tensor.data is None:
            continue
        packed = np.frombuffer(tensor.data, dtype=np.uint8)
        fields = np.stack([(packed >> shift) & 0b11 for shift in (0, 2, 4, 6)], axis=1).reshape(-1)
        fields = fields[: tensor.elements]
        zeros += int((fields == 0).sum())
        total += int(fields.size)
    return zeros / total if total else None
