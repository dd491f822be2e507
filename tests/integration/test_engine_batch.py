"""Models with a fixed batch of 2 or 3 (as fixed-batch exports give): the generated C engine against
TFLite Micro, byte for byte, in int8, int16x8 and float32, and with packed int4 weights (against
TFLM on the int8 twin), on the host and, for the integer models, on emulated Cortex-M4 (DSP path),
M55 (Helium) and M0 (portable).

The int8 / int4 CONV_2D, DEPTHWISE_CONV_2D and pools, and the int16 CONV_2D, DEPTHWISE_CONV_2D,
TRANSPOSE_CONV and pools compute one image per call: their lowerings call them once per image
(``edgeq.engine.ops.core.per_image``), and the memory planner may overlap an image's output with
the input of the next; the other kernels walk the batch themselves. The cases cover strides,
dilation, 1D convolutions, depth multipliers, transposed convolutions, resizing, global pools,
rank-3 dense layers, softmax, padding, concatenation, PRELU and the space / batch / depth moves."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from board_batch import Converted, differences, run_on_board, tflm_outputs
from conftest import require_tool
from engine_cases import Case, convert_mode, keras_module, random_inputs, tf_layer

from edgeq.bench.boards import BOARDS
from edgeq.engine.generate import EngineSource, generate_engine
from edgeq.engine.host import compile_host
from edgeq.engine.inplace import overlap_delta
from edgeq.engine.lowering import op_kind
from edgeq.tflite import ModelGraph, read_tflite
from edgeq.tflite.graph import Operator
from edgeq.tflite.rewrite import unpack_int4_weights

SAMPLES = 5

IO = {"int8": "int8", "int16x8": "int16", "float32": "float32"}
# (opcode, kind) of the kernels that compute one image per call
PER_IMAGE = {
    *((opcode, "int8") for opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")),
    *((opcode, "int16") for opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "AVERAGE_POOL_2D",
                                       "MAX_POOL_2D")),
}  # fmt: skip


def _model(batch: int, shape: tuple[int, ...], body):
    def build():
        keras = keras_module()
        x = keras.Input(batch_shape=(batch, *shape))
        return keras.Model(x, body(keras.layers, x))

    return build


def _space_batch_depth(x):
    """SPACE_TO_BATCH_ND, RELU, BATCH_TO_SPACE_ND with crops, SPACE_TO_DEPTH, DEPTH_TO_SPACE."""
    import tensorflow as tf

    y = tf_layer(lambda t: tf.nn.relu(tf.space_to_batch_nd(t, [2, 2], [[0, 0], [0, 0]])))(x)
    y = tf_layer(lambda t: tf.batch_to_space(t, [2, 2], [[0, 0], [0, 2]]))(y)
    return tf_layer(lambda t: tf.nn.depth_to_space(tf.nn.space_to_depth(t, 2), 2))(y)


def _cases(mode: str) -> list[Case]:
    """The batched models of ``mode`` (ops TFLM refuses on int16 left out there)."""
    models = [
        ("conv_stride_pool", 2, (9, 8, 3), ("CONV_2D", "MAX_POOL_2D"),
         lambda k, x: k.MaxPooling2D(2)(k.Conv2D(5, 3, strides=2, padding="same", activation="relu")(x))),
        ("conv_dilated_pool", 3, (8, 8, 2), ("CONV_2D", "AVERAGE_POOL_2D"),
         lambda k, x: k.AveragePooling2D(2, strides=1)(k.Conv2D(4, 3, dilation_rate=2, padding="same")(x))),
        ("conv1d_stride_dilated", 3, (13, 3), ("CONV_2D", "PAD"),
         lambda k, x: k.Conv1D(3, 3, dilation_rate=2, padding="causal")(k.Conv1D(4, 3, strides=2)(x))),
        ("depthwise_stride_multiplier", 3, (7, 7, 5), ("DEPTHWISE_CONV_2D",),
         lambda k, x: k.DepthwiseConv2D(2, depth_multiplier=2)(k.DepthwiseConv2D(3, strides=2, padding="same")(x))),
        ("separable_pool1d", 2, (10, 3), ("DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D"),
         lambda k, x: k.MaxPooling1D(2)(k.SeparableConv1D(4, 3, padding="same")(x))),
        ("transposed_conv", 2, (4, 5, 2), ("TRANSPOSE_CONV",),
         lambda k, x: k.Conv2DTranspose(3, 3, strides=2, padding="same")(x)),
        ("resize_nearest", 3, (3, 4, 3), ("RESIZE_NEAREST_NEIGHBOR",),
         lambda k, x: k.Resizing(7, 5, interpolation="nearest")(k.Conv2D(2, 1)(x))),
        ("global_average", 2, (5, 6, 4), ("MEAN",),
         lambda k, x: k.GlobalAveragePooling2D()(k.Conv2D(3, 2)(x))),
        ("dense_rank3_softmax", 3, (4, 5), ("FULLY_CONNECTED", "SOFTMAX"),
         lambda k, x: k.Softmax()(k.Dense(6)(x))),
    ]  # fmt: skip
    if mode != "int16x8":  # TFLM has no int16 kernels for these (the engine no int16 PRELU)
        models += [
            ("resize_bilinear", 2, (3, 3, 2), ("RESIZE_BILINEAR",),
             lambda k, x: k.UpSampling2D(2, interpolation="bilinear")(x)),
            ("global_max", 3, (4, 5, 3), ("REDUCE_MAX",), lambda k, x: k.GlobalMaxPooling2D()(x)),
            ("space_batch_depth", 2, (4, 6, 2),
             ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE"),
             lambda k, x: _space_batch_depth(x)),
            ("concatenation_prelu", 3, (3, 4, 2), ("CONCATENATION", "PRELU"),
             lambda k, x: k.PReLU(alpha_initializer="random_uniform")(k.Concatenate()([x, k.Conv2D(2, 1)(x)]))),
        ]  # fmt: skip
    if mode == "int8":  # a 1x1 convolution the kernel runs on the input pixels themselves
        models.append(("pointwise", 2, (4, 4, 8), ("CONV_2D",), lambda k, x: k.Conv2D(6, 1)(x)))
    return [
        Case(f"{mode}_{name}_b{batch}", _model(batch, shape, body), io=IO[mode], opcodes=opcodes, mode=mode)
        for name, batch, shape, opcodes, body in models
    ]


def _int4_file(tflite: bytes) -> bytes:
    """``tflite`` (int8) with its conv / depthwise / dense weights divided by 16 into [-8, 7] (their
    scales times 16) and stored as packed INT4; its int8 twin (unpack_int4_weights) is the model
    with the coarser weights."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edgeq.tflite.rewrite import pack_int4_weights, weight_tensor_names

    names = weight_tensor_names(tflite)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    for tensor in model.subgraphs[0].tensors:
        if tensor.name.decode() in names:
            buffer = model.buffers[tensor.buffer]
            values = np.asarray(buffer.data, dtype=np.uint8).view(np.int8).astype(np.int32)
            buffer.data = np.clip(np.round(values / 16), -8, 7).astype(np.int8).view(np.uint8)
            tensor.quantization.scale = [float(v) * 16 for v in tensor.quantization.scale]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return pack_int4_weights(bytes(builder.Output()), names)


