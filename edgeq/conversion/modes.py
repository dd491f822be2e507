"""The quantization modes edgeq converts to, and how ``--mode`` / ``--io`` select them.

A *variant* is one output file: a quantization scheme plus the type of its input/output tensors.
Full-integer schemes default to integer I/O (what TensorFlow Lite Micro wants); ``--io float``
keeps float I/O with quantize/dequantize ops inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeq.errors import InputError

SCHEMES = ("float32", "float16", "dynamic", "int8", "int16x8")
INTEGER_SCHEMES = {"int8": "int8", "int16x8": "int16"}
IO_CHOICES = ("auto", "float")


@dataclass(frozen=True)
class Variant:
    """One conversion: ``scheme`` from SCHEMES and the I/O tensor type (float32, int8 or int16)."""

    scheme: str
    io: str

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InputError(f"unknown mode {self.scheme!r}: choose from {', '.join(SCHEMES)}, all")
        allowed = ("float32", INTEGER_SCHEMES.get(self.scheme, "float32"))
        if self.io not in allowed:
            raise InputError(f"mode {self.scheme} cannot have {self.io} input/output")

    @property
    def key(self) -> str:
        """Name used in file names and reports, e.g. ``int8`` or ``int8_float_io``."""
        if self.scheme in INTEGER_SCHEMES and self.io == "float32":
            return f"{self.scheme}_float_io"
        return self.scheme

    @property
    def label(self) -> str:
        if self.scheme in INTEGER_SCHEMES and self.io == "float32":
            return f"{self.scheme} (float I/O)"
        return self.scheme

    @property
    def needs_calibration(self) -> bool:
        return self.scheme in INTEGER_SCHEMES


ALL_VARIANTS = (
    Variant("float32", "float32"),
    Variant("float16", "float32"),
    Variant("dynamic", "float32"),
    Variant("int8", "int8"),
    Variant("int8", "float32"),
    Variant("int16x8", "int16"),
)


def parse_modes(mode: str, io: str = "auto") -> tuple[Variant, ...]:
    """Turn ``--mode`` (a name, a comma-separated list, or ``all``) and ``--io`` into variants.

    Raises InputError for unknown names and for ``--io`` values that do not apply.
    """
    if io not in IO_CHOICES:
        raise InputError(f"unknown --io {io!r}: choose from {', '.join(IO_CHOICES)}")
    names = [name.strip().lower() for name in mode.split(",") if name.strip()]
    if not names:
        raise InputError(f"--mode is empty: choose from {', '.join(SCHEMES)}, all")
    if "all" in names:
        if len(names) > 1 or io != "auto":
            raise InputError(
                "--mode all stands alone and already includes int8 with float I/O: drop the rest"
            )
        return ALL_VARIANTS
    for name in names:
        if name not in SCHEMES:
            raise InputError(f"unknown mode {name!r}: choose from {', '.join(SCHEMES)}, all")
    if io == "float" and not any(name in INTEGER_SCHEMES for name in names):
        raise InputError("--io float applies to int8 and int16x8; float modes always have float I/O")
    variants = [
        Variant(name, "float32" if io == "float" or name not in INTEGER_SCHEMES else INTEGER_SCHEMES[name])
        for name in names
    ]
    return tuple(dict.fromkeys(variants))
