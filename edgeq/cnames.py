"""Small pure functions that turn values into C source text: identifiers, literals, byte arrays.

Every identifier edgeq emits goes through ``c_identifier``: it must match the C identifier
grammar and must not be a C or C++ keyword or a name reserved to the implementation.
"""

from __future__ import annotations

import math
import re

from edgeq.errors import InputError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: "$" would pass "abc\n"
MAX_IDENTIFIER = 63  # C99's significant length of an external identifier, and well within file names

# C11 keywords, C++17 keywords and alternative tokens, and common macros a bundle must not redefine.
RESERVED_WORDS = frozenset(
    """
    auto break case char const continue default do double else enum extern float for goto if inline
    int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary
    _Noreturn _Static_assert _Thread_local alignas alignof and and_eq asm bitand bitor bool catch
    char16_t char32_t char8_t class compl concept consteval constexpr constinit const_cast co_await
    co_return co_yield decltype delete dynamic_cast explicit export false friend mutable namespace
    new noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast
    requires static_assert static_cast template this thread_local throw true try typeid typename
    using virtual wchar_t xor xor_eq NULL EOF main assert errno setup loop app_main
    """.split()  # noqa: SIM905 - a word list reads better than 120 quoted strings
)


def c_identifier(name: str, option: str = "--name") -> str:
    """Return ``name`` if it is a usable C/C++ identifier; InputError explaining why not otherwise."""
    if not name:
        raise InputError(f"{option} is empty: give a C identifier such as kws")
    if len(name) > MAX_IDENTIFIER:
        raise InputError(f"{option} is {len(name)} characters long: use at most {MAX_IDENTIFIER}")
    if not _IDENTIFIER.fullmatch(name):
        suggestion = suggest_identifier(name)
        raise InputError(
            f"{option} {name!r} is not a C identifier (letters, digits and _, not starting with a digit): "
            f"try {suggestion!r}"
        )
    if name in RESERVED_WORDS or name.upper() in RESERVED_WORDS:
        raise InputError(f"{option} {name!r} is a C/C++ keyword or reserved name: try {name + '_model'!r}")
    if name.startswith("__") or re.match(r"^_[A-Z]", name):
        raise InputError(
            f"{option} {name!r} is reserved to the compiler (leading __ or _X): drop the underscores"
        )
    return name


def suggest_identifier(text: str) -> str:
    """A valid identifier close to ``text``: invalid characters become _, a leading digit gets model_."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_")[:MAX_IDENTIFIER] or "model"
    if name[0].isdigit():
        name = "model_" + name
    if name in RESERVED_WORDS or name.upper() in RESERVED_WORDS:
        name += "_model"
    return name


def c_string(text: str) -> str:
    """A C string literal for ``text``: printable ASCII as is, ``"`` and ``\\`` escaped, every other
    byte of its UTF-8 encoding as a three-digit octal escape (which, unlike ``\\x``, cannot swallow
    the characters after it)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F and char != "?":  # "?" escaped: no trigraphs in C99
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_float(value: float) -> str:
    """A float literal that reads back as the same float32 (9 significant digits)."""
    if not math.isfinite(value):
        raise InputError(f"cannot write {value} as a C float constant")
    text = f"{value:.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def c_bytes(data: bytes, per_line: int = 12, indent: str = "  ") -> str:
    """The bytes as ``0x..`` initialisers, ``per_line`` to a line, for a C array body."""
    lines = []
    for start in range(0, len(data), per_line):
        chunk = data[start : start + per_line]
        lines.append(indent + ", ".join(f"0x{byte:02x}" for byte in chunk) + ",")
    return "\n".join(lines)


def c_floats(values: list[float], per_line: int = 8, indent: str = "  ") -> str:
    """float32 values as a C initialiser body that reads back bit for bit (``c_float``)."""
    lines = []
    for start in range(0, len(values), per_line):
        lines.append(indent + ", ".join(c_float(v) for v in values[start : start + per_line]) + ",")
    return "\n".join(lines)


def c_ints(values: list[int], per_line: int = 16, indent: str = "  ") -> str:
    """Integers as a C initialiser body, ``per_line`` to a line."""
    lines = []
    for start in range(0, len(values), per_line):
        lines.append(indent + ", ".join(str(int(v)) for v in values[start : start + per_line]) + ",")
    return "\n".join(lines)
