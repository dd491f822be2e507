"""Checks of option values shared by the API, the CLI and ``edgeq.toml``, run before any heavy work.

Each raises InputError with one line naming the option, the value and the valid range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgeq.errors import InputError

SEED_LIMIT = 2**32  # numpy's and Keras' seeds are unsigned 32-bit
COUNT_LIMIT = 10_000_000  # samples, runs, epochs: far beyond any real use, far below an overflow
FLOAT32_MAX = 3.4028234663852886e38


def check_seed(value: object, option: str = "--seed") -> int:
    """``value`` if it is a whole number in 0..2**32-1."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise InputError(f"{option} must be a whole number from 0 to {SEED_LIMIT - 1}, got {value!r}")
    return value


def check_count(value: object, option: str, minimum: int = 1, maximum: int = COUNT_LIMIT) -> int:
    """``value`` if it is a whole number in ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InputError(f"{option} must be a whole number from {minimum} to {maximum:,}, got {value!r}")
    return value


def check_optional_count(value: object, option: str, minimum: int = 1) -> int | None:
    return None if value is None else check_count(value, option, minimum)


def check_float32(values: float | Sequence[float] | None, option: str, nonzero: bool = False) -> None:
    """Every value finite and representable as a float32 (it becomes a float32 constant), and not
    zero when ``nonzero`` (a divisor)."""
    if values is None:
        return
    for value in values if isinstance(values, Sequence) else (values,):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{option} takes numbers, got {value!r}")
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
            raise InputError(f"{option} {value!r} is not a finite float32 value (|x| <= 3.4e38)")
        if nonzero and (value == 0 or abs(value) < 1e-30):
            raise InputError(f"{option} {value!r} divides the input: give a value other than 0")


MAX_NESTING = 64  # levels of [ ] and { }: edgeq's own files use fewer than 10


def check_nesting(text: str, where: str) -> None:
    """InputError when ``text`` (JSON or TOML) nests arrays or tables deeper than MAX_NESTING,
    before a recursive parser meets it. Brackets inside strings and ``#`` comments are not counted."""
    depth = deepest = 0
    quote = ""
    escaped = comment = False
    for char in text:
        if comment:
            comment = char != "\n"
        elif quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    raise InputError(
                        f"{where} nests more than {MAX_NESTING} levels deep: not a file edgeq reads"
                    )
        elif char in "]}":
            depth -= 1
