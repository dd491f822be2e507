"""The typed contract of edgeq's JSON files: each result read back with ``from_dict`` gives what was
written (``to_dict``), and every file's kind and schema_version come from ``edgeq.results.schema``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeq.bench.results import BenchReport, BenchResult, Figure, OutputCheck
from edgeq.errors import InputError
from edgeq.inspection import InspectResult, inspect
from edgeq.pipeline import RunResult
from edgeq.results import ConvertResult, MixedPrecision, ModeResult, QATReport, SizeBaseline, schema
from edgeq.results.evaluation import Evaluation, OutputFidelity
from edgeq.results.layers import LayerError
from edgeq.results.mixed import Trial
from edgeq.results.qat import QATLayer
from edgeq.results.run import RunRecord, StageRun
from edgeq.runconfig import load_config
from edgeq.runtimes.runners import OpDifference, TFLMCheck
from edgeq.runtimes.tensors import TensorInfo


def _layer(index: int, op: str, rmse: float, scale: float) -> LayerError:
    return LayerError(op_index=index, op=op, tensor=f"model/{op.lower()}_{index}", keras_layer=f"layer{index}",
                      scale=scale, zero_point=-128, elements=640, rmse=rmse, max_abs_error=3 * rmse,
                      mean_error=0.001)  # fmt: skip


def _mode(key: str, tflite: bytes, dtype: str, top1: float) -> ModeResult:
    tensor = TensorInfo("serving_default_x:0", (1, 8, 8, 1), dtype, 0.0625, -128)
    fidelity = OutputFidelity(
        0, relative_l2=0.0125, cosine=0.99992, max_abs_error=0.0625, rmse=0.002, mae=0.0005
    )
    return ModeResult(key=key, label=key, scheme=key, io=dtype, file_name=f"m_{key}.tflite", tflite=tflite,
                      conversion_seconds=0.5, ops=("CONV_2D", "FULLY_CONNECTED"), inputs=(tensor,),
                      outputs=(tensor,), runs_in_litert=True,
                      evaluation=Evaluation(samples=100, top1=top1, agreement=0.99, outputs=(fidelity,)))  # fmt: skip


def _tflm() -> TFLMCheck:
    first = OpDifference(op_index=3, op="FULLY_CONNECTED", samples=1, max_abs_difference=1)
    return TFLMCheck(runs=True, reason=None, samples=20, identical=19, max_abs_difference=1.0,
                     first_differences=(first,))  # fmt: skip


def _convert(layers: tuple[LayerError, ...]) -> ConvertResult:
    int8, mixed = (
        _mode("int8", b"\x01" * 1000, "int8", 0.96),
        _mode("int8_mixed", b"\x02" * 1500, "int8", 0.97),
    )
    data = {"source": "d.npz", "format": "npz", "samples": 100, "value_range": [0.0, 1.0], "notes": []}
    trials = (Trial((), 1.5, 1000, False), Trial((1,), 0.25, 1500, True))
    precision = MixedPrecision(
        budget=0.5, metric="top-1 drop (points)", outcome="mixed", int8_value=1.5, value=0.25,
        float_layers=layers[-1:], float_kernels=("FULLY_CONNECTED",), mode_key="int8_mixed", int8_size_bytes=1000,
        size_bytes=1500, trials=trials, tflm=_tflm(), message="1 op(s) kept in float", io="int8",
    )  # fmt: skip
    qat = QATReport(
        epochs=2, batch_size=32, learning_rate=0.0001, train_samples=400, loss="cross-entropy",
        history={"loss": (0.5, 0.25), "accuracy": (0.9, 0.95)}, input_range=(0.0, 1.0),
        layers=(QATLayer("conv", "Conv2D", ("BatchNormalization", "ReLU"), "int8 per-channel", (0.0, 6.0)),
                QATLayer("flatten", "Flatten", (), "none", None)),
        method="fake quantization", mode_key="int8_mixed", tflm=_tflm(),
    )  # fmt: skip
    return ConvertResult(
        source={"path": "m.keras", "format": "keras", "sha256": "ab" * 32, "parameters": 250},
        modes=(int8, mixed), size_baseline=SizeBaseline("float32_weights", 1000),
        preprocessing={"scale": 0.0625, "mean": None, "std": None, "order": "x * scale"},
        calibration=data, evaluation_data=data,
        reference=Evaluation(samples=100, top1=0.975, agreement=1.0, outputs=()),
        kernels="LiteRT BUILTIN_REF", seed=0, environment={"python": "3.11.7"}, edgeq_version="0.1.0",
        layer_errors=layers, mixed_precision=precision, qat=qat,
    )  # fmt: skip


def _bench() -> BenchReport:
    figures = (
        Figure("latency_ms", 0.25, "ms", "measured", "median of 20 runs"),
        Figure("flash_bytes", 50_000, "bytes", "measured", "size of the linked image"),
    )
    check = OutputCheck(passed=True, compared_with=("LiteRT",), bytes_compared=10, differing_bytes=0)
    results = (
        BenchResult(model="m_int8.tflite", sha256="cd" * 32, target="cortex-m4", platform={"clock_hz": 120e6},
                    runtime="tflm", toolchain={"gcc": "13.2"}, figures=figures, output_check=check,
                    memory={"flash": {"model": 40_000, "runtime": 10_000}}, details={"runs": 20}),
        BenchResult(model="m_int8.tflite", sha256="cd" * 32, target="host", platform={}, runtime="litert",
                    toolchain={}, error="the emulator timed out"),
    )  # fmt: skip
    return BenchReport(results=results, environment={"python": "3.11.7"}, edgeq_version="0.1.0")


def test_convert_result_round_trips():
    result = _convert((_layer(0, "CONV_2D", 0.002, 0.006), _layer(1, "FULLY_CONNECTED", 0.11, 0.32)))
    back = ConvertResult.from_dict(result.to_dict())
    assert back == result and back.to_dict() == result.to_dict()
    assert (
        back.mode("int8").tflite is None and back.mode("int8").size_bytes == 1000
    )  # the bytes stay in the file
    with pytest.raises(ValueError, match="its bytes are not in the result"):
        back.write_into(Path("unused"))


def test_convert_result_read_back_holds_the_ranked_layer_errors_in_model_order():
    """report.json leaves out the ops that only move values: a result read back has the others."""
    reshape = _layer(1, "RESHAPE", 0.0, 0.3)
    result = _convert((_layer(0, "CONV_2D", 0.002, 0.006), reshape, _layer(2, "FULLY_CONNECTED", 0.11, 0.32)))
    back = ConvertResult.from_dict(result.to_dict())
    assert back.to_dict() == result.to_dict()
    assert back.layer_errors == tuple(error for error in result.layer_errors if error is not reshape)


def test_qat_history_is_read_back_at_the_precision_written():
    result = _convert(())
    history = {"loss": (0.123456789,)}
    qat = QATReport(**{**vars(result.qat), "history": history})
    assert QATReport.from_dict(qat.to_dict()).history == {"loss": (0.123457,)}


def test_inspect_result_round_trips(tiny_int8):
    result = inspect(tiny_int8)
    back = InspectResult.from_dict(result.to_dict())
    assert back == result.report() and back.to_dict() == result.to_dict()
    assert (back.parameters, back.macs) == (result.parameters, result.macs)


def test_bench_report_round_trips():
    report = _bench()
    back = BenchReport.from_dict(report.to_dict())
    assert back == report and back.to_dict() == report.to_dict()
    assert [result.ok for result in back.results] == [True, False]


def test_run_record_round_trips():
    stages = (StageRun("convert", "ran", 3.5, "12" * 32, ("convert/report.json",)),
              StageRun("inspect", "reused", 0.0, "34" * 32, ("inspect/m_int8.json",)))  # fmt: skip
    record = RunRecord(
        "0.1.0", "/work/edgeq.toml", {"model": {"path": "m.keras"}}, stages, {"python": "3.11.7"}
    )
    assert RunRecord.from_dict(record.to_dict()) == record


def _run_result(tmp_path: Path) -> RunResult:
    (tmp_path / "m.keras").write_bytes(b"")
    (tmp_path / "edgeq.toml").write_text('[model]\npath = "m.keras"\n[convert]\nmodes = ["float16"]\n')
    stages = (StageRun("convert", "ran", 1.25, "ab" * 32, ("convert/report.json",)),)
    return RunResult(config=load_config(tmp_path / "edgeq.toml"), stages=stages, output=tmp_path / "out")


def test_run_json_is_the_run_record(tmp_path):
    result = _run_result(tmp_path)
    written = result.to_dict()
    assert RunRecord.from_dict(written).to_dict() == written
    assert (
        written["config_file"] == str(tmp_path / "edgeq.toml") and written["stages"][0]["name"] == "convert"
    )


def test_every_writer_stamps_its_files_kind_and_version_from_the_schema_module(tiny_int8, tmp_path):
    written = {
        schema.CONVERT: _convert(()).to_dict(),
        schema.INSPECT: inspect(tiny_int8).to_dict(),
        schema.BENCH: _bench().to_dict(),
        schema.RUN: _run_result(tmp_path).to_dict(),
    }
    assert set(written) == set(schema.SCHEMAS)
    for kind, data in written.items():
        assert list(data)[:2] == ["schema_version", "kind"]
        assert (data["kind"], data["schema_version"]) == (kind.kind, kind.version)
        assert kind.check(json.loads(json.dumps(data)), "file.json") == data
    assert len({kind.kind for kind in schema.SCHEMAS}) == len(schema.SCHEMAS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "file.json: not an edgeq.run file (kind 'list'); fix"),
        ({"kind": "edgeq.bench", "schema_version": 1}, "file.json: not an edgeq.run file (kind 'edgeq.bench'); fix"),
        ({"kind": "edgeq.run", "schema_version": 2}, "file.json: schema_version 2; this edgeq reads up to 1: upgrade"),
        ({"kind": "edgeq.run"}, "file.json: schema_version None; this edgeq reads up to 1"),
    ],
)  # fmt: skip
def test_a_file_of_another_kind_or_a_newer_schema_is_one_line(data, message):
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        schema.RUN.check(data, "file.json", "; fix")


def test_a_mode_needs_its_bytes_or_its_size():
    with pytest.raises(ValueError, match="needs the file's bytes or its size"):
        ModeResult(key="int8", label="int8", scheme="int8", io="int8", file_name="m.tflite", tflite=None,
                   conversion_seconds=0.5, ops=(), inputs=(), outputs=(), runs_in_litert=True)  # fmt: skip
