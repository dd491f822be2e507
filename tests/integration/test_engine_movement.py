"""Randomized configurations of the data-movement ops (TRANSPOSE, STRIDED_SLICE, SPLIT, UNPACK,
PACK, GATHER, RESIZE_NEAREST_NEIGHBOR, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, DEPTH_TO_SPACE,
SPACE_TO_DEPTH), of ARG_MAX / ARG_MIN and REDUCE_MAX, and of the float32 PAD / CONCATENATION, in
int8, int16x8 and float32 models: the generated C engine against TFLite Micro, byte for byte, on
10 random inputs each."""

from __future__ import annotations

import numpy as np
import pytest
from engine_cases import Case, calibration_range, check_cases, failures, keras_module, tf_layer

MODES = ("int8", "int16x8", "float32")


def _tf():
    from edgeq.conversion.quiet import import_tensorflow

    return import_tensorflow()


def _shape(rng: np.random.Generator, rank: int, low: int = 1, high: int = 6) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(low, high, size=rank))


def _case(name, build, mode, low, high, opcodes, **extra) -> Case:
    return Case(f"{name}_{mode}", build, low=low, high=high, opcodes=opcodes, mode=mode, **extra)


def walk_cases(count: int, seed: int) -> list[Case]:
    """Permute, Cropping1D / 2D and strided slices (steps, negative steps, shrunk axes)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = MODES[number % 3]
        kind = ("permute", "crop1d", "crop2d", "slice")[(number // 3) % 4]
        low, high = calibration_range(rng, (-1, 1))
        if kind == "permute":
            shape = _shape(rng, int(rng.integers(2, 5)), 2, 6)
            perm = tuple(int(v) + 1 for v in rng.permutation(len(shape)))
            while perm == tuple(sorted(perm)):
                perm = tuple(int(v) + 1 for v in rng.permutation(len(shape)))

            def build(shape=shape, perm=perm):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                return keras.Model(x, keras.layers.Permute(perm)(x))

            opcode = "TRANSPOSE"
        elif kind in ("crop1d", "crop2d"):
            dims = 1 if kind == "crop1d" else 2
            shape = _shape(rng, dims, 3, 9) + _shape(rng, 1)
            crops = tuple((int(rng.integers(0, d // 2)), int(rng.integers(0, d // 2))) for d in shape[:dims])

            def build(shape=shape, crops=crops, dims=dims):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                layer = keras.layers.Cropping1D(crops[0]) if dims == 1 else keras.layers.Cropping2D(crops)
                return keras.Model(x, layer(x))

            opcode = "STRIDED_SLICE"
        else:
            shape = _shape(rng, int(rng.integers(2, 4)), 2, 8)
            index = []
            for d in shape:
                choice = int(rng.integers(0, 4)) if index else int(rng.choice([0, 1, 3]))
                if choice == 0:
                    index.append(slice(None, None, int(rng.integers(2, 4))))
                elif choice == 1:
                    index.append(slice(None, None, -int(rng.integers(1, 3))))
                elif choice == 2:
                    start = int(rng.integers(0, d // 2))  # a non-empty slice: start < d + stop
                    index.append(slice(start, -int(rng.integers(0, (d - start + 1) // 2)) or None))
                else:
                    index.append(int(rng.integers(-d, d)) if len(index) < len(shape) - 1 else slice(None))

            def build(shape=shape, index=tuple(index)):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                return keras.Model(x, tf_layer(lambda t: t[(slice(None), *index)])(x))

            opcode = "STRIDED_SLICE"
        cases.append(_case(f"{kind}_{number}", build, mode, low, high, (opcode,)))
    return cases


def block_cases(count: int, seed: int) -> list[Case]:
    """SPLIT, UNPACK and PACK (keras.ops.split / unstack / stack), the pieces as model outputs."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = MODES[number % 3]
        kind = ("split", "unstack", "stack")[(number // 3) % 3]
        shape = _shape(rng, int(rng.integers(2, 4)), 2, 5)
        axis = int(rng.integers(1, len(shape) + 1))
        low, high = calibration_range(rng, (-1, 1))
        if kind == "split":
            parts = int(rng.choice([p for p in (2, 3, 4) if shape[axis - 1] % p == 0] or [1]))
            if parts == 1:
                shape = tuple(4 if i == axis - 1 else d for i, d in enumerate(shape))
                parts = 2

            def build(shape=shape, axis=axis, parts=parts):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                return keras.Model(x, keras.ops.split(x, parts, axis=axis))

            opcode = "SPLIT"
        elif kind == "unstack":

            def build(shape=shape, axis=axis):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                return keras.Model(x, keras.ops.unstack(x, axis=axis))

            opcode = "UNPACK"
        else:
            copies = int(rng.integers(2, 4))

            def build(shape=shape, axis=axis, copies=copies):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                return keras.Model(x, keras.ops.stack([x] * copies, axis=axis))

            opcode = "PACK"
        cases.append(_case(f"{kind}_{number}", build, mode, low, high, (opcode,)))
    return cases


def resize_cases(count: int, seed: int) -> list[Case]:
    """Resizing(nearest) (half-pixel centers) and TF1's resize with align_corners, up and down."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = MODES[number % 3]
        align = number % 2 == 1
        shape = _shape(rng, 2, 2, 7) + _shape(rng, 1, 1, 4)
        size = _shape(rng, 2, 1, 12)
        low, high = calibration_range(rng, (-1, 1))

        def build(shape=shape, size=size, align=align):
            keras = keras_module()
            x = keras.Input(batch_shape=(1, *shape))
            if align:
                tf = _tf()
                y = tf_layer(
                    lambda t: tf.compat.v1.image.resize_nearest_neighbor(t, size, align_corners=True)
                )(x)
            else:
                y = keras.layers.Resizing(*size, interpolation="nearest")(x)
            return keras.Model(x, y)

        cases.append(_case(f"resize_{number}", build, mode, low, high, ("RESIZE_NEAREST_NEIGHBOR",)))
    return cases


def gather_cases(count: int, seed: int) -> list[Case]:
    """tf.gather of a constant table (an embedding without Keras' negative-index SELECT, which TFLM
    lacks) by int32 indices from the model input, on several axes."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = ("int8", "float32")[number % 2]
        vocabulary = int(rng.integers(3, 12))
        table_shape = [vocabulary, *_shape(rng, int(rng.integers(1, 3)), 1, 5)]
        axis = int(rng.integers(0, len(table_shape)))
        table_shape[axis] = vocabulary
        table = rng.uniform(-2, 2, size=table_shape).astype(np.float32)
        positions = _shape(rng, int(rng.integers(1, 3)), 1, 6)

        def build(table=table, axis=axis, positions=positions):
            keras = keras_module()
            tf = _tf()
            x = keras.Input(batch_shape=(1, *positions), dtype="int32")
            constant = tf.constant(table)
            y = tf_layer(lambda t: tf.gather(constant, t, axis=axis) * 1.0)(x)
            return keras.Model(x, y)

        cases.append(_case(f"gather_{number}", build, mode, 0, vocabulary, ("GATHER",)))
    return cases


def space_cases(count: int, seed: int) -> list[Case]:
    """SPACE_TO_BATCH_ND, and BATCH_TO_SPACE_ND of its output with crops (1D and 2D), and
    DEPTH_TO_SPACE / SPACE_TO_DEPTH: int8 and float32 (TFLM takes no int16 here)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = ("int8", "float32")[number % 2]
        kind = ("dilated2d", "dilated1d", "depth_to_space", "space_to_depth")[(number // 2) % 4]
        low, high = calibration_range(rng, (-1, 1))
        if kind.startswith("dilated"):
            two = kind == "dilated2d"
            block = [int(v) for v in rng.integers(2, 4, size=2 if two else 1)]
            spatial = [int(rng.integers(2, 5)) * b for b in block]
            # no padding: TFLM fills it with a byte its Prepare never sets (see space_to_batch_nd)
            pads = [[0, 0] for _ in block]
            channels = int(rng.integers(1, 4))
            shape = (*spatial, channels)

            crops = [[int(rng.integers(0, 2)), int(rng.integers(0, 2))] for _ in block]

            def build(shape=shape, block=block, pads=pads, crops=crops):
                keras = keras_module()
                tf = _tf()
                x = keras.Input(batch_shape=(1, *shape))
                y = tf_layer(lambda t: tf.space_to_batch_nd(t, block, pads))(x)
                # both as outputs: a convolution between them would fuse into a dilated CONV_2D
                return keras.Model(x, [y, tf_layer(lambda t: tf.batch_to_space(t, block, crops))(y)])

            opcodes = ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")
        else:
            block = int(rng.integers(2, 4))
            height, width = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            depth = int(rng.integers(1, 4))
            to_space = kind == "depth_to_space"
            shape = (
                (height, width, depth * block * block) if to_space else (height * block, width * block, depth)
            )

            def build(shape=shape, block=block, to_space=to_space):
                keras = keras_module()
                tf = _tf()
                x = keras.Input(batch_shape=(1, *shape))
                function = tf.nn.depth_to_space if to_space else tf.nn.space_to_depth
                return keras.Model(x, tf_layer(lambda t: function(t, block))(x))

            opcodes = (kind.upper(),)
        cases.append(_case(f"{kind}_{number}", build, mode, low, high, opcodes))
    return cases


def select_cases(count: int, seed: int) -> list[Case]:
    """ARG_MAX / ARG_MIN (int32 indices) of a Dense output (int8) or of the input (float32), GlobalMaxPooling1D / 2D and
    keras.ops.max over random axes: int8 and float32."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = ("int8", "float32")[number % 2]
        kind = ("argmax", "argmin", "gmp1d", "gmp2d", "max")[(number // 2) % 5]
        low, high = calibration_range(rng, (-1, 1))
        shape = _shape(rng, 3 if kind in ("gmp2d", "max") else 2, 1, 6)
        if kind in ("argmax", "argmin"):
            axis = int(rng.integers(1, len(shape) + 1))

            def build(shape=shape, axis=axis, kind=kind, mode=mode):
                keras = keras_module()
                tf = _tf()
                x = keras.Input(batch_shape=(1, *shape))
                function = tf.math.argmax if kind == "argmax" else tf.math.argmin
                y = keras.layers.Dense(shape[-1])(x) if mode == "int8" else x
                return keras.Model(x, tf_layer(lambda t: function(t, axis=axis, output_type=tf.int32))(y))

            opcodes = (kind.upper().replace("ARG", "ARG_"),)
        else:
            axes = tuple(sorted({int(a) for a in rng.integers(1, 4, size=2)}))

            def build(shape=shape, kind=kind, axes=axes):
                keras = keras_module()
                x = keras.Input(batch_shape=(1, *shape))
                if kind == "gmp1d":
                    return keras.Model(x, keras.layers.GlobalMaxPooling1D()(x))
                if kind == "gmp2d":
                    return keras.Model(x, keras.layers.GlobalMaxPooling2D()(x))
                return keras.Model(x, keras.ops.max(x, axis=axes))

            opcodes = ("REDUCE_MAX",)
        cases.append(_case(f"{kind}_{number}", build, mode, low, high, opcodes))
    return cases


def float_data_cases(count: int, seed: int) -> list[Case]:
    """PAD / PADV2 and CONCATENATION of float32 tensors, and int16 QUANTIZE (a 16x8 concatenation with
    a constant of a wider range: the converter requantizes the input)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        kind = ("pad", "padv2", "concat", "concat16")[number % 4]
        shape = _shape(rng, int(rng.integers(1, 4)), 1, 5)
        pads = [[0, 0]] + [[int(v) for v in rng.integers(0, 3, size=2)] for _ in shape]
        value = float(rng.uniform(-2, 2))
        low, high = calibration_range(rng, (-1, 1))

        def build(shape=shape, pads=pads, value=value, kind=kind):
            keras = keras_module()
            x = keras.Input(batch_shape=(1, *shape))
            if kind == "pad":
                return keras.Model(x, keras.ops.pad(x, pads))
            if kind == "padv2":
                return keras.Model(x, keras.ops.pad(x, pads, constant_values=value))
            if kind == "concat":
                return keras.Model(x, keras.ops.concatenate([x, x], axis=-1))
            block = np.full((1, *shape[:-1], 2), 8.0 * value, dtype=np.float32)
            return keras.Model(x, keras.ops.concatenate([x, block, x], axis=-1))

        mode = "int16x8" if kind == "concat16" else "float32"
        opcode = {"pad": "PAD", "padv2": "PADV2", "concat": "CONCATENATION", "concat16": "QUANTIZE"}[kind]
        cases.append(_case(f"{kind}_{number}", build, mode, low, high, (opcode,)))
    return cases


MOVEMENT_CASES = [
    *walk_cases(18, 50),
    *block_cases(15, 51),
    *resize_cases(9, 52),
    *gather_cases(6, 53),
    *space_cases(12, 54),
    *select_cases(16, 55),
    *float_data_cases(8, 56),
]


def test_movement_ops_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(MOVEMENT_CASES, tmp_path)
    assert len(outcomes) == len(MOVEMENT_CASES)
    assert failures(outcomes) == []


@pytest.mark.parametrize(
    ("build", "mode", "message"),
    [
        ("s2b", "int16x8", "TFLM's SPACE_TO_BATCH_ND takes float32 and int8 only, not int16"),
        ("gmp", "int16x8", "TFLM's REDUCE_MAX takes float32 and int8 only, not int16"),
    ],
)
def test_what_tflm_refuses_is_refused(build, mode, message):
    from engine_cases import convert_mode

    from edgeq.engine.generate import generate_engine
    from edgeq.errors import UnsupportedError
    from edgeq.tflite import read_tflite

    keras = keras_module()
    x = keras.Input(batch_shape=(1, 4, 4, 2))
    if build == "s2b":
        tf = _tf()
        y = tf_layer(lambda t: tf.space_to_batch_nd(t, [2, 2], [[0, 0], [0, 0]]))(x)
    else:
        y = keras.layers.GlobalMaxPooling2D()(x)
    graph = read_tflite(convert_mode(keras.Model(x, y), mode, "int8", -1.0, 1.0, 0))
    with pytest.raises(UnsupportedError, match=message):
        generate_engine(graph, "refused")