def _int4_models() -> list[Converted]:
    """Conv (im2col), depthwise and rank-3 dense models of batch 2 and 3 with packed int4 weights,
    each with its int8 twin as the file TFLM runs."""
    keras = keras_module()
    layers = keras.layers
    models = []
    for batch in (2, 3):
        keras.utils.set_random_seed(batch)
        inputs = keras.Input(batch_shape=(batch, 6, 6, 3))
        x = layers.Conv2D(5, 3, padding="same", activation="relu")(inputs)
        x = layers.DepthwiseConv2D(3, strides=2, padding="same")(x)
        x = layers.Conv2D(8, 1)(x)  # depth 5: im2col
        x = layers.Dense(4)(layers.Reshape((9, 8))(x))  # batch * 9 rows
        int4 = _int4_file(convert_mode(keras.Model(inputs, x), "int8", "int8", -1.0, 1.0, batch))
        graph = read_tflite(int4)
        shape = graph.main.tensors[graph.main.inputs[0]].shape
        samples = np.random.default_rng(batch).integers(-128, 128, (SAMPLES, *shape), dtype=np.int8)
        models.append(Converted(f"int4_b{batch}", None, unpack_int4_weights(int4), graph, samples))
    return models


@pytest.fixture(scope="module")
def models() -> list[Converted]:
    """Every case converted once (int8, int16x8, float32; int4), with its random inputs."""
    keras = keras_module()
    converted = []
    for number, case in enumerate([*_cases("int8"), *_cases("int16x8"), *_cases("float32")]):
        keras.utils.set_random_seed(number)
        tflite = convert_mode(case.build(), case.mode, case.io, case.low, case.high, number)
        graph = read_tflite(tflite)
        opcodes = {op.opcode for op in graph.main.operators}
        assert opcodes >= set(case.opcodes), (case.name, opcodes)
        tensor = graph.main.tensors[graph.main.inputs[0]]
        inputs = random_inputs(tensor, SAMPLES, np.random.default_rng(number), case.low, case.high)
        converted.append(Converted(case.name, case, tflite, graph, inputs))
    return [*converted, *_int4_models()]


