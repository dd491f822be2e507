"""The small pure parts of edgeq export android: Kotlin literals and names, formula texts, and the
metadata embedding's byte layout."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from edgeq.android.classifier import TensorSpec, numbers_text
from edgeq.android.kotlin import class_name, comment_text, kotlin_float, kotlin_floats, kotlin_package
from edgeq.android.metadata import (
    AssociatedFile,
    ModelMetadata,
    TensorMetadata,
    build_metadata,
    embed_metadata,
)
from edgeq.errors import InputError
from edgeq.tflite import read_tflite


def test_kotlin_float_reads_back_as_the_same_float32():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.standard_normal(500) * 10.0 ** rng.integers(-12, 12, 500), [0.0, 1.0, -128.0]]
    )
    for value in values.astype(np.float32):
        literal = kotlin_float(float(value))
        assert literal.endswith("f") and "e+" not in literal and not literal[:-1].endswith(".")
        assert np.float32(literal[:-1]) == value, literal
    assert kotlin_float(0.003921568859368563) == "0.003921569f"
    assert kotlin_float(1e-5) == "1.0e-5f" and kotlin_float(127.5) == "127.5f"
    assert kotlin_floats((0.0, 255.0)) == "floatArrayOf(0.0f, 255.0f)"
    with pytest.raises(InputError, match="cannot write nan"):
        kotlin_float(float("nan"))


def test_kotlin_names():
    assert class_name("digits_cnn") == "DigitsCnn" and class_name("model_1_tiny") == "Model1Tiny"
    assert kotlin_package("com.example.tiny_int8") == "com.example.tiny_int8"
    with pytest.raises(InputError, match="not a package name"):
        kotlin_package("com.example.1tiny")
    with pytest.raises(InputError, match="contains the keyword 'fun'"):
        kotlin_package("com.fun.app")
    assert comment_text("two\nlines */ end") == "two lines * / end"


def test_formula_texts():
    spec = TensorSpec("in", "int8", (1, 8, 8, 1), 0.0039183544, -128)
    assert spec.quantize_text() == "round(x / 0.0039183544) - 128"
    assert spec.dequantize_text() == "0.0039183544 * (q + 128)"
    assert TensorSpec("o", "uint8", (1, 3), 0.5, 5).dequantize_text() == "0.5 * (q - 5)"
    assert TensorSpec("o", "uint8", (1, 3), 0.5, 0).dequantize_text() == "0.5 * q"
    assert spec.text() == "int8 1x8x8x1 (scale 0.0039183544, zero point -128)"
    assert numbers_text((127.5, 127.5, 127.5)) == "127.5" and numbers_text((1.0, 2.5)) == "1,2.5"


def _model_bytes() -> bytes:
    """A minimal TFLite model, built with LiteRT's generated schema (not edgeq's writer)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = [1, 4], schema.TensorType.FLOAT32, 1, "x"
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.inputs, subgraph.outputs, subgraph.operators = [tensor], [0], [0], []
    weights = schema.BufferT()
    weights.data = np.arange(16, dtype=np.uint8)
    model.subgraphs, model.buffers, model.description = [subgraph], [schema.BufferT(), weights], "test"
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def _metadata(labels_name: str) -> bytes:
    output = TensorMetadata("p", "scores", associated_files=(AssociatedFile(labels_name, "labels"),))
    return build_metadata(ModelMetadata("m", "d", "1", "a", "", (TensorMetadata("x", "in"),), (output,)))


def test_embedding_keeps_the_old_model_byte_for_byte_at_a_16_byte_boundary():
    original = _model_bytes()
    embedded = embed_metadata(original, _metadata("l.txt"), {"l.txt": b"a\nb\n"})
    flatbuffer_end = embedded.index(b"PK\x03\x04")
    padded = original + bytes(-len(original) % 16)
    prefix = flatbuffer_end - len(padded)
    assert prefix % 16 == 0 and embedded[prefix:flatbuffer_end] == padded
    graph = read_tflite(embedded)
    assert graph.subgraphs == read_tflite(original).subgraphs and graph.description == "test"
    assert [name for name, _ in graph.metadata] == ["TFLITE_METADATA"]
    with zipfile.ZipFile(io.BytesIO(embedded)) as archive:
        (info,) = archive.infolist()
        assert (info.filename, info.compress_type, info.date_time) == (
            "l.txt",
            zipfile.ZIP_STORED,
            (1980, 1, 1, 0, 0, 0),
        )
        assert (
            info.header_offset == flatbuffer_end
        )  # offsets count from the file start, as the populator's do
    # the metadata data vector starts on a 16-byte boundary of the file (Buffer.data is force_align 16)
    metadata = _metadata("l.txt")
    start = embedded.index(metadata)
    assert start % 16 == 0 and struct.unpack_from("<I", embedded, start - 4)[0] == len(metadata)


def test_embedding_again_replaces_the_metadata_and_its_files():
    first = embed_metadata(_model_bytes(), _metadata("old.txt"), {"old.txt": b"x\n"})
    second = embed_metadata(first, _metadata("new.txt"), {"new.txt": b"y\n"})
    assert [name for name, _ in read_tflite(second).metadata] == ["TFLITE_METADATA"]
    with zipfile.ZipFile(io.BytesIO(second)) as archive:
        assert archive.namelist() == ["new.txt"]
    assert len(read_tflite(second).main.tensors) == 1
