"""TFLite model metadata: the ``TFLITE_METADATA`` flatbuffer Android and MediaPipe tooling read.

Written with the ``flatbuffers`` Builder against the public schema ``metadata_schema.fbs`` of
tensorflow/tflite-support (file identifier ``M001``, schema 1.5.0); the field slots below are that
schema's declaration order. The metadata goes into the model as one more Buffer, named in the
model's ``metadata`` vector, and associated files (labels) are appended to the .tflite file as an
uncompressed zip archive, which is how the TFLite metadata populator packs them.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgeq.errors import InputError, UnsupportedError

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
MODEL_IDENTIFIER = b"TFL3"
# Every field written here exists since schema 1.0.0; the populator computes the same value for them
# (newer fields — file versions, subgraph process units, tensor groups, custom metadata — are not used).
MIN_PARSER_VERSION = "1.0.0"
BUFFER_ALIGNMENT = 16  # Buffer.data is ``force_align: 16`` in the TFLite schema

# metadata_schema.fbs field slots, in declaration order; a union field takes two slots (type, value).
_MODEL_METADATA = {"name": 0, "description": 1, "version": 2, "subgraph_metadata": 3, "author": 4,
                   "license": 5, "associated_files": 6, "min_parser_version": 7}  # fmt: skip
_SUBGRAPH_METADATA = {"name": 0, "description": 1, "input_tensor_metadata": 2, "output_tensor_metadata": 3}
_TENSOR_METADATA = {"name": 0, "description": 1, "dimension_names": 2, "content": 3, "process_units": 4,
                    "stats": 5, "associated_files": 6}  # fmt: skip
_CONTENT = {"content_properties_type": 0, "content_properties": 1, "range": 2}
_IMAGE_PROPERTIES = {"color_space": 0, "default_size": 1}
_IMAGE_SIZE = {"width": 0, "height": 1}
_PROCESS_UNIT = {"options_type": 0, "options": 1}
_NORMALIZATION_OPTIONS = {"mean": 0, "std": 1}
_STATS = {"max": 0, "min": 1}
_ASSOCIATED_FILE = {"name": 0, "description": 1, "type": 2, "locale": 3, "version": 4}
# Union members and enums of the same schema.
CONTENT_FEATURE, CONTENT_IMAGE = 1, 2  # ContentProperties: FeatureProperties, ImageProperties
PROCESS_NORMALIZATION = 1  # ProcessUnitOptions: NormalizationOptions
COLOR_SPACES = {"RGB": 1, "GRAYSCALE": 2}  # ColorSpaceType
FILE_TYPES = {"DESCRIPTIONS": 1, "TENSOR_AXIS_LABELS": 2}  # AssociatedFileType

# TFLite schema (schema.fbs) slots of the tables the model side touches.
_MODEL_VERSION_SLOT, _MODEL_BUFFERS_SLOT, _MODEL_METADATA_SLOT = 0, 4, 6
_MODEL_SLOTS = 10  # version, operator_codes, subgraphs, description, buffers, metadata_buffer, metadata,
# signature_defs, external_buffer_groups, external_buffers: all but version are offsets
_METADATA_NAME_SLOT, _METADATA_BUFFER_SLOT = 0, 1
_BUFFER_DATA_SLOT, _BUFFER_OFFSET_SLOT = 0, 1


@dataclass(frozen=True)
class AssociatedFile:
    """A file packed into the model's zip, described in the metadata (name as in the zip)."""

    name: str
    description: str
    type: str = "TENSOR_AXIS_LABELS"

    def __post_init__(self) -> None:
        if self.type not in FILE_TYPES:
            raise ValueError(f"associated file type {self.type!r} is not one of {', '.join(FILE_TYPES)}")


@dataclass(frozen=True)
class ImageProperties:
    color_space: str  # RGB or GRAYSCALE
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.color_space not in COLOR_SPACES:
            raise ValueError(f"color space {self.color_space!r} is not one of {', '.join(COLOR_SPACES)}")


