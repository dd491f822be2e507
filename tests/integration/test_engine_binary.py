"""Randomized configurations of int8 ADD and MUL: equal shapes and broadcasting (one or both
operands, ranks 2 to 6), activation or constant operands, fused RELU / RELU6: the generated C
engine against TFLite Micro, byte for byte, on 10 random inputs each."""

from __future__ import annotations

import numpy as np
from engine_cases import Case, calibration_range, check_cases, failures, keras_module

ACTIVATIONS = (None, "relu", "relu6")


def _ones_where(shape: tuple[int, ...], mask: np.ndarray) -> tuple[int, ...]:
    return tuple(1 if m else d for d, m in zip(shape, mask, strict=True))


def _broadcast_shapes(rng: np.random.Generator, shape: tuple[int, ...], both: bool):
    """Two operand shapes (without the batch) that broadcast to ``shape``, at least one differing."""
    rank = len(shape)
    while True:
        first = rng.random(rank) < 0.5
        second = (rng.random(rank) < 0.4) & ~first if both else np.zeros(rank, dtype=bool)
        a, b = _ones_where(shape, first), _ones_where(shape, second)
        if a != shape and (not both or b != shape):
            return a, b


def _branch(keras, x, shape: tuple[int, ...], full: tuple[int, ...], kind: str, activation):
    """A tensor of ``shape`` computed from the model input ``x`` (of shape ``full``)."""
    if shape == full and kind == "identity":
        return x
    if shape == full and kind == "conv" and len(full) == 3:
        return keras.layers.Conv2D(full[-1], 3, padding="same", activation=activation)(x)
    if shape == full and kind == "dense":
        return keras.layers.Dense(full[-1], activation=activation)(x)
    flat = keras.layers.Flatten()(x)
    units = int(np.prod(shape))
    return keras.layers.Reshape(shape)(keras.layers.Dense(units, activation=activation)(flat))


def _fuse(keras, y, activation):
    if activation == "relu":
        return keras.layers.ReLU()(y)
    if activation == "relu6":
        return keras.layers.ReLU(6.0)(y)
    return y


