"""A flatbuffer reader that checks every offset it follows against the buffer's bounds.

The generated TFLite schema code trusts its input; edgeq reads untrusted files, so each table,
vtable, vector and string is checked before it is read, and a violation raises
``FlatbufferError`` naming what was wrong and where. Vectors cannot claim more elements than
bytes remain, so a hostile length cannot make the reader loop or allocate without bound.
"""

from __future__ import annotations

import struct


class FlatbufferError(ValueError):
    """The bytes are not a well-formed flatbuffer (the message says where)."""


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

SCALAR_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class Table:
    """A verified table at ``pos``: its vtable and object lie inside the buffer."""

    __slots__ = ("_data", "_object_size", "_vtable", "_vtable_size", "pos", "where")

    def __init__(self, data: bytes, pos: int, where: str) -> None:
        self._data = data
        self.pos = pos
        self.where = where
        size = len(data)
        if pos < 0 or pos + 4 > size:
            raise FlatbufferError(f"{where}: table offset {pos} is outside the {size}-byte buffer")
        vtable = pos - _I32.unpack_from(data, pos)[0]
        if vtable < 0 or vtable + 4 > size:
            raise FlatbufferError(f"{where}: vtable offset {vtable} is outside the buffer")
        vtable_size, object_size = _U16.unpack_from(data, vtable)[0], _U16.unpack_from(data, vtable + 2)[0]
        if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > size:
            raise FlatbufferError(f"{where}: vtable of {vtable_size} bytes does not fit the buffer")
        if object_size < 4 or pos + object_size > size:
            raise FlatbufferError(f"{where}: table of {object_size} bytes does not fit the buffer")
        self._vtable = vtable
        self._vtable_size = vtable_size
        self._object_size = object_size

    def _field(self, slot: int, width: int) -> int:
        """Absolute position of field ``slot`` (0 when absent), checked to lie inside the table."""
        entry = 4 + 2 * slot
        if entry + 2 > self._vtable_size:
            return 0
        offset = _U16.unpack_from(self._data, self._vtable + entry)[0]
        if offset == 0:
            return 0
        if offset + width > self._object_size:
            raise FlatbufferError(f"{self.where}: field {slot} lies outside its table")
        return self.pos + offset

    def has(self, slot: int) -> bool:
        return self._field(slot, 1) != 0

    def scalar(self, slot: int, fmt: str, default: int | float | bool = 0) -> int | float | bool:
        position = self._field(slot, SCALAR_SIZES[fmt])
        if position == 0:
            return default
        return struct.unpack_from("<" + fmt, self._data, position)[0]

    def _target(self, slot: int) -> int:
        position = self._field(slot, 4)
        if position == 0:
            return 0
        target = position + _U32.unpack_from(self._data, position)[0]
        if target >= len(self._data) or target == position:
            raise FlatbufferError(f"{self.where}: field {slot} points outside the buffer")
        return target

    def table(self, slot: int, what: str) -> Table | None:
        target = self._target(slot)
        return Table(self._data, target, f"{self.where}.{what}") if target else None

    def _vector(self, slot: int, item_size: int, what: str) -> tuple[int, int]:
        target = self._target(slot)
        if target == 0:
            return 0, 0
        if target + 4 > len(self._data):
            raise FlatbufferError(f"{self.where}.{what}: vector length lies outside the buffer")
        length = _U32.unpack_from(self._data, target)[0]
        start = target + 4
        if start + length * item_size > len(self._data):
            raise FlatbufferError(
                f"{self.where}.{what}: vector of {length} items runs past the end of the buffer"
            )
        return start, length

    def scalars(self, slot: int, fmt: str, what: str) -> tuple:
        start, length = self._vector(slot, SCALAR_SIZES[fmt], what)
        if length == 0:
            return ()
        return struct.unpack_from(f"<{length}{fmt}", self._data, start)

    def raw_bytes(self, slot: int, what: str) -> bytes | None:
        """A ``[ubyte]`` vector as bytes; None when the field is absent."""
        if not self.has(slot):
            return None
        start, length = self._vector(slot, 1, what)
        return bytes(self._data[start : start + length])

    def string(self, slot: int, what: str) -> str | None:
        raw = self.raw_bytes(slot, what)
        return raw.decode("utf-8", errors="replace") if raw is not None else None

    def tables(self, slot: int, what: str) -> list[Table]:
        start, length = self._vector(slot, 4, what)
        items = []
        for index in range(length):
            position = start + 4 * index
            target = position + _U32.unpack_from(self._data, position)[0]
            items.append(Table(self._data, target, f"{self.where}.{what}[{index}]"))
        return items


def root_table(data: bytes, identifier: bytes | None, where: str) -> Table:
    """The root table of ``data``, after checking the file identifier when one is given."""
    if len(data) < 8:
        raise FlatbufferError(f"{where}: {len(data)} bytes is too short for a flatbuffer")
    if identifier is not None and data[4:8] != identifier:
        raise FlatbufferError(f"{where}: no {identifier.decode()} file identifier")
    return Table(data, _U32.unpack_from(data, 0)[0], where)