@dataclass(frozen=True)
class TensorMetadata:
    """One input or output tensor: ``image`` None means a feature tensor; ``mean``/``std`` empty
    means no normalization; ``stats_min``/``stats_max`` empty means unknown."""

    name: str
    description: str
    image: ImageProperties | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    stats_min: tuple[float, ...] = ()
    stats_max: tuple[float, ...] = ()
    associated_files: tuple[AssociatedFile, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.mean) != bool(self.std):
            raise ValueError("normalization needs both mean and std")
        if len(self.stats_min) != len(self.stats_max):
            raise ValueError("stats need as many minimums as maximums")


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    description: str
    version: str
    author: str
    license: str
    inputs: tuple[TensorMetadata, ...]
    outputs: tuple[TensorMetadata, ...]
    associated_files: tuple[AssociatedFile, ...] = ()


def build_metadata(metadata: ModelMetadata) -> bytes:
    """The ``ModelMetadata`` flatbuffer (identifier ``M001``) for ``metadata``; deterministic."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    inputs = [_tensor(builder, tensor) for tensor in metadata.inputs]
    outputs = [_tensor(builder, tensor) for tensor in metadata.outputs]
    subgraph_fields = {
        "input_tensor_metadata": _offsets(builder, inputs),
        "output_tensor_metadata": _offsets(builder, outputs),
    }
    subgraph = _table(builder, _SUBGRAPH_METADATA, subgraph_fields)
    model_fields = {
        "name": builder.CreateString(metadata.name),
        "description": builder.CreateString(metadata.description),
        "version": builder.CreateString(metadata.version),
        "subgraph_metadata": _offsets(builder, [subgraph]),
        "author": builder.CreateString(metadata.author),
        "license": builder.CreateString(metadata.license) if metadata.license else None,
        "associated_files": _files(builder, metadata.associated_files),
        "min_parser_version": builder.CreateString(MIN_PARSER_VERSION),
    }
    builder.Finish(_table(builder, _MODEL_METADATA, model_fields), METADATA_IDENTIFIER)
    return bytes(builder.Output())


def _tensor(builder, tensor: TensorMetadata) -> int:
    if tensor.image is not None:
        builder.StartObject(len(_IMAGE_SIZE))
        builder.PrependUint32Slot(_IMAGE_SIZE["width"], tensor.image.width, 0)
        builder.PrependUint32Slot(_IMAGE_SIZE["height"], tensor.image.height, 0)
        size = builder.EndObject()
        builder.StartObject(len(_IMAGE_PROPERTIES))
        builder.PrependInt8Slot(_IMAGE_PROPERTIES["color_space"], COLOR_SPACES[tensor.image.color_space], 0)
        builder.PrependUOffsetTRelativeSlot(_IMAGE_PROPERTIES["default_size"], size, 0)
        properties, kind = builder.EndObject(), CONTENT_IMAGE
    else:
        builder.StartObject(0)  # FeatureProperties has no fields
        properties, kind = builder.EndObject(), CONTENT_FEATURE
    builder.StartObject(len(_CONTENT))
    builder.PrependUint8Slot(_CONTENT["content_properties_type"], kind, 0)
    builder.PrependUOffsetTRelativeSlot(_CONTENT["content_properties"], properties, 0)
    content = builder.EndObject()
    process_units = None
    if tensor.mean:
        normalization = _table(
            builder,
            _NORMALIZATION_OPTIONS,
            {"mean": _floats(builder, tensor.mean), "std": _floats(builder, tensor.std)},
        )
        builder.StartObject(len(_PROCESS_UNIT))
        builder.PrependUint8Slot(_PROCESS_UNIT["options_type"], PROCESS_NORMALIZATION, 0)
        builder.PrependUOffsetTRelativeSlot(_PROCESS_UNIT["options"], normalization, 0)
        process_units = _offsets(builder, [builder.EndObject()])
    stats = None
    if tensor.stats_min:
        stats = _table(
            builder,
            _STATS,
            {"max": _floats(builder, tensor.stats_max), "min": _floats(builder, tensor.stats_min)},
        )
    fields = {
        "name": builder.CreateString(tensor.name),
        "description": builder.CreateString(tensor.description),
        "content": content,
        "process_units": process_units,
        "stats": stats,
        "associated_files": _files(builder, tensor.associated_files),
    }
    return _table(builder, _TENSOR_METADATA, fields)


def _files(builder, files: Sequence[AssociatedFile]) -> int | None:
    if not files:
        return None
    tables = []
    for file in files:
        name, description = builder.CreateString(file.name), builder.CreateString(file.description)
        builder.StartObject(len(_ASSOCIATED_FILE))
        builder.PrependUOffsetTRelativeSlot(_ASSOCIATED_FILE["name"], name, 0)
        builder.PrependUOffsetTRelativeSlot(_ASSOCIATED_FILE["description"], description, 0)
        builder.PrependInt8Slot(_ASSOCIATED_FILE["type"], FILE_TYPES[file.type], 0)
        tables.append(builder.EndObject())
    return _offsets(builder, tables)


def _table(builder, slots: Mapping[str, int], fields: Mapping[str, int | None]) -> int:
    """A table whose fields are all offsets (strings, tables, vectors); None fields are left out."""
    builder.StartObject(len(slots))
    for name, offset in fields.items():
        if offset is not None:
            builder.PrependUOffsetTRelativeSlot(slots[name], offset, 0)
    return builder.EndObject()


def _offsets(builder, offsets: Sequence[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _floats(builder, values: Sequence[float]) -> int:
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        builder.PrependFloat32(value)
    return builder.EndVector()


def embed_metadata(model: bytes, metadata: bytes, files: Mapping[str, bytes]) -> bytes:
    """``model`` with ``metadata`` as its ``TFLITE_METADATA`` buffer and ``files`` zipped after it.

    The original flatbuffer is kept byte for byte: a new root Model table, new ``buffers`` and
    ``metadata`` vectors and the metadata Buffer are written in front of it and point into it
    (flatbuffer offsets only point forward). The prefix is a multiple of 16 bytes, so every
    weight buffer keeps its alignment. An existing ``TFLITE_METADATA`` entry is replaced and its
    zip of associated files dropped. Raises UnsupportedError for models that keep their buffers
    outside the flatbuffer (over 2 GB), whose absolute offsets a prefix would shift.
    """
    import flatbuffers

    root = _ModelTable(model)
    old_buffers = root.offsets(_MODEL_BUFFERS_SLOT)
    for buffer in old_buffers:
        if _Table(model, buffer).scalar(_BUFFER_OFFSET_SLOT, "<Q") > 1:
            raise UnsupportedError(
                "the model keeps its weights after the flatbuffer (a model over 2 GB): "
                "metadata can only be added to models that hold their buffers inside"
            )
    old_entries = root.offsets(_MODEL_METADATA_SLOT)
    replaced = [e for e in old_entries if _Table(model, e).string(_METADATA_NAME_SLOT) == METADATA_NAME]
    if replaced:
        model = _strip_associated_files(model)
    padded = model + bytes(-len(model) % BUFFER_ALIGNMENT)

    builder = flatbuffers.Builder(len(padded) + len(metadata) + 1024)
    # The old model goes in first, as a byte vector at the end of the new buffer: the builder counts
    # positions from the end, so an object at position p of the old model is at offset len - p.
    builder.CreateByteVector(padded)
    end = len(padded)

    builder.StartVector(1, len(metadata), BUFFER_ALIGNMENT)
    for byte in reversed(metadata):
        builder.PrependUint8(byte)
    data = builder.EndVector()
    builder.StartObject(3)
    builder.PrependUOffsetTRelativeSlot(_BUFFER_DATA_SLOT, data, 0)
    metadata_buffer = builder.EndObject()

    buffer_offsets = [end - position for position in old_buffers]
    if replaced:
        buffer_index = _Table(model, replaced[0]).scalar(_METADATA_BUFFER_SLOT, "<I")
        buffer_offsets[buffer_index] = metadata_buffer
    else:
        buffer_index = len(buffer_offsets)
        buffer_offsets.append(metadata_buffer)
    name = builder.CreateString(METADATA_NAME)
    builder.StartObject(2)
    builder.PrependUOffsetTRelativeSlot(_METADATA_NAME_SLOT, name, 0)
    builder.PrependUint32Slot(_METADATA_BUFFER_SLOT, buffer_index, 0)
    entry = builder.EndObject()
    entries = [end - position for position in old_entries if position not in replaced] + [entry]

    buffers_vector = _offsets(builder, buffer_offsets)
    entries_vector = _offsets(builder, entries)
    builder.StartObject(_MODEL_SLOTS)
    builder.PrependUint32Slot(_MODEL_VERSION_SLOT, root.scalar(_MODEL_VERSION_SLOT, "<I"), 0)
    for slot in range(1, _MODEL_SLOTS):
        if slot == _MODEL_BUFFERS_SLOT:
            builder.PrependUOffsetTRelativeSlot(slot, buffers_vector, 0)
        elif slot == _MODEL_METADATA_SLOT:
            builder.PrependUOffsetTRelativeSlot(slot, entries_vector, 0)
        elif (target := root.target(slot)) is not None:
            builder.PrependUOffsetTRelativeSlot(slot, end - target, 0)
    builder.Finish(builder.EndObject(), MODEL_IDENTIFIER)
    flatbuffer = bytes(builder.Output())
    prefix = len(flatbuffer) - len(padded)
    if prefix % BUFFER_ALIGNMENT or flatbuffer[prefix:] != padded:
        raise AssertionError("the new model header does not end on a 16-byte boundary before the old model")
    return _append_zip(flatbuffer, files)


def _append_zip(model: bytes, files: Mapping[str, bytes]) -> bytes:
    """``model`` followed by a zip of ``files``: stored (readers refuse compressed entries), fixed
    timestamps and permissions (same input, same bytes), offsets counted from the file start."""
    if not files:
        return model
    stream = io.BytesIO(model)
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever machine writes it
            archive.writestr(info, files[name])
    return stream.getvalue()


def _strip_associated_files(model: bytes) -> bytes:
    """The model without a zip of associated files appended by an earlier metadata run."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as archive:
            starts = [info.header_offset for info in archive.infolist()]
    except (zipfile.BadZipFile, ValueError):
        return model
    return model[: min(starts)] if starts and min(starts) >= 8 else model


