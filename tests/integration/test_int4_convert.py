"""``edgeq convert --mode int4,dynamic-int4,dynamic-int2``: files with INT4 weight tensors, sizes
against float32, accuracy / rel L2 in the table, the runtimes that run them, one-line refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edgeq.api import convert
from edgeq.cli import run
from edgeq.inspection import inspect
from edgeq.tflite import read_tflite

WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _weight_dtypes(tflite: bytes) -> dict[str, set[str]]:
    main = read_tflite(tflite, "t").main
    found: dict[str, set[str]] = {}
    for op in main.operators:
        if op.opcode in WEIGHT_OPS:
            found.setdefault(op.opcode, set()).add(main.tensors[op.inputs[1]].dtype)
    return found


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> tuple[Path, Path]:
    """The MLPerf Tiny AD autoencoder's shape (640 inputs, 269,992 parameters, random weights) and
    smooth log-mel-like frames (an untrained model: rel L2 against the float model is the figure)."""
    from edgeq.zoo.mlperf import ad_autoencoder

    folder = tmp_path_factory.mktemp("ad")
    path = folder / "ad.keras"
    ad_autoencoder(seed=0).save(path)
    rng = np.random.default_rng(0)
    frames = np.cumsum(rng.normal(0, 0.1, (48, 640)), axis=1).astype(np.float32)
    np.savez(folder / "frames.npz", x=frames)
    return path, folder / "frames.npz"


def test_the_ad_autoencoder_in_int4_and_dynamic_int4_is_under_0_17x_float32_with_rel_l2(autoencoder):
    model, frames = autoencoder
    result = convert(model, calib=frames, eval=frames, mode="float32,int4,dynamic-int4,dynamic-int2")
    assert result.ok and not result.failures
    float32 = result.mode("float32")
    for key in ("int4", "dynamic_int4"):
        mode = result.mode(key)
        assert _weight_dtypes(mode.tflite) == {"FULLY_CONNECTED": {"int4"}}
        ratio = mode.size_bytes / float32.size_bytes
        assert ratio <= 0.17, (key, ratio)
        assert mode.runs_in_litert and mode.evaluation is not None
        rel_l2 = mode.evaluation.to_dict()["outputs"][0]["relative_l2"]
        # random (uniform) weights through ten layers: int4 measured 0.43 and dynamic-int4 0.26
        # against int8's 0.03; the figure is reported, not a quality claim
        assert 0 < rel_l2 < 1.0, (key, rel_l2)
    assert result.mode("int4").inputs[0].dtype == "int8"
    assert result.mode("dynamic_int4").inputs[0].dtype == "float32"
    int2 = result.mode("dynamic_int2")
    assert _weight_dtypes(int2.tflite) == {"FULLY_CONNECTED": {"int2"}}
    assert int2.size_bytes < result.mode("dynamic_int4").size_bytes
    zeros = next(note for note in int2.notes if "int2 weights are 0" in note)
    assert re.search(r"and \d+% of this model's int2 weights are 0", zeros), zeros
    assert any("ai-edge-quantizer" in note for note in result.mode("int4").notes)


def test_every_low_bit_file_keeps_its_buffers_inline_so_tflm_reads_them(autoencoder):
    """ai-edge-quantizer put 10 of 13 buffers of this model's all-int8 file after the flatbuffer,
    which this TensorFlow Lite Micro reads as zeros (a constant output); edgeq inlines them."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime

    from edgeq.conversion.lowbit import CalibratedLowBit, lowbit_weight_ops
    from edgeq.tflite.rewrite import has_external_buffers

    model, frames = autoencoder
    float32 = convert(model, mode="float32").mode("float32").tflite
    calibrated = CalibratedLowBit(float32, np.load(frames)["x"])
    names = [name for _, _, name, _ in lowbit_weight_ops(calibrated.quantize())]
    all_int8 = calibrated.quantize(int8_ops=names)
    assert not has_external_buffers(all_int8)
    x = np.random.default_rng(0).integers(-128, 128, (1, 640), dtype=np.int8)
    litert = Interpreter(model_content=all_int8, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    litert.allocate_tensors()
    litert.set_tensor(litert.get_input_details()[0]["index"], x)
    litert.invoke()
    expected = litert.get_tensor(litert.get_output_details()[0]["index"]).astype(int)
    tflm = runtime.Interpreter.from_bytes(all_int8)
    tflm.set_input(x, 0)
    tflm.invoke()
    got = tflm.get_output(0).astype(int)
    assert len(np.unique(got)) > 10  # not a constant output
    assert np.abs(got - expected).max() <= 1  # FULLY_CONNECTED rounding ties only


def test_the_digits_cnn_in_int4_keeps_its_top1_and_every_weight_op_is_int4(
    tmp_path, capsys, digits_model, digits_split
):
    calib, test = digits_split
    result = convert(digits_model, calib=calib, eval=test, mode="float32,int4,dynamic-int4", scale=1 / 16)
    float32 = result.mode("float32")
    int4 = result.mode("int4")
    assert _weight_dtypes(int4.tflite) == {op: {"int4"} for op in WEIGHT_OPS}
    assert int4.size_bytes / float32.size_bytes <= 0.17
    assert result.mode("dynamic_int4").size_bytes / float32.size_bytes <= 0.17
    for key in ("int4", "dynamic_int4"):
        drop = result.top1_drop_points(result.mode(key))
        assert drop is not None and drop <= 3.0, (key, drop)
    note = next(note for note in int4.notes if "ai-edge-quantizer" in note)
    assert "int4 weights on CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED (per channel)" in note
    # which runtimes run it, decided by running it
    path = tmp_path / "digits_int4.tflite"
    path.write_bytes(int4.tflite)
    inspected = inspect(path)
    assert inspected.quantization.scheme == "int4 weights, int8 activations"
    assert not inspected.tflm.runs and inspected.tflm.failing_op == "FULLY_CONNECTED"
    assert inspected.tflm_int8_twin is not None and inspected.tflm_int8_twin.runs
    assert inspected.litert.runs
    assert inspected.engine.supported and inspected.engine_run is not None and inspected.engine_run.runs
    targets = inspected.to_dict()["targets"]
    assert targets["tflm_int8_twin"]["runs"] and targets["edgeq_c_engine_run"]["runs"]
    # firmware: edgeq's engine takes it; a TensorFlow Lite Micro template is refused with the way out
    assert run(["export", "mcu", str(path), "--template", "c", "-o", str(tmp_path / "fw")]) == 0
    assert (tmp_path / "fw" / "digits_int4.c").is_file()
    capsys.readouterr()
    assert run(["export", "mcu", str(path), "--template", "plain", "-o", str(tmp_path / "plain")]) == 2
    assert "refuses int4 FULLY_CONNECTED weights; use --template c" in capsys.readouterr().err
    assert not (tmp_path / "plain").exists()


def test_blockwise_dynamic_int4_is_evaluated_with_the_kernels_phones_run(digits_model, digits_split):
    calib, test = digits_split
    result = convert(digits_model, calib=calib, eval=test, mode="dynamic-int4", block=32, scale=1 / 16)
    mode = result.mode("dynamic_int4_b32")
    main = read_tflite(mode.tflite, "b32").main
    assert any(t.dtype == "int4" for t in main.tensors if t.is_constant)
    assert any(t.dtype == "float16" and t.name.endswith("_scales") for t in main.tensors)  # one per block
    assert result.top1_drop_points(mode) <= 3.0  # LiteRT's reference kernels give ~8 % top-1 here
    assert any("XNNPACK" in note for note in mode.notes)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--mode", "dynamic-int4", "--block", "48"], "--block must be one of 32, 64, 128, got 48"),
        (["--mode", "int8", "--block", "32"], "--block applies to mode dynamic-int4"),
        (["--mode", "int4,int8", "--io", "float"], "mode int4 has int8 input/output only"),
        (["--mode", "int4"], "mode int4 needs calibration data: pass --calib FILE"),
    ],
)
def test_low_bit_options_that_cannot_apply_are_one_line_exit_2(
    capfd, tmp_path, digits_model, options, expected
):
    output = tmp_path / "out"
    code = run(["convert", str(digits_model), *options, "-o", str(output)])
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err and not output.exists()
