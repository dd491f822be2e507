"""The engine's packed int4 kernels (edgeq.engine.ops.int4) on int4 files from ``quantize_lowbit``:
byte for byte against TensorFlow Lite Micro on each file's int8 twin (TFLM refuses the int4 file
itself), on the host (portable path) and on emulated cortex-m4 (DSP path), cortex-m0 (portable,
ARMv6-M) and cortex-m55 (the Helium path, which uses the portable int4 loops); about half the
int8 engine's constants, and no more RAM.

The models are tiny Keras models built in memory whose shapes reach every branch of the kernels:
depths that are not multiples of 8 (and of 4), odd channel counts, channel counts below and above
8 for the depthwise kernel, a direct 1x1 convolution, units left over after groups of 4."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from board_batch import Converted, differences, run_on_board, tflm_outputs
from conftest import require_tool
from engine_cases import keras_module

from edgeq.bench.boards import BOARDS
from edgeq.cli import run
from edgeq.engine.generate import generate_engine
from edgeq.engine.host import compile_host
from edgeq.engine.validate import LITERT_REFERENCE, TWIN_REFERENCE, validate_engine
from edgeq.tflite import read_tflite
from edgeq.tflite.rewrite import unpack_int4_weights

SAMPLES = 12


def _cnn(keras):
    layers = keras.layers
    inputs = keras.Input((7, 7, 3), batch_size=1)
    x = layers.Conv2D(5, 3, padding="same", activation="relu")(inputs)  # depth 27, odd channels
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)  # 5 channels: no group of 8
    x = layers.Conv2D(12, 1, activation="relu")(x)  # depth 5: im2col
    x = layers.DepthwiseConv2D(3, strides=2)(x)  # 12 channels: one group of 8 and 4 more
    x = layers.Conv2D(7, 2, padding="same")(x)  # depth 48, 7 channels
    x = layers.Flatten()(x)
    x = layers.Dense(13, activation="relu")(x)  # depth 63: 7 steps and 7 nibbles; 13 units
    return keras.Model(inputs, layers.Dense(6)(x))


def _pointwise(keras):
    layers = keras.layers
    inputs = keras.Input((4, 4, 8), batch_size=1)
    x = layers.Conv2D(18, 1, activation="relu")(inputs)  # direct: the input pixels themselves
    x = layers.DepthwiseConv2D(3, padding="same")(x)  # 18 channels: two groups of 8 and 2 more
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(9)(x))


def _dense(keras, features: int = 70, hidden: int = 24):
    """An AD-style autoencoder: Dense, BatchNorm and ReLU blocks down to 8 and back."""
    layers = keras.layers
    inputs = keras.Input((features,), batch_size=1)
    x = inputs
    for units in (hidden, 8, hidden):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(units)(x)))
    return keras.Model(inputs, layers.Dense(features)(x))


def _int8_same_quantizer(float_tflite: bytes, calibration: np.ndarray) -> bytes:
    """The int8 baseline: ai-edge-quantizer with every op at 8 bits (edgeq's int4 recipe's first
    entry), calibrated on the same samples, so activations get the same scales as the int4 file."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer

    from edgeq.conversion.lowbit import recipe
    from edgeq.conversion.quiet import quiet

    with quiet():
        engine = quantizer.Quantizer(bytearray(float_tflite))
        engine.load_quantization_recipe(recipe("int4")[:1])
        key, signature = next(iter(Interpreter(model_content=float_tflite).get_signature_list().items()))
        name = signature["inputs"][0]
        batches = [{name: calibration[i : i + 1]} for i in range(len(calibration))]
        return bytes(engine.quantize(engine.calibrate({key: batches})).quantized_model)


def _convert(model, int8: bool = False) -> tuple[bytes, bytes | None]:
    import tensorflow as tf

    from edgeq.conversion.lowbit import quantize_lowbit
    from edgeq.conversion.quiet import quiet

    with quiet():
        float_tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    shape = tuple(model.inputs[0].shape[1:])
    calibration = np.random.default_rng(1).uniform(-1, 1, size=(8, *shape)).astype(np.float32)
    int4 = quantize_lowbit(float_tflite, "int4", calibration)
    return int4, _int8_same_quantizer(float_tflite, calibration) if int8 else None


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[bytes, bytes | None]]:
    """name -> (int4 file, int8 file of the same float model or None)."""
    keras = keras_module()
    keras.utils.set_random_seed(4)
    return {
        "cnn": _convert(_cnn(keras)),
        "pointwise": _convert(_pointwise(keras)),
        "dense": _convert(_dense(keras)),
        "autoencoder": _convert(_dense(keras, 640, 128), int8=True),
    }


def _converted(files: dict[str, tuple[bytes, bytes | None]]) -> list[Converted]:
    """Each int4 model with TFLM's input: the int8 twin as the file TFLM runs, the int4 graph."""
    models = []
    for number, (name, (int4, _)) in enumerate(files.items()):
        graph = read_tflite(int4, name)
        tensor = graph.main.tensors[graph.main.inputs[0]]
        inputs = np.random.default_rng(number).integers(-128, 128, (SAMPLES, *tensor.shape), dtype=np.int8)
        models.append(Converted(name, None, unpack_int4_weights(int4), graph, inputs))
    return models