class _Table:
    """A table of a flatbuffer already checked by ``edgeq.tflite.read_tflite``."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position
        vtable = position - struct.unpack_from("<i", data, position)[0]
        size = struct.unpack_from("<H", data, vtable)[0]
        self.slots = [struct.unpack_from("<H", data, vtable + 4 + 2 * i)[0] for i in range((size - 4) // 2)]

    def _field(self, slot: int) -> int | None:
        return self.position + self.slots[slot] if slot < len(self.slots) and self.slots[slot] else None

    def scalar(self, slot: int, fmt: str) -> int:
        where = self._field(slot)
        return struct.unpack_from(fmt, self.data, where)[0] if where is not None else 0

    def target(self, slot: int) -> int | None:
        where = self._field(slot)
        return where + struct.unpack_from("<I", self.data, where)[0] if where is not None else None

    def offsets(self, slot: int) -> list[int]:
        vector = self.target(slot)
        if vector is None:
            return []
        count = struct.unpack_from("<I", self.data, vector)[0]
        items = (vector + 4 + 4 * i for i in range(count))
        return [item + struct.unpack_from("<I", self.data, item)[0] for item in items]

    def string(self, slot: int) -> str | None:
        where = self.target(slot)
        if where is None:
            return None
        length = struct.unpack_from("<I", self.data, where)[0]
        return self.data[where + 4 : where + 4 + length].decode("utf-8", errors="replace")


class _ModelTable(_Table):
    def __init__(self, data: bytes) -> None:
        if data[4:8] != MODEL_IDENTIFIER:
            raise InputError("the model has no TFL3 identifier: it is not a .tflite file")
        super().__init__(data, struct.unpack_from("<I", data, 0)[0])
        if any(self.slots[_MODEL_SLOTS:]):
            raise UnsupportedError(
                "the model uses Model fields newer than this edgeq knows: upgrade edgeq to add metadata"
            )