def binary_cases(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    kinds = ("same", "broadcast", "same", "broadcast2", "const", "pool", "const_bcast", "broadcast")
    for number in range(count):
        opcode = ("ADD", "MUL")[number % 2]
        kind = kinds[(number // 2) % len(kinds)]
        rank = 4 if kind == "pool" else int(rng.integers(3 if kind == "broadcast2" else 2, 7))  # with batch
        full = tuple(int(v) for v in rng.integers(1, 6, size=rank - 1))
        while sum(d > 1 for d in full) < (2 if kind == "broadcast2" else 1):  # room to broadcast
            full = tuple(int(v) for v in rng.integers(1, 6, size=rank - 1))
        if kind == "pool":
            full = (int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 6)))
        if kind in ("same", "const"):
            shape1, shape2 = full, full
        elif kind == "const_bcast":
            shape1, shape2 = full, _broadcast_shapes(rng, full, False)[0][int(rng.integers(0, 2)) :]
            if rng.random() < 0.2:
                shape2 = ()  # a scalar constant
        elif kind == "pool":
            shape1, shape2 = full, (1, 1, full[-1])
        else:
            shape1, shape2 = _broadcast_shapes(rng, full, kind == "broadcast2")
        branch1 = str(rng.choice(["identity", "conv", "dense", "dense"]))
        branch2 = str(rng.choice(["conv", "dense"]))
        inner = ACTIVATIONS[int(rng.integers(0, 3))]
        fused = ACTIVATIONS[int(rng.integers(0, 3))]
        swap = bool(rng.random() < 0.5)
        second = shape1 if swap else shape2
        if opcode == "ADD" and kind != "pool" and len(full) == 2 and full[1] > 1 and second == (full[0], 1):
            swap = not swap  # the converter fails on ADD(x of (1, h, w), y of (1, h, 1)), not on ADD(y, x)
        constant = rng.uniform(-2, 2, size=shape2).astype(np.float32)
        if opcode == "ADD" and rng.random() < 0.3:
            constant *= 8  # operand scales far apart
        low, high = calibration_range(rng)

        def build(opcode=opcode, kind=kind, full=full, shape1=shape1, shape2=shape2, branch1=branch1,
                  branch2=branch2, inner=inner, fused=fused, swap=swap, constant=constant):  # fmt: skip
            keras = keras_module()
            x = keras.Input(full, batch_size=1)
            if kind in ("const", "const_bcast"):
                a, b = x, keras.ops.convert_to_tensor(constant)
                pair = (b, a) if swap else (a, b)
                y = pair[0] + pair[1] if opcode == "ADD" else pair[0] * pair[1]
                return keras.Model(x, _fuse(keras, y, fused))
            a = _branch(keras, x, shape1, full, branch1, inner)
            if kind == "pool":
                source = keras.layers.Conv2D(full[-1], 1, activation=inner)(x) if branch2 == "conv" else x
                b = keras.layers.AveragePooling2D(full[:2])(source)
            else:
                b = _branch(keras, x, shape2, full, branch2, inner)
            layer = keras.layers.Add() if opcode == "ADD" else keras.layers.Multiply()
            y = layer([b, a] if swap else [a, b])
            return keras.Model(x, _fuse(keras, y, fused))

        name = f"{opcode.lower()}_{kind}_{number}"
        cases.append(Case(name, build, opcodes=(opcode,), low=low, high=high))
    return cases


BINARY_CASES = binary_cases(64, 20)


def test_binary_ops_equal_tflm_byte_for_byte(tmp_path):
    from conftest import require_tool

    require_tool("gcc")
    outcomes = check_cases(BINARY_CASES, tmp_path)
    assert len(outcomes) == 64
    assert failures(outcomes) == []


def _walk_indices(walk, size: int) -> tuple[list[int], list[int]]:
    """The input offsets the C loop of binary.c.j2 reads, in output order."""
    rank, index = len(walk.shape), [0] * len(walk.shape)
    offset1 = offset2 = 0
    reads1, reads2 = [], []
    for _ in range(size // walk.shape[-1]):
        reads1 += [offset1 + i * walk.steps1[-1] for i in range(walk.shape[-1])]
        reads2 += [offset2 + i * walk.steps2[-1] for i in range(walk.shape[-1])]
        for d in range(rank - 2, -1, -1):
            index[d] += 1
            offset1, offset2 = offset1 + walk.steps1[d], offset2 + walk.steps2[d]
            if index[d] < walk.shape[d]:
                break
            offset1, offset2 = (
                offset1 - walk.steps1[d] * walk.shape[d],
                offset2 - walk.steps2[d] * walk.shape[d],
            )
            index[d] = 0
    return reads1, reads2


def test_broadcast_walk_reads_numpy_broadcast_elements():
    from edgeq.engine.ops.binary import broadcast_walk
    from edgeq.tflite.graph import Operator, Tensor

    def tensor(shape):
        return Tensor(0, "t", tuple(shape), tuple(shape), "int8", 0, None, False)

    rng = np.random.default_rng(3)
    op = Operator(0, "ADD", 1, (0, 1), (2,))
    for _ in range(500):
        rank = int(rng.integers(0, 9))
        out = tuple(int(v) for v in rng.integers(1, 4, size=rank))
        shapes = []
        for _ in range(2):
            shape = tuple(1 if rng.random() < 0.4 else d for d in out)
            shapes.append(shape[int(rng.integers(0, rank + 1)) :])
        out = (1,) * (rank - len(np.broadcast_shapes(*shapes))) + np.broadcast_shapes(*shapes)
        walk = broadcast_walk(op, tensor(shapes[0]), tensor(shapes[1]), tensor(out))
        assert np.prod(walk.shape) == max(int(np.prod(out)), 1) and len(walk.shape) <= 8
        reads = _walk_indices(walk, max(int(np.prod(out)), 1))
        for shape, read in zip(shapes, reads, strict=True):
            expected = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), out).reshape(-1)
            assert read == expected.tolist(), (shape, out, walk)


def test_shapes_that_do_not_broadcast_are_refused():
    import pytest

    from edgeq.engine.ops.binary import broadcast_walk
    from edgeq.errors import UnsupportedError
    from edgeq.tflite.graph import Operator, Tensor

    def tensor(shape):
        return Tensor(0, "t", tuple(shape), tuple(shape), "int8", 0, None, False)

    op = Operator(0, "MUL", 1, (0, 1), (2,))
    for first, second, out in [
        ((2, 3), (3, 3), (3, 3)),
        ((2, 1), (1, 3), (2, 4)),
        ((1,) * 9, (2,), (1,) * 8 + (2,)),
    ]:
        with pytest.raises(UnsupportedError):
            broadcast_walk(op, tensor(first), tensor(second), tensor(out))