def test_int4_kernels_match_tflm_on_the_int8_twin_and_the_int8_kernels(files, tmp_path):
    require_tool("gcc")
    models = _converted(files)
    expected = tflm_outputs(models)
    engines = {f"s4_{m.name}": generate_engine(m.graph, f"s4_{m.name}") for m in models}
    engines |= {f"s8_{m.name}": generate_engine(read_tflite(m.tflite), f"s8_{m.name}") for m in models}
    for model in models:
        assert "core_s4" in engines[f"s4_{model.name}"].groups
        assert "core_s4" not in engines[f"s8_{model.name}"].groups  # the twin runs the int8 kernels
    host = compile_host(engines, tmp_path)
    for model in models:
        want = np.frombuffer(b"".join(expected[model.name]), np.int8).reshape(SAMPLES, -1)
        for kind in ("s4", "s8"):
            got = host.run(f"{kind}_{model.name}", model.inputs)
            assert np.array_equal(got, want), (model.name, kind, int((got != want).sum()))


@pytest.mark.parametrize("path", ["portable", "dsp", "mve"])
def test_int4_engine_has_about_half_the_constants_and_no_more_ram(files, path):
    int4, int8 = files["autoencoder"]
    s4 = generate_engine(read_tflite(int4), "m", path)
    s8 = generate_engine(read_tflite(int8), "m", path)
    ratio = s4.constant_bytes / s8.constant_bytes
    assert ratio <= 0.55, (path, s4.constant_bytes, s8.constant_bytes)
    assert s4.arena_bytes <= s8.arena_bytes, (path, s4.arena_bytes, s8.arena_bytes)
    print(f"{path}: constants {s4.constant_bytes:,} vs {s8.constant_bytes:,} B ({ratio:.3f}x), "
          f"RAM {s4.arena_bytes:,} vs {s8.arena_bytes:,} B")  # fmt: skip


def test_int4_engines_are_bit_exact_on_cortex_m4_m0_and_m55(files, tmp_path):
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"):
        require_tool(tool)
    models = _converted(files)
    boards = {
        "cortex-m4": "dsp",
        "cortex-m0": "portable",
        "cortex-m55": "mve",
    }  # mve: the portable int4 loops
    with ThreadPoolExecutor(len(boards) + 1) as pool:
        tflm = pool.submit(tflm_outputs, models)
        runs = {board: pool.submit(run_on_board, models, BOARDS[board], tmp_path / board) for board in boards}
        expected = tflm.result()
        runs = {board: future.result() for board, future in runs.items()}
    problems = []
    for board, board_run in runs.items():
        assert board_run.path == boards[board]
        assert not board_run.generation_errors and not board_run.does_not_fit, board
        for model in models:
            printed = board_run.outputs.get(model.name, [])
            differing, first = differences(model, printed, expected[model.name])
            if differing:
                problems.append(f"{model.name} on {board}: {differing} bytes differ ({first})")
    assert not problems, problems


def test_validate_compares_an_int4_file_with_tflm_on_its_twin_and_with_litert(files, tmp_path, capsys):
    require_tool("gcc")
    path = tmp_path / "cnn_int4.tflite"
    path.write_bytes(files["cnn"][0])
    result = validate_engine(path, samples=20)
    assert result.identical and result.samples == 20
    assert result.reference == TWIN_REFERENCE
    second = result.second_reference
    assert second is not None and second.reference == LITERT_REFERENCE
    # LiteRT departs from TFLM only where a known kernel difference says it may
    assert all(op["known_cause"] for op in second.ops), second.ops
    assert (second.differing_bytes == 0) == (not second.ops)
    assert run(["validate", str(path), "--engine", "c", "-n", "5"]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "int8 twin" in printed and "BUILTIN_REF" in printed


def test_validate_still_compares_int8_files_with_tflm_itself(files, tmp_path):
    require_tool("gcc")
    path = tmp_path / "int8.tflite"
    path.write_bytes(unpack_int4_weights(files["dense"][0]))
    result = validate_engine(path, samples=5)
    assert result.identical and result.second_reference is None
    assert result.to_dict()["reference"] == "TensorFlow Lite Micro (tflite-micro Python package)"


def test_generated_int4_engine_reads_weights_from_flash_only(files):
    """The packed weights are const arrays of half a byte per weight; the arena holds no weights."""
    graph = read_tflite(files["dense"][0])
    source = generate_engine(graph, "m", "dsp")
    weights = sum(t.elements for t in graph.main.tensors if t.dtype == "int4" and t.is_constant)
    text = source.files["m.c"]
    assert "static const uint8_t m_op0_weights" in text
    assert "static const int8_t m_op0_shifts" in text
    packed = [line for line in text.splitlines() if "_weights[" in line and "uint8_t" in line]
    counts = [int(line.split("[")[1].split("]")[0]) for line in packed]
    assert sum(counts) <= (weights + 1) // 2 + len(counts)


def test_edgeq_bench_checks_an_int4_file_on_a_board_against_tflm_on_its_twin(files, tmp_path):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    from edgeq.api import bench

    path = tmp_path / "dense_int4.tflite"
    path.write_bytes(files["dense"][0])
    (result,) = bench([path], "cortex-m0").results
    assert result.ok, result.error
    check = result.output_check
    assert check.passed and check.differing_bytes == 0
    assert "TensorFlow Lite Micro on the int8 twin" in check.compared_with