@pytest.fixture(scope="module")
def expected(models) -> dict[str, list[bytes]]:
    outputs = tflm_outputs(models)
    refused = {name: out for name, out in outputs.items() if isinstance(out, str)}
    assert not refused, refused
    for model in models:  # every image of every output varies (not a constant the kernels could hit)
        rows = np.stack([np.frombuffer(row, np.uint8) for row in outputs[model.name]])
        batch = model.graph.main.tensors[model.graph.main.outputs[0]].shape[0]
        assert len(np.unique(rows[:, rows.shape[1] - rows.shape[1] // batch :])) > 8, model.name
    return outputs


def _per_image_ops(graph: ModelGraph) -> list[Operator]:
    subgraph = graph.main
    return [op for op in subgraph.operators if (op.opcode, op_kind(subgraph, op)) in PER_IMAGE]


def _overlaps(graph: ModelGraph, source: EngineSource) -> int:
    """Per-image ops of ``graph`` whose planned output overlaps the input it reads."""
    places = {p.tensor: p for p in source.plan.placements}
    found = 0
    for op in _per_image_ops(graph):
        data = op.inputs[2] if op.opcode == "TRANSPOSE_CONV" else op.inputs[0]
        into, out = places.get(data), places.get(op.outputs[0])
        if into and out and out.offset < into.offset + into.size and into.offset < out.offset + out.size:
            assert overlap_delta(graph.main, op, data, op.outputs[0]) is not None
            found += 1
    return found


def test_batched_models_equal_tflm_byte_for_byte(models, expected, tmp_path):
    require_tool("gcc")
    engines = {model.name: generate_engine(model.graph, model.name) for model in models}
    twins = {f"{m.name}_s8": generate_engine(read_tflite(m.tflite), f"{m.name}_s8") for m in models
             if m.case is None}  # fmt: skip
    host = compile_host({**engines, **twins}, tmp_path)
    problems, calls, overlaps = [], 0, 0
    for model in models:
        for name in [model.name, *([f"{model.name}_s8"] if model.case is None else [])]:  # int4: the twin too
            printed = [row.tobytes() for row in host.run(name, model.inputs)]
            differing, first = differences(model, printed, expected[model.name])
            if differing:
                problems.append(f"{name}: {differing} bytes differ ({first})")
        source = engines[model.name]
        assert ("core_s4" in source.groups) == (model.case is None), model.name
        for op in _per_image_ops(model.graph):  # one kernel call per image
            batch = model.graph.main.tensors[op.outputs[0]].shape[0]
            count = source.files[f"{model.name}.c"].count(f"&{model.name}_op{op.index}_params,")
            if count != batch:
                problems.append(
                    f"{model.name}: op {op.index} {op.opcode} called {count} times, batch {batch}"
                )
            calls += count
        overlaps += _overlaps(model.graph, source)
    assert not problems, problems
    assert calls > 50
    assert overlaps > 0  # some plan writes an image's output over the input of the next


def test_batched_models_equal_tflm_on_cortex_m4_m55_and_m0(models, expected, tmp_path):
    """The DSP, Helium and portable kernel paths (float32 left out: newlib's expf differs)."""
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"):
        require_tool(tool)
    integer = [m for m in models if m.case is None or m.case.mode != "float32"]
    boards = {"cortex-m4": "dsp", "cortex-m55": "mve", "cortex-m0": "portable"}
    with ThreadPoolExecutor(len(boards)) as pool:
        runs = {
            board: pool.submit(run_on_board, integer, BOARDS[board], tmp_path / board) for board in boards
        }
        runs = {board: future.result() for board, future in runs.items()}
    problems = []
    for board, run in runs.items():
        assert run.path == boards[board]
        assert not run.generation_errors and not run.does_not_fit, board
        for model in integer:
            differing, first = differences(model, run.outputs.get(model.name, []), expected[model.name])
            if differing:
                problems.append(f"{model.name} on {board}: {differing} bytes differ ({first})")
    assert not problems, problems
