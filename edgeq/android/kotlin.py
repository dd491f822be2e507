"""Small pure functions that turn values into Kotlin and Gradle source text: names and literals."""

from __future__ import annotations

import math
import re

import numpy as np

from edgeq.errors import InputError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: "$" would pass "abc\n"
MAX_PACKAGE = 200  # characters: the package becomes nested folders and an applicationId
# Kotlin's hard keywords (never usable as names) and Java's reserved words (a package segment must be
# a valid Java name too, since the module is also a Java package).
RESERVED_WORDS = frozenset(
    """
    as break class continue do else false for fun if in interface is null object package return super
    this throw true try typealias typeof val var when while abstract assert boolean byte case catch
    char const default double enum extends final finally float goto implements import instanceof int
    long native new private protected public short static strictfp switch synchronized throws
    transient void volatile _
    """.split()  # noqa: SIM905 - a word list reads better than quoted strings
)


def kotlin_float(value: float) -> str:
    """A Float literal that reads back as the same float32: the shortest such digits, then ``f``."""
    if not math.isfinite(value):
        raise InputError(f"cannot write {value} as a Kotlin Float constant")
    single = np.float32(value)
    if single != 0 and not 1e-4 <= abs(single) < 1e7:
        return (
            np.format_float_scientific(single, unique=True, trim="0", exp_digits=1).replace("e+", "e") + "f"
        )
    return np.format_float_positional(single, unique=True, trim="0") + "f"


def kotlin_floats(values: tuple[float, ...] | list[float]) -> str:
    """``floatArrayOf(...)`` of the values."""
    return "floatArrayOf(" + ", ".join(kotlin_float(v) for v in values) + ")"


def class_name(identifier: str) -> str:
    """``digits_cnn`` → ``DigitsCnn``: UpperCamelCase of an identifier's ``_``-separated parts."""
    parts = [part for part in identifier.split("_") if part]
    return "".join(part[:1].upper() + part[1:] for part in parts) or "Model"


def kotlin_package(name: str, option: str = "--package") -> str:
    """``name`` if it is a valid package name (dot-separated identifiers, no keywords); else InputError."""
    if len(name) > MAX_PACKAGE:
        raise InputError(f"{option} is {len(name)} characters long: use at most {MAX_PACKAGE}")
    segments = name.split(".")
    for segment in segments:
        if not _IDENTIFIER.fullmatch(segment) or len(segment) > 63:
            raise InputError(
                f"{option} {name!r} is not a package name: "
                "use dot-separated identifiers such as com.example.digits"
            )
        if segment in RESERVED_WORDS:
            raise InputError(
                f"{option} {name!r} contains the keyword {segment!r}: "
                f"try {name.replace(segment, segment + '_')!r}"
            )
    return name


def comment_text(text: str) -> str:
    """Free text made safe inside a ``/* */`` or ``//`` comment: one line, neither a comment
    terminator nor an opener (Kotlin nests block comments, so ``/*`` would leave one open)."""
    return " ".join(text.split()).replace("*/", "* /").replace("/*", "/ *")
